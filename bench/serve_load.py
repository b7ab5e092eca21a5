"""Load test of ``ocdr serve`` on loopback: N concurrent clients send M requests in all.

Starts the server in its own process (models given as for ``ocdr serve``), waits for /healthz, then the
clients POST images (round robin over --images) and the table reports errors, p50/p95 latency,
throughput, and the server's resident memory at start and end.

    .venv/bin/python bench/serve_load.py --clients 4 --requests 40 --images ../shared/data/hme_handwritten_det/img
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    import httpx

    from common import report

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--detector", default="auto")
    ap.add_argument("--recognizer", default="auto")
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--precision", default="auto", help="the server's precision (auto | fp32 | bf16 | bf16-checked)")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--requests", type=int, default=40)
    ap.add_argument("--images", default=str(HERE.parents[1] / "shared" / "data" / "hme_handwritten_det" / "img"))
    ap.add_argument("--max-images", type=int, default=20)
    ap.add_argument("--timeout", type=float, default=300)
    args = ap.parse_args()
    folder = Path(args.images)
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))[:args.max_images]
    if not files:
        raise SystemExit(f"no images in {folder}")
    payloads = [(p.name, p.read_bytes()) for p in files]
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE.parent / "src"), os.environ.get("PYTHONPATH", "")])}
    server = subprocess.Popen([sys.executable, "-m", "ocdr.cli.main", "serve", f"detector={args.detector}",
                               f"recognizer={args.recognizer}", f"backend={args.backend}",
                               f"precision={args.precision}", f"port={port}"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 300
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.time() > deadline:
                raise SystemExit(f"server did not start: {server.stderr.read()[-2000:]}")
            time.sleep(0.5)
        start_mb = rss_mb(server.pid)
        latencies, errors, lock = [], [], threading.Lock()
        counter = iter(range(args.requests))

        def client():
            with httpx.Client(timeout=args.timeout) as c:
                for i in counter:
                    name, data = payloads[i % len(payloads)]
                    t = time.perf_counter()
                    try:
                        r = c.post(base + "/v1/ocr", files={"file": (name, data)})
                        ok = r.status_code == 200
                        why = None if ok else f"{r.status_code} {r.text[:200]}"
                    except httpx.HTTPError as exc:
                        ok, why = False, repr(exc)
                    with lock:
                        (latencies.append(time.perf_counter() - t) if ok else errors.append(why))

        t0 = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        end_mb = rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else float("nan")  # noqa: E731
    row = {"clients": args.clients, "requests": args.requests, "errors": len(errors), "p50_s": pick(0.5),
           "p95_s": pick(0.95), "requests_per_s": len(latencies) / wall, "server_rss_start_mb": start_mb,
           "server_rss_end_mb": end_mb}
    report("serve_load", [row], {"errors_seen": errors[:5], "images": str(folder), "detector": args.detector,
                                 "recognizer": args.recognizer, "backend": args.backend,
                                 "precision": args.precision,
                                 "command": "bench/serve_load.py " + " ".join(sys.argv[1:])})


if __name__ == "__main__":
    main()
