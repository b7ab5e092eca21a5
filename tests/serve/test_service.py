"""The HTTP service: good and bad images, limits, JSON/multipart/raw bodies, batching of concurrent requests."""
import asyncio
import base64
import io
import json
import re
import threading
import time

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

import ocdr  # noqa: E402
from ocdr.config import load_spec  # noqa: E402
from ocdr.models.detection.postprocess import PostProcessConfig  # noqa: E402
from ocdr.config.serve import ServeSpec  # noqa: E402
from ocdr.serve.app import Batcher, create_app  # noqa: E402


@pytest.fixture(scope="module")
def ocr(tiny_models):
    loose = PostProcessConfig(thresh=0.0, box_thresh=0.0, min_size=1)
    return ocdr.OCR(tiny_models / "det.pth", tiny_models / "rec.pth", postprocess=loose, long_side=128)


def _png(h=96, w=128, seed=0) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture()
def client(ocr):
    spec = load_spec(ServeSpec, None, ["max_upload_mb=0.5", "max_pixels=200000", "batch_wait_ms=50"])
    with TestClient(create_app(spec, ocr)) as c:
        yield c


def test_good_image_three_ways_same_answer(client, ocr):
    data = _png()
    expected = ocr(data).to_dict()
    answers = [client.post("/v1/ocr", files={"file": ("a.png", data, "image/png")}),
               client.post("/v1/ocr", json={"image": base64.b64encode(data).decode()}),
               client.post("/v1/ocr", content=data, headers={"content-type": "image/png"})]
    for r in answers:
        assert r.status_code == 200, r.text
        body = r.json()
        assert [w["text"] for w in body["words"]] == [w["text"] for w in expected["words"]]
        assert body["width"] == 128 and body["height"] == 96 and body["seconds"] >= 0
    assert len(expected["words"]) > 0


@pytest.mark.parametrize("payload,status,needle", [
    ({"files": {"file": ("x.txt", b"hello, not an image", "text/plain")}}, 415, "not an image"),
    ({"files": {"file": ("t.png", _png()[:300], "image/png")}}, 400, "truncated"),
    ({"json": {"image": "***not base64***"}}, 400, "base64"),
    ({"json": {"picture": "x"}}, 400, "image"),
    ({"files": {"other": ("a.png", b"x", "image/png")}}, 400, "'file'"),
    ({"content": b"abc", "headers": {"content-type": "text/plain"}}, 415, "content type"),
    ({"files": {"file": ("e.png", b"", "image/png")}}, 400, "empty"),
])
def test_bad_requests_get_a_json_4xx(client, payload, status, needle):
    r = client.post("/v1/ocr", **payload)
    assert r.status_code == status, r.text
    assert needle in r.json()["error"]


def test_limits(client):
    big = client.post("/v1/ocr", content=b"\0" * (600 * 1024), headers={"content-type": "image/png"})
    assert big.status_code == 413 and "limit" in big.json()["error"]
    buf = io.BytesIO()
    Image.new("RGB", (500, 500), "white").save(buf, "PNG")  # small file, 250 000 pixels > 200 000
    huge = buf.getvalue()
    r = client.post("/v1/ocr", files={"file": ("h.png", huge, "image/png")})
    assert r.status_code == 413 and "pixels" in r.json()["error"]


def test_page_health_and_schema(client):
    page = client.get("/")
    assert page.status_code == 200 and "/v1/ocr" in page.text
    assert "http://" not in page.text and "https://" not in page.text  # nothing from a CDN
    assert client.get("/healthz").json()["status"] == "ok"
    schema = client.get("/openapi.json").json()
    assert "/v1/ocr" in schema["paths"] and "multipart/form-data" in json.dumps(schema["paths"]["/v1/ocr"])


def test_docs_page_is_served_offline(client):
    """/docs loads Swagger UI from this service (the pinned swagger-ui-bundle package), not from a CDN."""
    page = client.get("/docs")
    assert page.status_code == 200 and "SwaggerUIBundle" in page.text
    urls = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sorted(urls) == ["/docs/assets/favicon-32x32.png", "/docs/assets/swagger-ui-bundle.js",
                            "/docs/assets/swagger-ui.css"]
    assert "http://" not in page.text and "https://" not in page.text and "//cdn" not in page.text
    assert '"validatorUrl": null' in page.text  # no schema sent to validator.swagger.io either
    kinds = {u: client.get(u) for u in urls}
    assert all(r.status_code == 200 and len(r.content) > 500 for r in kinds.values())
    assert kinds["/docs/assets/swagger-ui-bundle.js"].headers["content-type"].startswith("application/javascript")
    assert client.get("/docs/assets/swagger-ui.js.map").status_code == 404  # only the files the page uses


def test_concurrent_requests_are_batched_and_all_answered(client):
    data = [_png(seed=i) for i in range(6)]
    results = [None] * 6

    def call(i):
        results[i] = client.post("/v1/ocr", files={"file": (f"{i}.png", data[i], "image/png")})

    threads = [threading.Thread(target=call, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.status_code == 200 for r in results)
    batches = client.app.state.batcher.batches
    assert sum(batches) >= 6 and max(batches) > 1  # at least two requests shared a pipeline call


def test_batcher_skips_requests_that_timed_out():
    calls = []

    def slow(images):
        calls.append(len(images))
        time.sleep(0.2)
        return [len(images)] * len(images)

    async def scenario():
        b = Batcher(slow, max_batch=4, wait_s=0.0)
        b.start()
        first = asyncio.ensure_future(b.submit("a"))
        await asyncio.sleep(0.05)  # "a" is being computed
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(b.submit("b"), 0.01)  # gives up while queued
        assert await first == 1
        await asyncio.sleep(0.3)
        await b.stop()

    asyncio.run(scenario())
    assert calls == [1]  # "b" was never computed
