"""Drives the web page in Debian chromium through Playwright's sync API and prints what a user sees, as JSON.

Run by ``test_browser.py`` in a process of its own: the sync API switches greenlets, and a greenlet switch
racing the garbage collector of a process whose other threads are busy (the test's uvicorn server, the
models' engine threads of earlier tests) can crash the interpreter (python-greenlet/greenlet#515; a
``make test`` in CI died so once, with no traceback). Here the greenlets have the process to themselves."""
import json
import sys

from playwright.sync_api import sync_playwright

RED_PIXELS = """() => { const c = document.getElementById('overlay');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i] > 200 && d[i+1] < 80 && d[i+3] > 0) n++; return n; }"""


def main(url: str, image: str, bad: str, chromium: str) -> dict:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu",
                                                                     "--disable-background-networking"])
        try:
            page = browser.new_page()
            page.goto(url + "/")
            page.set_input_files("#file", image)
            page.wait_for_selector("#words li", timeout=20000)
            seen = {"items": page.locator("#words li").all_inner_texts(), "text": page.inner_text("#text"),
                    "status": page.inner_text("#status"), "red_pixels": page.evaluate(RED_PIXELS)}
            # a non-image upload shows the API's error instead
            page.set_input_files("#file", bad)
            page.wait_for_function("document.getElementById('status').className === 'error'", timeout=20000)
            seen["error_status"] = page.inner_text("#status")
            return seen
        finally:
            browser.close()


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:5])))
