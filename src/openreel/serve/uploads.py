"""Request bodies read with hard caps, and uploaded images checked before anything decodes them.

`POST /v1/videos` takes JSON, `multipart/form-data` (what the `openai` SDK sends) or a URL-encoded
form. The body is streamed through a byte cap: nothing is spooled to disk (no temporary files
outside the data directory) and an oversized upload is refused as soon as it crosses the limit.
An image is accepted only as PNG, JPEG or WebP, by its bytes, not its claimed type, and its
dimensions are checked against a pixel cap from the header before the pixels are decoded.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from openreel.serve.errors import ApiError

MAX_FIELD_BYTES = 64 * 1024  # one text field (prompts are far shorter)
MAX_JSON_BYTES = 256 * 1024
MAX_PARTS = 32
IMAGE_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
FILE_FIELDS = {"input_reference"}


@dataclass
class Upload:
    field: str
    filename: str
    content_type: str
    data: bytes


@dataclass
class Body:
    fields: dict[str, object] = field(default_factory=dict)
    files: dict[str, Upload] = field(default_factory=dict)


def size_text(n: int) -> str:
    return f"{n / 2**20:g} MiB" if n >= 2**20 else f"{n} bytes"


async def read_body(request, max_upload_bytes: int) -> Body:
    """Parse a create request's body by its Content-Type, within the caps."""
    from python_multipart.multipart import parse_options_header

    ctype, options = parse_options_header(request.headers.get("content-type", ""))
    ctype = ctype.decode("latin-1").lower()
    if ctype == "application/json":
        raw = await _read_capped(request, MAX_JSON_BYTES, "body")
        try:
            fields = json.loads(raw or b"null")
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(400, f"body: not valid JSON ({exc})", param="body", code="invalid_json") from None
        if not isinstance(fields, dict):
            raise ApiError(400, "body: must be a JSON object", param="body", code="invalid_json")
        return Body(fields=fields)
    if ctype == "multipart/form-data":
        boundary = options.get(b"boundary")
        if not boundary:
            raise ApiError(400, "Content-Type: multipart/form-data needs a boundary", param="Content-Type")
        return await _read_multipart(request, boundary, max_upload_bytes)
    if ctype == "application/x-www-form-urlencoded":
        raw = await _read_capped(request, MAX_JSON_BYTES, "body")
        return Body(fields=dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)))
    raise ApiError(415, f"Content-Type: {ctype or 'none'} is not accepted; send application/json or "
                        "multipart/form-data", param="Content-Type", code="unsupported_media_type")


async def read_raw(request, cap: int, param: str) -> bytes:
    """The whole body (a file sent as-is), refused as soon as it crosses `cap` bytes."""
    return await _read_capped(request, cap, param)


async def _read_capped(request, cap: int, param: str) -> bytes:
    _check_declared_length(request, cap, param)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise ApiError(413, f"{param}: the request body is over the limit of {cap} bytes", param=param,
                           code="request_too_large")
        chunks.append(chunk)
    return b"".join(chunks)


def _check_declared_length(request, cap: int, param: str) -> None:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > cap:
        raise ApiError(413, f"{param}: the request body is {int(declared)} bytes; the limit is {cap} bytes",
                       param=param, code="request_too_large")


async def _read_multipart(request, boundary: bytes, max_upload_bytes: int) -> Body:
    collector = _MultipartCollector(boundary, max_upload_bytes)
    _check_declared_length(request, max_upload_bytes + MAX_JSON_BYTES, "input_reference")
    async for chunk in request.stream():
        collector.write(chunk)
    return collector.finish()


class _MultipartCollector:
    """python-multipart's streaming parser, keeping fields and files in memory under per-part caps."""

    def __init__(self, boundary: bytes, max_upload_bytes: int):
        from python_multipart.multipart import MultipartParser

        self.max_upload = max_upload_bytes
        self.body = Body()
        self.parts = 0
        self.parser = MultipartParser(boundary, callbacks={
            "on_part_begin": self._begin, "on_header_field": self._header_field,
            "on_header_value": self._header_value, "on_header_end": self._header_end,
            "on_headers_finished": self._headers_done, "on_part_data": self._data, "on_part_end": self._end})

    def write(self, chunk: bytes) -> None:
        try:
            self.parser.write(chunk)
        except ApiError:
            raise
        except Exception as exc:  # python-multipart's MultipartParseError and friends
            raise ApiError(400, f"body: malformed multipart data ({exc})", param="body",
                           code="invalid_multipart") from None

    def finish(self) -> Body:
        try:
            self.parser.finalize()
        except Exception as exc:
            raise ApiError(400, f"body: malformed multipart data ({exc})", param="body",
                           code="invalid_multipart") from None
        return self.body

    def _begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise ApiError(400, f"body: more than {MAX_PARTS} form parts", param="body", code="too_many_parts")
        self.headers: dict[str, str] = {}
        self.hname, self.hvalue = b"", b""
        self.buf = bytearray()
        self.name, self.filename, self.ctype = "", None, ""

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self.hname += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self.hvalue += data[start:end]

    def _header_end(self) -> None:
        self.headers[self.hname.decode("latin-1").lower()] = self.hvalue.decode("latin-1")
        self.hname, self.hvalue = b"", b""

    def _headers_done(self) -> None:
        from python_multipart.multipart import parse_options_header

        _, opts = parse_options_header(self.headers.get("content-disposition", ""))
        self.name = opts.get(b"name", b"").decode("utf-8", "replace")
        filename = opts.get(b"filename")
        self.filename = filename.decode("utf-8", "replace") if filename is not None else None
        self.ctype = self.headers.get("content-type", "")

    def _data(self, data: bytes, start: int, end: int) -> None:
        is_file = self.filename is not None or self.name in FILE_FIELDS
        cap = self.max_upload if is_file else MAX_FIELD_BYTES
        if len(self.buf) + (end - start) > cap:
            limit = size_text(cap)
            raise ApiError(413, f"{self.name}: the upload is over the limit of {limit}", param=self.name,
                           code="upload_too_large" if is_file else "field_too_large")
        self.buf += data[start:end]

    def _end(self) -> None:
        if not self.name:
            raise ApiError(400, "body: a form part has no name", param="body", code="invalid_multipart")
        if self.filename is not None or self.name in FILE_FIELDS:
            self.body.files[self.name] = Upload(self.name, self.filename or "", self.ctype, bytes(self.buf))
        else:
            try:
                self.body.fields[self.name] = self.buf.decode("utf-8")
            except UnicodeDecodeError:
                raise ApiError(400, f"{self.name}: is not UTF-8 text", param=self.name, code="invalid_value") from None


@dataclass
class CheckedImage:
    format: str  # PNG, JPEG or WEBP
    width: int
    height: int


def check_image(upload: Upload, max_pixels: int) -> CheckedImage:
    """Identify and fully decode an uploaded image, refusing other types and oversized dimensions first."""
    from PIL import Image, UnidentifiedImageError

    param, allowed = upload.field, ", ".join(IMAGE_FORMATS)
    if not upload.data:
        raise ApiError(400, f"{param}: the upload is empty", param=param, code="invalid_image")
    try:
        with Image.open(io.BytesIO(upload.data), formats=list(IMAGE_FORMATS)) as img:  # reads the header only
            width, height = img.size
            if width * height > max_pixels:
                raise ApiError(400, f"{param}: the image is {width}x{height} = {width * height} pixels; the limit is "
                                    f"{max_pixels} pixels", param=param, code="image_too_large")
            fmt = img.format
            img.load()  # decode now, inside the try: a truncated or corrupt file is the client's error
    except ApiError:
        raise
    except UnidentifiedImageError:
        raise ApiError(415, f"{param}: not a {allowed} image (judged by its bytes, not its name or type)",
                       param=param, code="invalid_image") from None
    except Image.DecompressionBombError:
        raise ApiError(400, f"{param}: the image has too many pixels; the limit is {max_pixels} pixels",
                       param=param, code="image_too_large") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise ApiError(400, f"{param}: the image could not be decoded ({exc})", param=param,
                       code="invalid_image") from None
    return CheckedImage(fmt, width, height)
