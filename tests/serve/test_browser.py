"""The web page, end to end in a real headless browser (Debian chromium driven by Playwright): choose an image,
see the words the API returns listed and drawn."""
import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi")
pytest.importorskip("playwright.sync_api", reason="playwright not installed (make test installs it)")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium (Debian: apt-get install chromium; make test does)")


class _FakePage:
    def __init__(self, words):
        self.words = words

    def to_dict(self):
        return {"width": 200, "height": 80, "text": " ".join(w["text"] for w in self.words),
                "words": self.words, "lines": [{"text": " ".join(w["text"] for w in self.words),
                                                "words": list(range(len(self.words)))}]}


class _FakeOCR:
    """Deterministic words (the page is what is under test here, the models are tested elsewhere)."""

    def __call__(self, images):
        out = []
        for im in images:
            h, w = im.shape[:2]
            words = [{"polygon": [[10, 10], [90, 10], [90, 40], [10, 40]], "text": "Hello", "confidence": 0.97,
                      "detection_score": 0.9},
                     {"polygon": [[100, 10], [190, 10], [190, 40], [100, 40]], "text": f"{w}x{h}", "confidence": 0.88,
                      "detection_score": 0.8}]
            out.append(_FakePage(words))
        return out


@pytest.fixture()
def server():
    import uvicorn

    from ocdr.config.serve import ServeSpec
    from ocdr.serve.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(ServeSpec(port=port), _FakeOCR())
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(100):
        if srv.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


def test_upload_shows_the_words(server, tmp_path):
    image = tmp_path / "photo.png"
    Image.fromarray(np.full((80, 200, 3), 255, np.uint8)).save(image)
    bad = tmp_path / "notes.txt"
    bad.write_text("not an image")
    # the browser is driven from a process of its own (browser_client.py says why)
    run = subprocess.run([sys.executable, str(Path(__file__).with_name("browser_client.py")), server, str(image),
                          str(bad), CHROMIUM], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["items"][0].startswith("Hello") and seen["items"][1].startswith("200x80")
    assert "Hello 200x80" in seen["text"]
    assert "2 words" in seen["status"]
    assert seen["red_pixels"] > 50  # the boxes were drawn on the overlay
    assert "415" in seen["error_status"]
