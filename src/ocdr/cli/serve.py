"""``ocdr serve``: the HTTP service and its web page."""
from __future__ import annotations

from ocdr.cli.registry import Command, register
from ocdr.config.serve import ServeSpec

register(Command(
    group="", name="serve", spec=ServeSpec, run="ocdr.serve.app:serve",
    summary="serve the OCR over HTTP: POST /v1/ocr, a web page at /, /healthz, /docs",
    description=("Loads the detector and recognizer once and answers POST /v1/ocr (multipart field 'file', JSON\n"
                 "{\"image\": base64} or raw image bytes) with words, polygons, confidences and lines. Concurrent\n"
                 "requests are batched; uploads are decoded off the event loop; body size, image format and\n"
                 "pixels, slow clients (read_timeout_s) and waiting time are bounded, each error a JSON\n"
                 "{\"error\", \"status\"}. /docs is served from a pinned package: it works offline."),
    example="ocdr serve detector=runs/demo/detector/detector.onnx recognizer=runs/demo/recognizer/recognizer.onnx port=8000",
    output_key=None,
))
