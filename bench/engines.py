"""The two ONNX engines on the PP-OCRv4 graphs of the rapidocr wheel: OpenVINO against ONNX Runtime.

Median milliseconds per call (after two warm-up calls) on random inputs of the shapes the pipeline feeds:
the recognizer at batches of 1 and 6 crops 48 x 320 (PaddleOCR's minimum width) and 6 crops 48 x 640, the
detector on one 736 x 1312 photo (PaddleOCR's short side 736 for a 1280 x 720 photo). Both engines get
the same sessions the predictors use (:func:`ocdr.models.runtime.graph_session`), and the largest output
difference between them is reported. For the recognizer, ``openvino_streams_ms`` is the time per call of
the recognizer's own session (compiled for throughput: one stream per core on 2 cores) when as many calls
as it has streams run at once, as the recognizer predictor runs its batches. ``openvino_bf16_ms``: OpenVINO
with ``precision=bf16`` (bfloat16 where the CPU has it; ``bf16_precision`` says what it computed in), and
its largest difference from ONNX Runtime's fp32 outputs.

    .venv/bin/python bench/engines.py --repeat 20
"""
from __future__ import annotations

import argparse
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from common import machine, report, timed  # noqa: E402

from ocdr.models.catalog import ALIASES, wheel_model_path  # noqa: E402
from ocdr.models.runtime import graph_session, precision_of, streams_of  # noqa: E402

CASES = [("ppocr-v4-rec", (1, 3, 48, 320)), ("ppocr-v4-rec", (6, 3, 48, 320)), ("ppocr-v4-rec", (6, 3, 48, 640)),
         ("ppocr-v4-det", (1, 3, 736, 1312))]


def _streams(path, x, repeat: int, expected: np.ndarray) -> dict:
    """Milliseconds per call when as many calls as the throughput session has streams run at once."""
    session = graph_session(path, "openvino", parallel=True)
    n, feed = streams_of(session), {session.get_inputs()[0].name: x}
    with ThreadPoolExecutor(n) as pool:
        run = lambda: list(pool.map(lambda _: session.run(None, feed)[0], range(n)))  # noqa: E731
        got = run()
        ms = 1000 * timed(run, repeat, warmup=2) / n  # median time of n calls at once, per call
    return {"streams": n, "openvino_streams_ms": round(ms, 1),
            "streams_max_abs_diff": float(max(np.abs(g - expected).max() for g in got))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    rows = []
    for alias, shape in CASES:
        path = wheel_model_path(ALIASES[alias][0])
        x = np.random.default_rng(0).uniform(-1, 1, shape).astype(np.float32)
        ms, outputs, sessions = {}, {}, {}
        for name, engine, precision in (("onnxruntime", "onnxruntime", "fp32"), ("openvino", "openvino", "fp32"),
                                        ("bf16", "openvino", "bf16")):
            session = sessions[name] = graph_session(path, engine, precision=precision)
            feed = {session.get_inputs()[0].name: x}
            outputs[name] = session.run(None, feed)[0]
            ms[name] = 1000 * timed(lambda: session.run(None, feed), args.repeat, warmup=2)
        row = {"model": alias, "input": "x".join(map(str, shape)), "onnxruntime_ms": round(ms["onnxruntime"], 1),
               "openvino_ms": round(ms["openvino"], 1), "speed-up": round(ms["onnxruntime"] / ms["openvino"], 2),
               "max_abs_diff": float(np.abs(outputs["onnxruntime"] - outputs["openvino"]).max()),
               "openvino_bf16_ms": round(ms["bf16"], 1),
               "bf16_precision": precision_of(sessions["bf16"]),
               "bf16_max_abs_diff": float(np.abs(outputs["onnxruntime"] - outputs["bf16"]).max())}
        if alias.endswith("-rec"):
            row.update(_streams(path, x, args.repeat, outputs["openvino"]))
        rows.append(row)
    report("engines", rows, {"command": "bench/engines.py " + " ".join(sys.argv[1:]), "machine": machine()})


if __name__ == "__main__":
    main()
