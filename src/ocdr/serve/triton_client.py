"""``ocdr triton-client``: send images to the repository's ``ocdr`` model on a running Triton server."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ocdr.data.images import list_images
from ocdr.errors import ConfigError

__all__ = ["TritonClientSpec", "build_inputs", "triton_client"]


@dataclass
class TritonClientSpec:
    url: str = field(default="localhost:8001", metadata={"help": "Triton gRPC address"})
    model: str = field(default="ocdr", metadata={"help": "the pipeline model's name"})
    input: str = field(default="", metadata={"help": "an image file or a folder of images"})

    def validate(self) -> None:
        if not self.input:
            raise ConfigError("input: give an image file or folder (input=photo.jpg)")


def build_inputs(data: bytes):
    """The request inputs for one encoded image: ``input``, BYTES, shape [1]."""
    from tritonclient.grpc import InferInput  # deferred: tritonclient is an optional extra

    tensor = InferInput("input", [1], "BYTES")
    tensor.set_data_from_numpy(np.array([data], dtype=np.object_))
    return [tensor]


def triton_client(spec: TritonClientSpec) -> dict:
    try:
        import tritonclient.grpc as grpcclient  # deferred: tritonclient is an optional extra
    except ImportError:
        raise ConfigError("the Triton client needs tritonclient: pip install 'tritonclient[grpc]==2.73.0'") from None

    client = grpcclient.InferenceServerClient(url=spec.url)
    pages = {}
    for path in list_images(spec.input):
        result = client.infer(spec.model, build_inputs(Path(path).read_bytes()),
                              outputs=[grpcclient.InferRequestedOutput("json")])
        pages[str(path)] = json.loads(result.as_numpy("json")[0])
    return {"pages": pages}
