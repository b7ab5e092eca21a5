"""A stand-in for Triton's ``triton_python_backend_utils``: the parts the repository's model.py uses. BLS
requests run the repository's ONNX files with ONNX Runtime; set ``repository`` (the model repository
folder) before the first one. Alone in its folder so that a test can put it, and nothing else, on a path."""
import numpy as np

repository = None
_sessions = {}


class Tensor:
    def __init__(self, name, array):
        self.name, self.array = name, np.asarray(array)

    def as_numpy(self):
        return self.array


class TritonError:
    def __init__(self, msg):
        self.msg = msg

    def message(self):
        return self.msg


class TritonModelException(RuntimeError):
    pass


class InferenceResponse:
    def __init__(self, output_tensors, error=None):
        self.output_tensors, self.err = output_tensors, error

    def has_error(self):
        return self.err is not None

    def error(self):
        return self.err


class InferenceRequest:
    def __init__(self, model_name, requested_output_names, inputs):
        self.model_name, self.names, self.inputs = model_name, requested_output_names, inputs

    def exec(self):
        import onnxruntime as ort

        if self.model_name not in _sessions:
            path = f"{repository}/{self.model_name}/1/model.onnx"
            _sessions[self.model_name] = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        out = _sessions[self.model_name].run(self.names, {t.name: t.array for t in self.inputs})
        return InferenceResponse([Tensor(n, o) for n, o in zip(self.names, out)])


def get_input_tensor_by_name(request, name):
    return next(t for t in request.inputs if t.name == name)


def get_output_tensor_by_name(response, name):
    return next(t for t in response.output_tensors if t.name == name)
