"""The two ONNX engines behind one session interface: OpenVINO gives ONNX Runtime's outputs and metadata,
is safe across threads, and ``auto`` falls back to ONNX Runtime for a graph OpenVINO cannot load."""
import logging
import os
import threading

import numpy as np
import pytest
import torch

from ocdr.data.charset import Charset
from ocdr.errors import ConfigError, DataError
from ocdr.export.onnx_export import export_detector, export_recognizer, recognizer_parity
from ocdr.models import runtime
from ocdr.models.registry import build_model
from ocdr.models.runtime import engine_of, graph_session, precision_of, streams_of


@pytest.fixture(autouse=True)
def _fresh_sessions():
    runtime.clear_sessions()
    yield
    runtime.clear_sessions()


def _recognizer(tmp_path):
    torch.manual_seed(0)
    charset = Charset(list("abc "))
    model = build_model("crnn_small", num_classes=charset.num_classes_ctc, width=4, hidden_size=16).eval()
    geometry = {"height": 32, "width": 100, "channels": 1, "keep_aspect_ratio": False, "prediction": "CTC"}
    return model, export_recognizer(model, tmp_path / "rec.onnx", charset, geometry)


@pytest.mark.parametrize("dcn,opset", [(False, 17), (True, 17)])
def test_openvino_reads_a_detector_as_onnxruntime_does(tmp_path, dcn, opset):
    torch.manual_seed(0)
    model = build_model("dbnet_tiny", dcn=dcn).eval()
    path = export_detector(model, tmp_path / "det.onnx", opset=opset, sample_hw=(64, 96))
    ov, ort = graph_session(path, "openvino"), graph_session(path, "onnxruntime")
    assert (engine_of(ov), engine_of(ort)) == ("openvino", "onnxruntime")
    name = ort.get_inputs()[0].name
    assert ov.get_inputs()[0].name == name
    rng = np.random.default_rng(0)
    for shape in [(1, 3, 64, 96), (2, 3, 96, 64), (1, 3, 128, 160)]:  # the graph's axes stay dynamic
        x = rng.standard_normal(shape).astype(np.float32)
        a, b = ov.run(None, {name: x})[0], ort.run(None, {name: x})[0]
        assert a.shape == b.shape and np.abs(a - b).max() < 1e-4, shape


def test_openvino_reads_a_recognizer_its_outputs_by_name_and_its_metadata(tmp_path):
    model, path = _recognizer(tmp_path)
    ov, ort = graph_session(path, "openvino"), graph_session(path, "onnxruntime")
    assert ov.get_modelmeta().custom_metadata_map == ort.get_modelmeta().custom_metadata_map
    assert ov.get_modelmeta().custom_metadata_map["character"] == "a\nb\nc\n "
    images = np.random.default_rng(3).uniform(-1, 1, (5, 1, 32, 100)).astype(np.float32)
    diff, same = recognizer_parity(model, ov, images)
    assert diff < 1e-4 and same
    ids, probs = ov.run(["output_id", "output_prob"], {"images": images})
    ort_ids, ort_probs = ort.run(["output_id", "output_prob"], {"images": images})
    assert (ids == ort_ids).all() and np.abs(probs - ort_probs).max() < 1e-4
    with pytest.raises(ConfigError, match="no output named 'logits'.*output_id"):
        ov.run(["logits"], {"images": images})


def test_openvino_sessions_are_safe_across_threads(tmp_path):
    _, path = _recognizer(tmp_path)
    session = graph_session(path, "openvino")
    inputs = [np.random.default_rng(k).uniform(-1, 1, (2, 1, 32, 100)).astype(np.float32) for k in range(4)]
    expected = [session.run(["output_prob"], {"images": x})[0] for x in inputs]
    got, errors = {}, []

    def work(k):
        try:
            for _ in range(5):
                got[k] = session.run(["output_prob"], {"images": inputs[k]})[0]
                assert np.array_equal(got[k], expected[k])
        except Exception as exc:  # noqa: BLE001 - reported below, with the thread's index
            errors.append((k, exc))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert 1 <= len(session._idle) <= 4  # at most one request per concurrent call, all given back


def test_calls_from_threads_one_after_another_share_one_request(tmp_path):
    _, path = _recognizer(tmp_path)
    session = graph_session(path, "openvino")
    x = np.zeros((1, 1, 32, 100), np.float32)
    for _ in range(3):
        t = threading.Thread(target=session.run, args=(None, {"images": x}))
        t.start()
        t.join()
    assert len(session._idle) == 1


def test_sessions_are_made_once_per_engine_and_file(tmp_path):
    _, path = _recognizer(tmp_path)
    assert graph_session(path, "openvino") is graph_session(path, "openvino")
    assert graph_session(path, "openvino") is not graph_session(path, "onnxruntime")


def test_auto_prefers_openvino_on_a_cpu_and_falls_back_to_onnxruntime(tmp_path, monkeypatch, caplog):
    _, path = _recognizer(tmp_path)
    monkeypatch.setattr(runtime, "_ort_has_cuda", lambda: False)
    assert engine_of(graph_session(path, "auto")) == "openvino"
    runtime.clear_sessions()

    def cannot(source, threads, parallel, precision):
        raise RuntimeError("unsupported operation Foo\nmore detail")

    monkeypatch.setitem(runtime._CREATE, "openvino", cannot)
    with caplog.at_level(logging.WARNING, logger="ocdr.models.runtime"):
        assert engine_of(graph_session(path, "auto")) == "onnxruntime"
    assert "OpenVINO cannot load this model: unsupported operation Foo; using ONNX Runtime" in caplog.text
    with pytest.raises(DataError, match="rec.onnx.*OpenVINO cannot load this model: unsupported operation Foo"):
        graph_session(path, "openvino")  # asked for by name: no fallback


def test_auto_keeps_onnxruntime_when_it_has_cuda_and_openvino_must_be_installed(tmp_path, monkeypatch):
    _, path = _recognizer(tmp_path)
    monkeypatch.setattr(runtime, "_ort_has_cuda", lambda: True)
    assert engine_of(graph_session(path, "auto")) == "onnxruntime"
    monkeypatch.setattr(runtime, "openvino_available", lambda: False)
    with pytest.raises(ConfigError, match="backend=openvino needs the openvino package"):
        graph_session(path, "openvino")
    monkeypatch.setattr(runtime, "_ort_has_cuda", lambda: False)
    assert engine_of(graph_session(path, "auto")) == "onnxruntime"
    with pytest.raises(ConfigError, match="'tensorrt' is not one of auto, onnxruntime, openvino"):
        graph_session(path, "tensorrt")


def test_predictors_report_the_engine_they_run_on(tmp_path):
    from ocdr.pipeline.recognizer import RecognizerPredictor

    _, path = _recognizer(tmp_path)
    crops = [np.full((32, 60, 3), 200, np.uint8), np.full((20, 90, 3), 30, np.uint8)]
    ov, ort = RecognizerPredictor(str(path), backend="openvino"), RecognizerPredictor(str(path), backend="onnxruntime")
    assert (ov.backend, ort.backend) == ("openvino", "onnxruntime")
    # backend=torch (say, for the other model of an OCR) still runs a .onnx file, on an ONNX engine
    assert RecognizerPredictor(str(path), backend="torch").backend in runtime.ENGINES
    a, b = ov(crops), ort(crops)
    assert [text for text, _ in a] == [text for text, _ in b]
    assert np.allclose([conf for _, conf in a], [conf for _, conf in b], atol=1e-4)


def test_a_parallel_openvino_session_has_streams_and_is_its_own_session(tmp_path):
    _, path = _recognizer(tmp_path)
    latency, parallel = graph_session(path, "openvino"), graph_session(path, "openvino", threads=2, parallel=True)
    assert parallel is not latency and parallel is graph_session(path, "openvino", threads=2, parallel=True)
    assert streams_of(latency) == 1
    assert streams_of(parallel) == min(2, os.cpu_count())  # on two cores, two streams of one thread each
    # ONNX Runtime runs one call at a time: parallel changes nothing there
    assert graph_session(path, "onnxruntime", parallel=True) is graph_session(path, "onnxruntime")
    assert streams_of(graph_session(path, "onnxruntime")) == 1
    x = np.random.default_rng(1).uniform(-1, 1, (3, 1, 32, 100)).astype(np.float32)
    assert np.array_equal(parallel.run(None, {"images": x})[1], latency.run(None, {"images": x})[1])


def test_a_recognizer_with_streams_gives_each_a_batch_and_reads_as_with_one(tmp_path):
    from ocdr.pipeline.recognizer import RecognizerPredictor

    _, path = _recognizer(tmp_path)
    rng = np.random.default_rng(2)
    crops = [rng.integers(0, 255, (32, w, 3), np.uint8) for w in (40, 60, 80, 100, 120, 140, 160)]
    serial = RecognizerPredictor(str(path), backend="onnxruntime", batch_size=6)
    assert serial.streams == 1 and [len(g) for g in serial.batches(crops)] == [6, 1]
    ov = RecognizerPredictor(str(path), backend="openvino", batch_size=6)
    assert ov.streams == streams_of(ov._run.session) >= 1
    ov.streams = 2  # as on a 2-core CPU; the pool below runs two batches at once
    from concurrent.futures import ThreadPoolExecutor

    ov._pool = ThreadPoolExecutor(2)
    assert [len(g) for g in ov.batches(crops)] == [4, 3]  # 7 crops over 2 streams, not 6 + 1
    assert [len(g) for g in ov.batches(crops[:1])] == [1]
    a, b = ov(crops), serial(crops)
    assert [t for t, _ in a] == [t for t, _ in b]
    assert np.allclose([c for _, c in a], [c for _, c in b], atol=1e-4)


def test_bf16_is_an_openvino_session_of_its_own_close_to_fp32(tmp_path, monkeypatch):
    _, path = _recognizer(tmp_path)
    fp32, bf16 = graph_session(path, "openvino"), graph_session(path, "auto", precision="bf16")
    assert engine_of(bf16) == "openvino" and bf16 is graph_session(path, "openvino", precision="bf16")
    assert (bf16 is fp32) == (not runtime._cpu_has_bf16())  # a CPU without bf16 shares the fp32 session
    assert precision_of(fp32) == "fp32" and precision_of(graph_session(path, "onnxruntime")) == "fp32"
    x = np.random.default_rng(4).uniform(-1, 1, (4, 1, 32, 100)).astype(np.float32)
    a, b = fp32.run(["output_prob"], {"images": x})[0], bf16.run(["output_prob"], {"images": x})[0]
    # bf16 keeps 8 bits of mantissa: close, not equal, where the CPU computes in it
    assert np.abs(a - b).max() < 0.05
    assert precision_of(bf16) == ("bf16" if runtime._cpu_has_bf16() else "fp32")
    assert (np.abs(a - b).max() > 0) == (precision_of(bf16) == "bf16")
    with pytest.raises(ConfigError, match="precision=bf16 runs on OpenVINO only"):
        graph_session(path, "onnxruntime", precision="bf16")
    with pytest.raises(ConfigError, match="precision: an engine computes in fp32 or bf16, not 'fp16'"):
        graph_session(path, "openvino", precision="fp16")
    with pytest.raises(ConfigError, match="not 'auto'"):  # the predictors resolve it
        graph_session(path, "openvino", precision="auto")
    monkeypatch.setattr(runtime, "openvino_available", lambda: False)
    with pytest.raises(ConfigError, match="precision=bf16 runs on OpenVINO only"):
        graph_session(path, "auto", precision="bf16")


def test_bf16_on_a_cpu_without_it_computes_in_fp32_with_a_warning(tmp_path, monkeypatch, caplog):
    _, path = _recognizer(tmp_path)
    monkeypatch.setattr(runtime, "_cpu_has_bf16", lambda: False)
    with caplog.at_level(logging.WARNING, logger="ocdr.models.runtime"):
        session = graph_session(path, "openvino", precision="bf16")
    assert precision_of(session) == "fp32"
    assert "precision=bf16: this CPU has no bf16 instructions; OpenVINO computes in fp32" in caplog.text
    assert session is graph_session(path, "openvino")  # the fp32 session, not a second copy of it


def test_predictors_pass_the_precision_and_say_what_they_got(tmp_path, tiny_models, caplog):
    from ocdr.pipeline.detector import DetectorPredictor
    from ocdr.pipeline.recognizer import RecognizerPredictor

    _, path = _recognizer(tmp_path)
    rec = RecognizerPredictor(str(path), precision="bf16")
    assert rec._run.session is graph_session(path, "openvino", parallel=True, precision="bf16")
    assert rec.precision == ("bf16" if runtime._cpu_has_bf16() else "fp32")
    assert RecognizerPredictor(str(path), precision="fp32").precision == "fp32"
    assert RecognizerPredictor(str(path)).precision == ("bf16-checked" if runtime.bf16_available() else "fp32")
    ckpt = str(tiny_models / "det.pth")
    with caplog.at_level(logging.WARNING, logger="ocdr.models.runtime"):
        on_torch = DetectorPredictor(ckpt, precision="bf16", device="cpu")
    assert on_torch.backend == "torch" and on_torch.precision == "fp32"
    assert "det.pth runs on PyTorch, in fp32: precision=bf16 applies to models on an ONNX engine" in caplog.text
    assert DetectorPredictor(str(tiny_models / "det.onnx")).precision == "fp32"  # auto: fp32 for a detector
    with pytest.raises(ConfigError, match="precision: 'int8' is not one of auto, fp32, bf16, bf16-checked"):
        DetectorPredictor(ckpt, precision="int8")


@pytest.mark.skipif(not os.path.exists("/proc/self"), reason="alternate signal stacks are checked on Linux")
def test_a_thread_that_compiles_on_openvino_keeps_a_roomy_signal_stack(tmp_path):
    pytest.importorskip("openvino")
    path = _recognizer(tmp_path)[1]
    seen = {}

    def compile_here():  # a fresh thread: OpenVINO gives the compiling thread its small stack once
        seen["before"] = runtime.signal_stack()
        graph_session(path, "openvino")
        seen["after"] = runtime.signal_stack()
        seen["again"] = runtime.roomy_signal_stack()

    worker = threading.Thread(target=compile_here)
    worker.start()
    worker.join()
    assert seen["before"] == (2, 0)  # SS_DISABLE: a new thread has none
    flags, size = seen["after"]
    # OpenVINO leaves about 20 KB, which a signal overflowed (runtime.roomy_signal_stack says how)
    assert flags == 0 and size == runtime.SIGNAL_STACK_BYTES
    assert seen["again"] is False  # already roomy: left as it is
