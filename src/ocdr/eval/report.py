"""Pictures and pages for people: training curves drawn from Lightning's metrics.csv, and a
self-contained HTML report (tables, images linked relative to the report, no external resources)."""
from __future__ import annotations

import csv
import html
import io
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ocdr.eval.drawing import label_font
from ocdr.fileio import atomic_write_bytes, atomic_write_text

__all__ = ["read_curves", "plot_curves", "html_table", "write_html_report"]

_COLOURS = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14)]


def read_curves(csv_path: str | Path, keys: list[str]) -> dict[str, list[tuple[float, float]]]:
    """(step, value) pairs of each wanted column of a Lightning CSVLogger file; empty cells skipped."""
    curves: dict[str, list[tuple[float, float]]] = {k: [] for k in keys}
    with open(csv_path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            for k in keys:
                v = row.get(k, "")
                if v not in ("", None) and row.get("step", "") != "":
                    value = float(v)
                    if math.isfinite(value):
                        curves[k].append((float(row["step"]), value))
    return {k: v for k, v in curves.items() if v}


def plot_curves(curves: dict[str, list[tuple[float, float]]], out: str | Path, title: str = "",
                size: tuple[int, int] = (640, 320)) -> Path | None:
    """A line chart (one panel, each curve scaled to its own min..max, labelled with its range) as PNG."""

    if not curves:
        return None
    w, h = size
    left, right, top, bottom = 50, 10, 28, 30
    img = Image.new("RGB", (w, h), "white")
    pen = ImageDraw.Draw(img)
    font = label_font(12)
    pen.rectangle([left, top, w - right, h - bottom], outline=(0, 0, 0))
    xs = [s for pts in curves.values() for s, _ in pts]
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    pen.text((left, h - bottom + 4), f"step {x0:g}", fill=(0, 0, 0), font=font)
    pen.text((w - right - 80, h - bottom + 4), f"step {x1:g}", fill=(0, 0, 0), font=font)
    if title:
        pen.text((left, 6), title, fill=(0, 0, 0), font=font)
    legend_x = left + 8
    for n, (name, pts) in enumerate(curves.items()):
        colour = _COLOURS[n % len(_COLOURS)]
        values = np.array([v for _, v in pts])
        lo, hi = float(values.min()), float(values.max())
        span = hi - lo if hi > lo else 1.0
        line = [(left + (s - x0) / (x1 - x0) * (w - left - right), h - bottom - (v - lo) / span * (h - top - bottom))
                for s, v in pts]
        if len(line) > 1:
            pen.line(line, fill=colour, width=2)
        else:
            pen.ellipse([line[0][0] - 2, line[0][1] - 2, line[0][0] + 2, line[0][1] + 2], fill=colour)
        label = f"{name} ({lo:.3g}..{hi:.3g})"
        pen.text((legend_x, top + 4 + 14 * n), label, fill=colour, font=font)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)

    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return atomic_write_bytes(out, buf.getvalue())


def _cell(v) -> str:
    if isinstance(v, float):
        return f"{v:.4f}"
    return html.escape("" if v is None else str(v))


def html_table(rows: list[dict]) -> str:
    if not rows:
        return "<p>(none)</p>"
    keys = list(dict.fromkeys(k for r in rows for k in r))
    head = "".join(f"<th>{html.escape(k)}</th>" for k in keys)
    body = "".join("<tr>" + "".join(f"<td>{_cell(r.get(k))}</td>" for k in keys) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


_CSS = """body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}th{background:#f3f3f3}img{max-width:100%;border:1px solid #ddd}
figure{display:inline-block;margin:.5em;vertical-align:top;max-width:560px}figcaption{font-size:90%;color:#444}"""


def write_html_report(path: str | Path, title: str, sections: list[tuple[str, str]]) -> Path:
    """``sections``: (heading, HTML body) pairs. Image links inside must be relative to ``path``'s folder."""

    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"]
    parts += [f"<h2>{html.escape(h)}</h2>\n{body}" for h, body in sections]
    parts.append("</body></html>")
    return atomic_write_text(path, "\n".join(parts))


def figure(src: str, caption: str) -> str:
    return f"<figure><img src='{html.escape(src)}' loading='lazy'><figcaption>{html.escape(caption)}</figcaption></figure>"
