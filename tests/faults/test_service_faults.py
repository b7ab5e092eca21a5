"""Bad requests to ``ocdr serve``: each is a 4xx (or a closed connection) whose body is ``{"error", "status"}``
naming what is wrong, never a 500, and none of them holds up the other clients. The models are a stand-in
(these tests are about the service); the slow-client cases run a real uvicorn server on a local socket.
Each test is one row of the fault table (case | command | outcome)."""
import io
import json
import socket
import threading
import time
from contextlib import contextmanager

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi")
import uvicorn  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from ocdr.config import load_spec  # noqa: E402
from ocdr.config.serve import ServeSpec  # noqa: E402
from ocdr.serve import upload  # noqa: E402
from ocdr.serve.app import create_app  # noqa: E402
from ocdr.serve.server import server_config  # noqa: E402


class _Page:
    def __init__(self, h, w):
        self.h, self.w = h, w

    def to_dict(self):
        return {"width": self.w, "height": self.h, "words": [], "lines": [], "text": ""}


class _FakeOCR:
    def __call__(self, images):
        return [_Page(*im.shape[:2]) for im in images]


def _encoded(fmt: str, size=(16, 16)) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (*size, 3), dtype=np.uint8)).save(buf, fmt)
    return buf.getvalue()


def _shape_ok(r, status: int) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error", "status"} and body["status"] == status and body["error"]
    return body


@pytest.fixture()
def client():
    with TestClient(create_app(load_spec(ServeSpec, None, []), _FakeOCR())) as c:
        yield c


@pytest.mark.parametrize("body", [b"[" * 100_000, b'{"image": ' * 50_000, b'{"a":' * 100_000 + b"1"])
def test_deeply_nested_json_is_a_400(client, body):
    r = client.post("/v1/ocr", content=body, headers={"content-type": "application/json"})
    assert "nested too deeply" in _shape_ok(r, 400)["error"]
    assert client.get("/healthz").status_code == 200  # and the service is still there


@pytest.mark.parametrize("fmt", ["SGI", "PCX", "ICO", "TGA", "PPM"])
def test_undocumented_formats_are_415_naming_the_upload(client, fmt):
    data = _encoded(fmt)
    multipart = client.post("/v1/ocr", files={"file": (f"scan.{fmt.lower()}", data, "image/x-whatever")})
    error = _shape_ok(multipart, 415)["error"]
    assert f"upload 'scan.{fmt.lower()}'" in error and "PNG, JPEG" in error and "BytesIO" not in error
    raw = client.post("/v1/ocr", content=data, headers={"content-type": "application/octet-stream"})
    assert _shape_ok(raw, 415)["error"].startswith("the request body is not an image")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "BMP", "TIFF", "WEBP", "GIF"])
def test_documented_formats_are_read(client, fmt):
    r = client.post("/v1/ocr", files={"file": (f"a.{fmt.lower()}", _encoded(fmt, (20, 30)), "image/x")})
    assert r.status_code == 200, r.text
    assert (r.json()["height"], r.json()["width"]) == (20, 30)


def test_a_non_image_names_the_json_field_not_a_python_object(client):
    r = client.post("/v1/ocr", json={"image": "aGVsbG8="})  # base64 of "hello"
    error = _shape_ok(r, 415)["error"]
    assert error.startswith("the JSON field 'image' is not an image") and "<" not in error


def test_unknown_route_wrong_method_and_redoc_are_json(client):
    assert "GET /nowhere" in _shape_ok(client.get("/nowhere"), 404)["error"]
    assert _shape_ok(client.get("/redoc"), 404)  # not offered: no pinned package ships ReDoc
    wrong = client.get("/v1/ocr")
    assert "GET /v1/ocr" in _shape_ok(wrong, 405)["error"] and wrong.headers["allow"] == "POST"


def test_validation_errors_and_crashes_are_json():
    app = create_app(load_spec(ServeSpec, None, []), _FakeOCR())

    @app.get("/typed")
    async def typed(n: int):
        return {"n": n}

    @app.get("/crash")
    async def crash():
        raise RuntimeError("boom")

    with TestClient(app, raise_server_exceptions=False) as c:
        assert "query.n" in _shape_ok(c.get("/typed?n=abc"), 422)["error"]
        assert "RuntimeError" in _shape_ok(c.get("/crash"), 500)["error"]


def test_healthz_answers_while_an_upload_is_decoded(client, monkeypatch):
    """Decoding runs in a thread pool: with the decoder held, /healthz still answers at once."""
    started, release, real = threading.Event(), threading.Event(), upload.decode_image

    def slow_decode(data, name, max_pixels=None):
        started.set()
        release.wait(10)
        return real(data, name, max_pixels)

    monkeypatch.setattr(upload, "decode_image", slow_decode)
    answers = []
    worker = threading.Thread(target=lambda: answers.append(
        client.post("/v1/ocr", files={"file": ("a.png", _encoded("PNG"), "image/png")})))
    worker.start()
    try:
        assert started.wait(10)
        t0 = time.perf_counter()
        health = client.get("/healthz")
        took = time.perf_counter() - t0
    finally:
        release.set()
        worker.join(20)
    assert health.status_code == 200 and took < 2.0  # on the event loop it would wait for the 10 s decode
    assert answers[0].status_code == 200


@contextmanager
def _live_server(*overrides: str):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    spec = load_spec(ServeSpec, None, [f"port={port}", *overrides])
    server = uvicorn.Server(server_config(create_app(spec, _FakeOCR()), spec, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.025)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(10)


def _trickle(sock, chunk: bytes, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            sock.sendall(chunk)
        except OSError:  # the server has closed the connection
            return
        time.sleep(0.05)


def _read_until_closed(sock, limit_s: float = 10.0) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and when it closed it."""
    t0, data = time.perf_counter(), b""
    sock.settimeout(limit_s)
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data, time.perf_counter() - t0


def _slow_client(port: int, first: bytes, chunk: bytes) -> tuple[int, dict, float]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(first)
        stop = threading.Event()
        feeder = threading.Thread(target=_trickle, args=(sock, chunk, stop), daemon=True)
        feeder.start()
        reply, after = _read_until_closed(sock)
        stop.set()
        feeder.join(5)
    head, _, body = reply.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body), after


def test_a_trickled_body_gets_408_and_the_connection_is_closed():
    with _live_server("read_timeout_s=0.5") as port:
        head = (b"POST /v1/ocr HTTP/1.1\r\nHost: t\r\nContent-Type: image/png\r\n"
                b"Content-Length: 100000\r\n\r\n")
        status, body, after = _slow_client(port, head, b"x")  # a byte every 50 ms, for ever
        assert status == 408 and body["status"] == 408 and "read_timeout_s" in body["error"]
        assert 0.4 < after < 5.0


def test_trickled_headers_get_408_and_the_connection_is_closed():
    with _live_server("read_timeout_s=0.5") as port:
        status, body, after = _slow_client(port, b"GET /healthz HTTP/1.1\r\nHost: t\r\n", b"X-Pad: 1\r\n")
        assert status == 408 and body == {"error": "no complete request within read_timeout_s = 0.5 s",
                                          "status": 408}
        assert 0.4 < after < 5.0


def test_a_silent_connection_is_closed_after_read_timeout():
    with _live_server("read_timeout_s=0.5") as port, socket.create_connection(("127.0.0.1", port)) as sock:
        reply, after = _read_until_closed(sock)
        assert reply.startswith(b"HTTP/1.1 408") and 0.4 < after < 5.0


def test_an_idle_kept_alive_connection_is_closed_after_keep_alive_s():
    with _live_server("keep_alive_s=1", "read_timeout_s=30") as port, \
            socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        reply, after = _read_until_closed(sock)
        assert reply.startswith(b"HTTP/1.1 200") and b'"status":"ok"' in reply
        assert 0.8 < after < 5.0  # closed by the keep-alive timer, not kept open for the 30 s read timeout


@pytest.mark.parametrize("key,needle", [("read_timeout_s=0", "read_timeout_s"), ("keep_alive_s=-1", "keep_alive_s"),
                                        ("decode_workers=0", "decode_workers")])
def test_bad_service_keys_fail_at_load_naming_the_key(key, needle):
    from ocdr.errors import ConfigError

    with pytest.raises(ConfigError, match=needle):
        load_spec(ServeSpec, None, [key])
