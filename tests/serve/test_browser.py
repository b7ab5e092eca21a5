"""The web page, end to end in a real headless browser (Debian chromium driven by Playwright): choose an image,
see the words the API returns listed and drawn."""
import shutil
import socket
import threading
import time

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed (make test installs it)")
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
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.goto(server + "/")
            page.set_input_files("#file", str(image))
            page.wait_for_selector("#words li", timeout=20000)
            items = page.locator("#words li").all_inner_texts()
            assert items[0].startswith("Hello") and items[1].startswith("200x80")
            assert "Hello 200x80" in page.inner_text("#text")
            assert "2 words" in page.inner_text("#status")
            # the boxes were drawn on the overlay: some red pixels on the canvas
            red = page.evaluate("""() => { const c = document.getElementById('overlay');
                const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;
                for (let i = 0; i < d.length; i += 4) if (d[i] > 200 && d[i+1] < 80 && d[i+3] > 0) n++; return n; }""")
            assert red > 50
            # a non-image upload shows the API's error instead
            bad = tmp_path / "notes.txt"
            bad.write_text("not an image")
            page.set_input_files("#file", str(bad))
            page.wait_for_function("document.getElementById('status').className === 'error'", timeout=20000)
            assert "415" in page.inner_text("#status")
        finally:
            browser.close()
