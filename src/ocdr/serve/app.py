"""``ocdr serve``: the OCR pipeline behind HTTP (FastAPI), with a web page at ``/``.

- ``POST /v1/ocr``: a multipart upload (field ``file``) or JSON ``{"image": "<base64>"}`` -> the page as
  ``ocdr.OCR`` gives it (words with polygon, text, confidence; lines; text) plus timing.
- ``GET /healthz``: liveness and what is loaded. ``GET /openapi.json`` and ``/docs`` (served offline): the schema.
- Models load once, at start-up. Requests are batched: they queue, and a single worker takes up to
  ``max_batch`` of them (waiting at most ``batch_wait_ms`` for company) into one pipeline call, run in a
  thread; uploads are decoded in a pool of ``decode_workers`` threads. The event loop never blocks on either.
- Limits: request body size (413), time to send it (408), image format (415) and pixels (413), per-request
  timeout (504). Every error, FastAPI's own 404/405/422 included, is ``{"error": ..., "status": ...}``;
  anything that is not a complete image is a 4xx naming the upload, never a 500. No client-named path is read.
"""
from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path

import numpy as np
from fastapi import Request  # at module level: the endpoints' annotations are resolved from these globals
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ocdr.config.serve import ServeSpec
from ocdr.pipeline.ocr import build_ocr
from ocdr.serve.docs import add_offline_docs
from ocdr.serve.upload import HTTPProblem, read_body, read_limited_image, upload_bytes

__all__ = ["create_app", "Batcher", "read_limited_image", "problem", "serve"]
log = logging.getLogger("ocdr.serve")

PAGE = Path(__file__).with_name("page.html")
OCR_REQUEST_BODY = {"requestBody": {"content": {
    "multipart/form-data": {"schema": {"type": "object", "properties": {
        "file": {"type": "string", "format": "binary"}}, "required": ["file"]}},
    "application/json": {"schema": {"type": "object", "properties": {
        "image": {"type": "string", "format": "byte"}}, "required": ["image"]}}}}}


def problem(status: int, message: str, close: bool = False, headers: dict | None = None) -> JSONResponse:
    """The one error body of the service: ``{"error": message, "status": status}``."""
    headers = dict(headers or {})
    if close:
        headers["connection"] = "close"
    return JSONResponse({"error": message, "status": status}, status_code=status, headers=headers or None)


class Batcher:
    """Collects requests into batches for one worker thread running ``fn(list_of_images) -> list``."""

    def __init__(self, fn, max_batch: int, wait_s: float):
        self.fn, self.max_batch, self.wait_s = fn, max_batch, wait_s
        self.queue: asyncio.Queue | None = None
        self.task: asyncio.Task | None = None
        self.batches: list[int] = []  # sizes of the batches run (for tests and /healthz)

    def start(self) -> None:
        self.queue = asyncio.Queue()
        self.task = asyncio.get_running_loop().create_task(self._worker())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except asyncio.CancelledError:
                pass

    async def submit(self, image: np.ndarray):
        fut = asyncio.get_running_loop().create_future()
        await self.queue.put((image, fut))
        return await fut

    async def _worker(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            items = [await self.queue.get()]
            deadline = loop.time() + self.wait_s
            while len(items) < self.max_batch:
                timeout = deadline - loop.time()
                if timeout <= 0:
                    break
                try:
                    items.append(await asyncio.wait_for(self.queue.get(), timeout))
                except asyncio.TimeoutError:
                    break
            live = [(im, f) for im, f in items if not f.done()]  # timed-out requests are not computed
            if not live:
                continue
            self.batches.append(len(live))
            try:
                results = await asyncio.to_thread(self.fn, [im for im, _ in live])
            except Exception as exc:  # the model failed: every request of the batch learns why
                log.exception("pipeline failed on a batch of %d", len(live))
                for _, f in live:
                    if not f.done():
                        f.set_exception(exc)
                continue
            for (_, f), r in zip(live, results):
                if not f.done():
                    f.set_result(r)


def _add_error_handlers(app: FastAPI) -> None:
    """Every error in the one shape, FastAPI's and Starlette's own included (they would answer
    ``{"detail": ...}``, or plain text for a 500)."""

    @app.exception_handler(HTTPProblem)
    async def _problem(request, exc: HTTPProblem):
        return problem(exc.status, exc.message, exc.close)

    @app.exception_handler(StarletteHTTPException)  # unknown route 404, wrong method 405, bad multipart 400
    async def _http(request, exc: StarletteHTTPException):
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code in (404, 405):
            message = f"{message}: {request.method} {request.url.path[:200]}"
        return problem(exc.status_code, message, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return problem(422, f"invalid request: {where}: {first.get('msg', 'does not match the schema')}")

    @app.exception_handler(Exception)
    async def _unexpected(request, exc: Exception):
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem(500, f"internal error ({type(exc).__name__}); the server log has the details")


def create_app(spec: ServeSpec, ocr=None):
    """The FastAPI application. ``ocr``: a ready ``ocdr.OCR`` (tests); by default built from ``spec``."""

    if ocr is None:
        ocr = build_ocr(spec)
    batcher = Batcher(lambda images: ocr(list(images)), spec.max_batch, spec.batch_wait_ms / 1000)
    models = {"detector": str(getattr(spec, "detector")), "recognizer": str(getattr(spec, "recognizer")),
              "backend": {role: getattr(getattr(ocr, role, None), "backend", spec.backend)
                          for role in ("detector", "recognizer")},
              "precision": {role: getattr(getattr(ocr, role, None), "precision", spec.precision)
                            for role in ("detector", "recognizer")}}

    @asynccontextmanager
    async def lifespan(app):
        app.state.decoder = ThreadPoolExecutor(spec.decode_workers, thread_name_prefix="ocdr-decode")
        batcher.start()
        yield
        await batcher.stop()
        app.state.decoder.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(title="ocdr", version="1", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="OCR: text detection, rectification and recognition. POST an image to /v1/ocr.")
    app.state.batcher = batcher
    _add_error_handlers(app)
    add_offline_docs(app, "ocdr")
    _add_routes(app, spec, batcher, models)
    return app


def _add_routes(app: FastAPI, spec: ServeSpec, batcher: Batcher, models: dict) -> None:
    max_bytes = int(spec.max_upload_mb * 1024 * 1024)

    async def off_loop(fn, *args):
        """Decoding a 25 MP upload takes about a second of CPU: on the event loop it would stall every other
        connection, /healthz included, for that long."""
        return await asyncio.get_running_loop().run_in_executor(app.state.decoder, fn, *args)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page():
        return HTMLResponse(PAGE.read_text(encoding="utf-8"))

    @app.get("/healthz")
    async def healthz():
        return {"status": "ok", "models": models, "batches_run": len(batcher.batches)}

    @app.post("/v1/ocr", summary="read the text of one image", openapi_extra=OCR_REQUEST_BODY)
    async def read_text(request: Request):
        t0 = time.perf_counter()
        body = await read_body(request, max_bytes, spec.read_timeout_s)
        data, name = await upload_bytes(request, body, off_loop)
        image = await off_loop(read_limited_image, data, spec.max_pixels, name)
        try:
            page = await asyncio.wait_for(batcher.submit(image), spec.timeout_s)  # cancelled: never computed
        except asyncio.TimeoutError:
            return problem(504, f"no answer within {spec.timeout_s} s")
        except Exception as exc:  # noqa: BLE001 - reported to the client as a JSON error
            return problem(500, f"the pipeline failed: {type(exc).__name__}: {exc}")
        return {**page.to_dict(), "seconds": round(time.perf_counter() - t0, 4)}


def serve(spec: ServeSpec) -> None:
    import uvicorn  # deferred: only `ocdr serve` itself starts a server

    from ocdr.serve.server import server_config  # deferred with it

    app = create_app(spec)
    log.info("serving on http://%s:%d (page at /, API at /v1/ocr, schema at /docs)", spec.host, spec.port)
    uvicorn.Server(server_config(app, spec)).run()
