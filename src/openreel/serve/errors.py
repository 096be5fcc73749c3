"""HTTP errors in OpenAI's envelope: `{"error": {"message", "type", "param", "code"}}`.

Every 4xx and 5xx the server sends has this shape, FastAPI's own validation errors and unknown
routes included, and every rejection of a request names the field (`param`) and the limit.
"""

from __future__ import annotations

# HTTP status -> OpenAI error type
TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
         404: "invalid_request_error", 405: "invalid_request_error", 409: "invalid_request_error",
         413: "invalid_request_error", 415: "invalid_request_error", 422: "invalid_request_error",
         429: "rate_limit_error"}


class ApiError(Exception):
    def __init__(self, status: int, message: str, *, param: str | None = None, code: str | None = None,
                 type: str | None = None, headers: dict[str, str] | None = None):
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.type = type or TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
        self.headers = headers or {}
        super().__init__(message)

    def body(self) -> dict:
        return envelope(self.message, self.type, self.param, self.code)


def envelope(message: str, type: str, param: str | None = None, code: str | None = None) -> dict:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def not_found(video_id: str) -> ApiError:
    # The same answer whether the video never existed, was deleted, or belongs to another key.
    return ApiError(404, f"no video with id {video_id!r}", param="video_id", code="video_not_found")
