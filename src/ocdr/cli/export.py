"""``ocdr export triton`` and ``ocdr triton-client``: deployment on Triton Inference Server."""
from __future__ import annotations

from ocdr.cli.registry import Command, register
from ocdr.serve.triton import TritonSpec
from ocdr.serve.triton_client import TritonClientSpec

register(Command(
    group="export", name="triton", spec=TritonSpec, run="ocdr.serve.triton:export_triton",
    summary="write a Triton model repository: detector + recognizer ONNX and a Python-backend pipeline model",
    description=("Writes out/ocdr_detector, out/ocdr_recognizer (ONNX Runtime backend, dynamic batching and\n"
                 "shapes) and out/ocdr (Python backend: encoded image bytes in, texts/boxes/scores/json out,\n"
                 "nvOCDR's interface). Checkpoints are exported (parity checked); .onnx files are copied.\n"
                 "ocdr's own code is shipped in out/ocdr/1/ocdr_lib (no package index needed for it); the\n"
                 "third-party packages it imports are pinned in out/ocdr/1/requirements.txt."),
    example="ocdr export triton detector=runs/demo/detector/detector.onnx "
            "recognizer=runs/demo/recognizer/recognizer.onnx out=model_repository",
    output_key=None,
))
register(Command(
    group="", name="triton-client", spec=TritonClientSpec, run="ocdr.serve.triton_client:triton_client",
    summary="send images to a running Triton server's ocdr model and print the pages as JSON",
    description="Sends each image's bytes to the 'ocdr' model (gRPC) and prints what it read.",
    example="ocdr triton-client url=localhost:8001 input=photo.jpg",
    output_key=None,
))
