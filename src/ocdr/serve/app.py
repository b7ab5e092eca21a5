"""``ocdr serve``: the OCR pipeline behind HTTP (FastAPI), with a web page at ``/``.

- ``POST /v1/ocr``: a multipart upload (field ``file``) or JSON ``{"image": "<base64>"}`` -> the page as
  ``ocdr.OCR`` gives it (words with polygon, text, confidence; lines; text) plus timing.
- ``GET /healthz``: liveness and what is loaded. ``GET /openapi.json`` and ``/docs``: the schema.
- Models load once, at start-up. Requests are batched: they queue, and a single worker takes up to
  ``max_batch`` of them (waiting at most ``batch_wait_ms`` for company) into one pipeline call, run in a
  thread so the event loop never blocks.
- Limits: request body size (413), image pixels (413), per-request timeout (504). Anything that is not a
  complete image gets a 4xx JSON error naming the problem, never a 500. No client-named path is ever read.
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import io
import json
import logging
import time
from contextlib import asynccontextmanager
from pathlib import Path

import numpy as np
from fastapi import Request  # at module level: the endpoints' annotations are resolved from these globals
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse
from PIL import Image, UnidentifiedImageError
from starlette.datastructures import UploadFile
from starlette.requests import Request as StarletteRequest

from ocdr.config.serve import ServeSpec
from ocdr.data.images import decode_image
from ocdr.errors import OcdrError
from ocdr.pipeline.ocr import build_ocr

__all__ = ["create_app", "Batcher", "read_limited_image", "serve"]
log = logging.getLogger("ocdr.serve")

PAGE = Path(__file__).with_name("page.html")


class HTTPProblem(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def read_limited_image(data: bytes, max_pixels: int) -> np.ndarray:
    """Encoded bytes -> RGB array; the pixel count is checked from the header, before decoding."""

    if not data:
        raise HTTPProblem(400, "empty image")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            w, h = probe.size
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise HTTPProblem(415, f"not an image this service reads (PNG, JPEG, BMP, TIFF, WebP): {exc}") from None
    if w * h > max_pixels:
        raise HTTPProblem(413, f"image of {w}x{h} = {w * h} pixels exceeds the limit of {max_pixels}")
    try:
        return decode_image(data, "upload")
    except (OcdrError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise HTTPProblem(400, f"the image could not be decoded (truncated or corrupt?): {exc}") from None


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


def create_app(spec: ServeSpec, ocr=None):
    """The FastAPI application. ``ocr``: a ready ``ocdr.OCR`` (tests); by default built from ``spec``."""

    if ocr is None:

        ocr = build_ocr(spec)
    batcher = Batcher(lambda images: ocr(list(images)), spec.max_batch, spec.batch_wait_ms / 1000)
    max_bytes = int(spec.max_upload_mb * 1024 * 1024)
    models = {"detector": str(getattr(spec, "detector")), "recognizer": str(getattr(spec, "recognizer")),
              "backend": {role: getattr(getattr(ocr, role, None), "backend", spec.backend)
                          for role in ("detector", "recognizer")}}

    @asynccontextmanager
    async def lifespan(app):
        batcher.start()
        yield
        await batcher.stop()

    app = FastAPI(title="ocdr", version="1", lifespan=lifespan,
                  description="OCR: text detection, rectification and recognition. POST an image to /v1/ocr.")
    app.state.batcher = batcher

    def problem(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message, "status": status}, status_code=status)

    async def body_limited(request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            raise HTTPProblem(413, f"request body of {declared} bytes exceeds the limit of {max_bytes}")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_bytes:
                raise HTTPProblem(413, f"request body exceeds the limit of {max_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    async def image_bytes(request: Request) -> bytes:
        body = await body_limited(request)
        ctype = request.headers.get("content-type", "")
        if ctype.startswith("multipart/form-data"):

            async def replay():
                return {"type": "http.request", "body": body, "more_body": False}

            form = await StarletteRequest(request.scope, replay).form(max_files=1, max_fields=4)
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise HTTPProblem(400, "multipart request without a 'file' field")
            return await upload.read()
        if ctype.startswith("application/json"):

            try:
                payload = json.loads(body)
                data = payload["image"]
                return base64.b64decode(data, validate=True)
            except (ValueError, KeyError, TypeError, binascii.Error):
                raise HTTPProblem(400, "JSON body must be {\"image\": \"<base64 of an encoded image>\"}") from None
        if ctype.startswith("image/") or ctype == "application/octet-stream":
            return body
        raise HTTPProblem(415, f"unsupported content type '{ctype}': send multipart/form-data (field 'file'), "
                               "application/json ({\"image\": base64}) or the image bytes")

    @app.exception_handler(HTTPProblem)
    async def _problem(request, exc: HTTPProblem):
        return problem(exc.status, exc.message)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page():
        return HTMLResponse(PAGE.read_text(encoding="utf-8"))

    @app.get("/healthz")
    async def healthz():
        return {"status": "ok", "models": models, "batches_run": len(batcher.batches)}

    @app.post("/v1/ocr", summary="read the text of one image",
              openapi_extra={"requestBody": {"content": {
                  "multipart/form-data": {"schema": {"type": "object", "properties": {
                      "file": {"type": "string", "format": "binary"}}, "required": ["file"]}},
                  "application/json": {"schema": {"type": "object", "properties": {
                      "image": {"type": "string", "format": "byte"}}, "required": ["image"]}}}}})
    async def read_text(request: Request):
        t0 = time.perf_counter()
        image = read_limited_image(await image_bytes(request), spec.max_pixels)
        try:
            page = await asyncio.wait_for(batcher.submit(image), spec.timeout_s)  # cancelled: never computed
        except asyncio.TimeoutError:
            return problem(504, f"no answer within {spec.timeout_s} s")
        except Exception as exc:  # noqa: BLE001 - reported to the client as a JSON error
            return problem(500, f"the pipeline failed: {type(exc).__name__}: {exc}")
        return {**page.to_dict(), "seconds": round(time.perf_counter() - t0, 4)}

    return app


def serve(spec: ServeSpec) -> None:
    import uvicorn  # deferred: only `ocdr serve` itself starts a server

    app = create_app(spec)
    log.info("serving on http://%s:%d (page at /, API at /v1/ocr, schema at /docs)", spec.host, spec.port)
    uvicorn.run(app, host=spec.host, port=spec.port, log_level="info", timeout_keep_alive=5)
