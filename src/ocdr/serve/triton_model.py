"""Triton Python-backend model ``ocdr``: encoded image bytes in; texts, boxes, scores and the page JSON out.

Written into ``<repository>/ocdr/1/model.py`` by ``ocdr export triton``. Pre-processing, DB post-processing,
rectification, decoding and line grouping are ocdr's own code, shipped beside this file in ``ocdr_lib/``
(the very code that wrote the repository, so no package index is needed and no other ocdr version can
answer); the third-party packages it imports are listed, pinned, in ``requirements.txt``. The detector and
recognizer run as the repository's ONNX models, called through Triton's BLS so that their dynamic batching
applies across requests.
"""
import json
import os
import sys

import numpy as np
import triton_python_backend_utils as pb_utils

HERE = os.path.dirname(os.path.abspath(__file__))
LIB = os.path.join(HERE, "ocdr_lib")
# First on the path: Triton appends this folder to sys.path after site-packages, where an installed ocdr of
# another version would otherwise win.
if LIB not in sys.path:
    sys.path.insert(0, LIB)


class _Meta:
    def __init__(self, mapping):
        self.custom_metadata_map = mapping


class BlsSession:
    """What ocdr's ONNX Runtime predictors need of a session (``run``, ``get_modelmeta``), served by Triton."""

    def __init__(self, model_name, output_names, metadata=None):
        self.model_name, self.output_names, self.metadata = model_name, list(output_names), metadata or {}

    def get_modelmeta(self):
        return _Meta(self.metadata)

    def run(self, names, feeds):
        names = list(names) if names else self.output_names
        request = pb_utils.InferenceRequest(
            model_name=self.model_name, requested_output_names=names,
            inputs=[pb_utils.Tensor(k, np.ascontiguousarray(v)) for k, v in feeds.items()])
        response = request.exec()
        if response.has_error():
            raise pb_utils.TritonModelException(response.error().message())
        return [pb_utils.get_output_tensor_by_name(response, n).as_numpy() for n in names]


def _quad(polygon):
    """A word's four corners for ``boxes`` (N x 4 x 2): the polygon itself when it is a quadrilateral, else
    (``postprocess.polygon=true``) its minimum-area rectangle; ``json`` keeps the full polygon."""
    import cv2  # inside Triton, as ocdr itself (which imports it anyway)

    from ocdr.data.polygon import order_quad

    points = np.asarray(polygon, np.float32)
    if points.shape == (4, 2):
        return points
    return order_quad(cv2.boxPoints(cv2.minAreaRect(points)))


class TritonPythonModel:
    def initialize(self, args):
        try:
            from ocdr.pipeline.ocr import OCR  # inside Triton: loaded when the server initializes the model
        except ImportError as exc:  # a third-party package missing from the container: say which, and where
            raise pb_utils.TritonModelException(
                f"the ocdr model cannot import {exc.name or exc}: install {os.path.join(HERE, 'requirements.txt')} "
                "into Triton's Python (see the README, Triton section)") from None
        with open(os.path.join(HERE, "ocdr_meta.json"), encoding="utf-8") as fh:
            meta = json.load(fh)
        det = BlsSession(meta["detector_model"], ["prob"], meta.get("detector_metadata"))
        rec = BlsSession(meta["recognizer_model"], ["output_id", "output_prob"], meta["recognizer_metadata"])
        self.ocr = OCR(det, rec, backend="onnxruntime", postprocess=meta["postprocess"],
                       det_settings=meta.get("det_settings"), rec_settings=meta.get("rec_settings"),
                       min_confidence=meta.get("min_confidence"),
                       upside_down=bool(meta.get("upside_down", False)), tiled=bool(meta.get("tiled", False)),
                       batch_size=meta.get("rec_batch_size"))

    def execute(self, requests):
        from ocdr.errors import OcdrError  # inside Triton, as above
        from ocdr.pipeline.ocr import to_image  # inside Triton, as above

        responses = []
        for request in requests:
            try:
                data = pb_utils.get_input_tensor_by_name(request, "input").as_numpy().reshape(-1)[0]
                page = self.ocr(to_image(bytes(data)))
            except (OcdrError, ValueError, IndexError) as exc:
                responses.append(pb_utils.InferenceResponse(output_tensors=[], error=pb_utils.TritonError(str(exc))))
                continue
            boxes = np.array([_quad(w.polygon) for w in page.words], np.float32).reshape(-1, 4, 2)
            outputs = [
                pb_utils.Tensor("output", np.array([w.text.encode("utf-8") for w in page.words], dtype=np.object_)),
                pb_utils.Tensor("boxes", boxes),
                pb_utils.Tensor("scores", np.array([w.confidence for w in page.words], np.float32)),
                pb_utils.Tensor("json", np.array([json.dumps(page.to_dict(), ensure_ascii=False).encode("utf-8")],
                                                 dtype=np.object_)),
            ]
            responses.append(pb_utils.InferenceResponse(output_tensors=outputs))
        return responses

    def finalize(self):
        self.ocr = None
