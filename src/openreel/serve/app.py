"""The HTTP API: OpenAI's Videos API shape over the job queue, plus the web page at `/`.

    POST   /v1/videos                  create (JSON or multipart; Idempotency-Key honoured)
    GET    /v1/videos                  list the key's videos (after, limit, order)
    GET    /v1/videos/{id}             status, progress, settings, generation record
    GET    /v1/videos/{id}/content     ?variant=video|thumbnail|spritesheet
    DELETE /v1/videos/{id}             cancel (queued or running) or delete, files included
    GET    /v1/models, /v1/models/{id}
    GET    /health                     no key needed; no per-key data

Requests are checked here, before queueing, with the same `Generator.resolve` the workers run
(see `model_facts`), so mistakes are immediate 4xx answers naming the field and the limit. The
process never loads a model: `WorkerPool` runs generation in separate processes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from openreel.errors import InvalidInput, PolicyViolation
from openreel.serve.config import ServeConfig
from openreel.serve.errors import ApiError, envelope, not_found
from openreel.serve.keys import KeyStore
from openreel.serve.model_facts import ServedModel
from openreel.serve.queue import IdempotencyConflict, Job, NewJob, SQLiteQueue, TooManyActive, UnknownCursor
from openreel.serve.ratelimit import RateLimiter
from openreel.serve.schemas import (
    CreateVideoRequest,
    ModelInfo,
    ModelList,
    ModelObject,
    VideoDeleted,
    VideoList,
    VideoObject,
    api_field,
    describe_error,
    parse_create,
    to_generation_fields,
)
from openreel.serve.storage import VARIANTS, VideoStore, valid_id
from openreel.serve.uploads import Upload, check_image, read_body
from openreel.serve.worker import sweep_scratch

log = logging.getLogger("openreel.serve")
WEB_DIR = Path(__file__).parent / "web"
OPEN_OWNER = "local"  # owner of every video in --open mode
ACTIVE_RETRY_AFTER_S = 5
POLL_HEADER = "openai-poll-after-ms"
PAGE_HEADERS = {  # the page loads nothing from elsewhere; videos play from blob: URLs
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
                               "object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def effective_limits(config: ServeConfig):
    """`Limits` from the environment (OPENREEL_MAX_*), overridden by the config's."""
    from openreel.request import Limits

    return Limits(**(Limits.from_env().model_dump() | config.limits))


@dataclass
class Context:
    """What the routes share: one server's settings, model facts, queue, keys, files and limits."""

    config: ServeConfig
    model: ServedModel
    queue: SQLiteQueue
    keys: KeyStore
    store: VideoStore
    limits: object  # openreel.request.Limits
    limiter: RateLimiter


def create_app(config: ServeConfig, model: ServedModel, *, queue: SQLiteQueue | None = None,
               keys: KeyStore | None = None, pool=None) -> FastAPI:
    """The FastAPI app. `pool` (a WorkerPool) is started and stopped with the app when given."""
    ctx = Context(config, model, queue or SQLiteQueue(config.db_path), keys or KeyStore(config.db_path),
                  VideoStore(config.data_dir), effective_limits(config), RateLimiter(config.requests_per_minute))
    app = FastAPI(title="OpenReel", version=_version(), lifespan=_lifespan(ctx, pool),
                  description="OpenAI-style Videos API for OpenReel text-to-video models.")
    app.state.ctx = ctx
    _install_error_handlers(app)
    owner = _owner_dependency(ctx)
    _add_video_routes(app, ctx, owner)
    _add_model_routes(app, ctx, owner)
    _add_verify_route(app, ctx, owner)
    _add_page_routes(app)
    _document_create_schema(app)
    return app


def _lifespan(ctx: Context, pool):
    @asynccontextmanager
    async def lifespan(app):
        await run_in_threadpool(_sweep, ctx.queue, ctx.store)
        if ctx.config.open:
            log.warning("=" * 72 + "\n  OPEN MODE: no API keys. Anyone who can reach %s:%d can generate, list\n"
                        "  and delete videos. Use only for a local demo.\n" + "=" * 72, ctx.config.host,
                        ctx.config.port)
        if pool is not None:
            pool.start()
        try:
            yield
        finally:
            if pool is not None:
                await run_in_threadpool(pool.stop)

    return lifespan


def _owner_dependency(ctx: Context):
    bearer = HTTPBearer(auto_error=False, description="an API key from `openreel keys create`")
    per_minute = ctx.config.requests_per_minute

    def owner(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> str:
        """The caller's owner id (its key id, or `local` in open mode), after the rate limit."""
        if ctx.config.open:
            who = OPEN_OWNER
        else:
            if credentials is None or credentials.scheme.lower() != "bearer":
                raise ApiError(401, "no API key: send 'Authorization: Bearer <key>' (make one with `openreel keys "
                                    "create`)", code="missing_api_key")
            key = ctx.keys.authenticate(credentials.credentials.strip())
            if key is None:
                raise ApiError(401, "the API key is not valid (unknown or revoked)", code="invalid_api_key")
            who = key.id
        wait = ctx.limiter.take(who)
        if wait is not None:
            raise ApiError(429, f"rate limit: {per_minute} requests per minute per key; retry in {math.ceil(wait)} s",
                           code="rate_limit_exceeded", headers={"Retry-After": RateLimiter.retry_after_header(wait)})
        return who

    return owner


def _add_video_routes(app: FastAPI, ctx: Context, owner) -> None:
    """/v1/videos: create, list, retrieve, delete, download."""
    config, model, queue, store = ctx.config, ctx.model, ctx.queue, ctx.store

    def video_response(job: Job, **headers: str) -> JSONResponse:
        return JSONResponse(video_object(job), headers={POLL_HEADER: str(config.poll_after_ms), **headers})

    @app.post("/v1/videos", response_model=VideoObject, tags=["videos"], openapi_extra=_create_body_doc(),
              summary="Create a video (queued; poll it or use the SDK's create_and_poll)")
    async def create_video(request: Request, who: str = Depends(owner)):
        idempotency_key = _idempotency_key(request)
        body = await read_body(request, config.max_upload_bytes)
        upload = _take_upload(body)
        create = parse_create(body.fields)
        if create.model is not None and create.model not in model.aliases:
            raise ApiError(400, f"model: {create.model!r} is not served here; this server serves {model.id!r}",
                           param="model", code="model_not_found")
        settings = _resolve(model, create, ctx.limits)
        if upload is not None:
            await run_in_threadpool(check_image, upload, config.max_upload_pixels)
            if not model.supports_image:
                raise ApiError(400, f"input_reference: {model.id} does not do image-to-video yet; send a prompt only",
                               param="input_reference", code="unsupported_parameter")
        job = NewJob(owner=who, model=model.id, params=create.model_dump(exclude_none=True),
                     settings=settings.model_dump(), max_attempts=config.max_attempts,
                     idempotency_key=idempotency_key, request_hash=_request_hash(create, upload))
        try:
            job, created = await run_in_threadpool(queue.submit, job, max_active=config.max_active_jobs)
        except IdempotencyConflict as exc:
            raise ApiError(409, f"Idempotency-Key: {exc.reason}", param="Idempotency-Key",
                           code="idempotency_key_reused") from None
        except TooManyActive as exc:
            raise ApiError(429, f"{exc}: wait for one to finish", code="too_many_active_jobs",
                           headers={"Retry-After": str(ACTIVE_RETRY_AFTER_S)}) from None
        return video_response(job, **({} if created else {"Idempotent-Replayed": "true"}))

    @app.get("/v1/videos", response_model=VideoList, tags=["videos"], summary="List this key's videos")
    def list_videos(after: str | None = Query(None, description="id of the last video of the previous page"),
                    limit: int = Query(20, ge=1, le=100), order: Literal["asc", "desc"] = "desc",
                    who: str = Depends(owner)):
        try:
            jobs, has_more = queue.list(who, after=after, limit=limit, order=order)
        except UnknownCursor:
            raise ApiError(400, f"after: no video with id {after!r}", param="after", code="invalid_cursor") from None
        data = [video_object(j) for j in jobs]
        return {"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None, "has_more": has_more}

    @app.get("/v1/videos/{video_id}", response_model=VideoObject, tags=["videos"], summary="A video's status")
    def get_video(video_id: str, who: str = Depends(owner)):
        return video_response(_owned(queue, video_id, who))

    @app.delete("/v1/videos/{video_id}", response_model=VideoDeleted, tags=["videos"],
                summary="Delete a video; a queued or running one is cancelled")
    def delete_video(video_id: str, who: str = Depends(owner)):
        job = queue.delete(video_id, who) if valid_id(video_id) else None
        if job is None:
            raise not_found(video_id)
        store.remove(job.id)  # a running worker's publish is refused from now on (see SQLiteQueue.complete)
        return {"id": job.id, "object": "video.deleted", "deleted": True}

    @app.get("/v1/videos/{video_id}/content", tags=["videos"], response_class=FileResponse,
             summary="Download the MP4, its thumbnail (PNG) or a sprite sheet of frames (PNG)")
    def video_content(video_id: str, variant: Literal["video", "thumbnail", "spritesheet"] = "video",
                      who: str = Depends(owner)):
        job = _owned(queue, video_id, who)
        if job.status != "completed":
            raise ApiError(409, f"video {video_id} is {job.status}; its content is available once it is completed",
                           param="video_id", code="video_not_ready")
        path = store.file(job.id, variant)
        if not path.is_file():
            raise ApiError(404, f"video {video_id} has no {variant} file", param="variant", code="content_not_found")
        name, media_type = VARIANTS[variant]
        return FileResponse(path, media_type=media_type, filename=f"{job.id}{Path(name).suffix}",
                            content_disposition_type="inline", headers={"Cache-Control": "private, max-age=86400"})


def _add_model_routes(app: FastAPI, ctx: Context, owner) -> None:
    """/v1/models and /health: what is served, and whether it is up."""
    config, model, queue = ctx.config, ctx.model, ctx.queue

    def model_object() -> dict:
        info = ModelInfo(source=model.source, spec_name=model.spec_name, defaults=model.defaults.model_dump(),
                         size_multiple=model.spatial_multiple, frame_stride=model.temporal_stride, sizes=model.sizes(),
                         limits=ctx.limits.model_dump() | {"max_upload_bytes": config.max_upload_bytes,
                                                           "max_upload_pixels": config.max_upload_pixels},
                         supports_input_reference=model.supports_image)
        return ModelObject(id=model.id, created=model.created, openreel=info).model_dump()

    @app.get("/v1/models", response_model=ModelList, tags=["models"], summary="The served model")
    def list_models(who: str = Depends(owner)):
        return {"object": "list", "data": [model_object()]}

    @app.get("/v1/models/{model_id}", response_model=ModelObject, tags=["models"])
    def get_model(model_id: str, who: str = Depends(owner)):
        if model_id not in model.aliases:
            raise ApiError(404, f"model: {model_id!r} is not served here", param="model", code="model_not_found")
        return model_object()

    @app.get("/health", tags=["server"], summary="Liveness, workers and queue depth (no key needed)")
    def health():
        workers = queue.live_workers(model.id, within_s=max(30.0, 3 * config.lease_s))
        counts = queue.counts()
        return {"status": "ok", "model": model.id, "auth": "open" if config.open else "api_key",
                "workers": {"configured": config.workers, "alive": len(workers),
                            "ready": sum(w["state"] in ("ready", "busy") for w in workers)},
                "queue": {"queued": counts["queued"], "in_progress": counts["in_progress"]}}


MAX_VERIFY_BYTES = 256 * 2**20


def _add_verify_route(app: FastAPI, ctx: Context, owner) -> None:
    """POST /v1/verify: the same check as `openreel verify`, on an uploaded file (the raw body)."""

    @app.post("/v1/verify", tags=["provenance"], summary="Check a video's C2PA manifest and invisible watermark",
              openapi_extra={"requestBody": {"required": True, "content": {
                  "video/mp4": {"schema": {"type": "string", "format": "binary"}},
                  "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}})
    async def verify(request: Request, who: str = Depends(owner)):
        from openreel.serve.uploads import read_raw

        data = await read_raw(request, MAX_VERIFY_BYTES, "body")
        if not data:
            raise ApiError(400, "body: send the video file as the request body", param="body", code="empty_body")
        report = await run_in_threadpool(_verify_bytes, ctx.config.data_dir, data)
        # Generation records are private to the key that made the video: say whether one exists, not what it is.
        result = report.model_dump(exclude={"record", "path"}) | {"record_found": report.record is not None,
                                                                   "object": "verification"}
        return JSONResponse(result)


def _verify_bytes(data_dir: Path, data: bytes):
    import tempfile

    from openreel.provenance.verify import verify_file

    scratch = data_dir / "scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=scratch, suffix=".mp4") as f:  # inside the data directory only
        f.write(data)
        f.flush()
        return verify_file(f.name)


def _add_page_routes(app: FastAPI) -> None:
    index_html = (WEB_DIR / "index.html").read_text(encoding="utf-8")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index():
        return HTMLResponse(index_html, headers=PAGE_HEADERS)

    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")


def video_object(job: Job) -> dict:
    """A job as OpenAI's video object, with OpenReel's `settings` and `record`."""
    s = job.settings
    error = dict(job.error) if job.error else None
    return {
        "id": job.id, "object": "video", "model": job.model, "status": job.status,
        "progress": 100 if job.status == "completed" else job.progress,
        "created_at": int(job.created_at),
        "completed_at": int(job.completed_at) if job.completed_at else None,
        "expires_at": None,
        "seconds": f"{(s['frames'] - 1) / s['fps']:g}",  # the inverse of frames = seconds x fps + 1
        "size": f"{s['width']}x{s['height']}",
        "prompt": job.params.get("prompt", s["prompt"]),
        "error": error,
        "remixed_from_video_id": None,
        "settings": s,
        "record": job.record,
    }


def _owned(queue: SQLiteQueue, video_id: str, who: str) -> Job:
    job = queue.get(video_id, who) if valid_id(video_id) else None
    if job is None:
        raise not_found(video_id)
    return job


def _resolve(model: ServedModel, create: CreateVideoRequest, limits):
    """Resolved `Settings`, or `InvalidInput` (its field in the API's names) for the error handler."""
    from openreel.request import parse_request

    return model.resolve(parse_request(**to_generation_fields(create)), limits)


def _take_upload(body) -> Upload | None:
    if "input_reference" in body.fields:
        raise ApiError(400, "input_reference: upload the image as a multipart file (image URLs and file ids are "
                            "not fetched)", param="input_reference", code="unsupported_parameter")
    upload = body.files.pop("input_reference", None)
    for name in body.files:
        raise ApiError(400, f"{name}: is not a file field (only input_reference takes a file)", param=name,
                       code="unknown_parameter")
    return upload


def _idempotency_key(request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    if not 1 <= len(key) <= 255 or not key.isprintable():
        raise ApiError(400, "Idempotency-Key: must be 1 to 255 printable characters", param="Idempotency-Key",
                       code="invalid_value")
    return key


def _request_hash(create: CreateVideoRequest, upload: Upload | None) -> str:
    canonical = json.dumps(create.model_dump(exclude_none=True), sort_keys=True, ensure_ascii=False)
    digest = hashlib.sha256(canonical.encode())
    if upload is not None:
        digest.update(hashlib.sha256(upload.data).digest())
    return digest.hexdigest()


def _sweep(queue: SQLiteQueue, store: VideoStore) -> None:
    """At startup: remove files of deleted videos and scratch folders of attempts that are over."""
    for job_id in queue.deleted_ids(store.stored_ids()):
        store.remove(job_id)
    sweep_scratch(queue, store)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request, exc: ApiError):
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(InvalidInput)
    async def invalid_input(request, exc: InvalidInput):
        param = api_field(exc.field)
        if isinstance(exc, PolicyViolation):
            return JSONResponse(envelope(f"{param}: {exc.message}", "policy_violation", param, exc.category), 400)
        return JSONResponse(envelope(f"{param}: {exc.message}", "invalid_request_error", param, "invalid_value"), 400)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request, exc: RequestValidationError):
        field, message = describe_error(exc.errors()[0])
        return JSONResponse(envelope(f"{field}: {message}", "invalid_request_error", field, "invalid_value"), 400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request, exc: StarletteHTTPException):
        if exc.status_code == 404:
            message = f"no route {request.method} {request.url.path}"
        else:
            message = str(exc.detail)
        err = ApiError(exc.status_code, message, code="not_found" if exc.status_code == 404 else None)
        return JSONResponse(err.body(), status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def server_error(request, exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(envelope("internal server error", "server_error", None, "internal_error"), 500)


def _create_body_doc() -> dict:
    ref = {"$ref": "#/components/schemas/CreateVideoRequest"}
    multipart = {"allOf": [ref, {"type": "object", "properties": {
        "input_reference": {"type": "string", "format": "binary",
                            "description": "PNG, JPEG or WebP; image-to-video (when the model supports it)"}}}]}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": ref},
                                                          "multipart/form-data": {"schema": multipart}}},
            "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                            "schema": {"type": "string", "maxLength": 255},
                            "description": "a retried POST with the same key and body returns the same video"}]}


def _document_create_schema(app) -> None:
    """Add CreateVideoRequest to the OpenAPI components (the route reads its body by hand)."""
    from fastapi.openapi.utils import get_openapi

    def openapi():
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            schema.setdefault("components", {}).setdefault("schemas", {})["CreateVideoRequest"] = (
                CreateVideoRequest.model_json_schema(ref_template="#/components/schemas/{model}"))
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi


def _version() -> str:
    from openreel import __version__

    return __version__

