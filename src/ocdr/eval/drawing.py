"""Pictures for people: polygons drawn on images, probability maps as heat maps."""
from __future__ import annotations

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

__all__ = ["draw_polygons", "heatmap"]


def draw_polygons(image: np.ndarray, polygons, color=(255, 0, 0), thickness: int = 2, labels=None) -> np.ndarray:
    """RGB image with each polygon outlined (and an optional label above it)."""
    out = image.copy()
    t = max(1, int(round(thickness * max(image.shape[:2]) / 800)))
    for i, p in enumerate(polygons):
        pts = np.round(np.asarray(p)).astype(np.int32)
        cv2.polylines(out, [pts], True, color, t, cv2.LINE_AA)
        if labels is not None and labels[i]:
            x, y = int(pts[:, 0].min()), int(pts[:, 1].min())
            cv2.putText(out, str(labels[i]), (x, max(y - 3, 10)), cv2.FONT_HERSHEY_SIMPLEX, 0.4 * t, color, t, cv2.LINE_AA)
    return out


def heatmap(prob: np.ndarray) -> np.ndarray:
    """Probability map (H, W) in [0, 1] as an RGB heat map."""
    gray = np.clip(prob * 255, 0, 255).astype(np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(gray, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)


_LABEL_FONTS = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf")


def label_font(size: int):
    """A FreeType font for labels: DejaVu Sans when installed, else Pillow's bundled font (any Unicode it has)."""

    size = max(8, int(size))
    for path in _LABEL_FONTS:
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def draw_ocr(image: np.ndarray, polygons, texts, scores=None) -> np.ndarray:
    """PaddleOCR-style picture: the image with numbered boxes on the left, the text read at each box's place
    on a white panel on the right (so it can be compared word by word). RGB in, RGB out (H x 2W)."""

    h, w = image.shape[:2]
    left = draw_polygons(image, polygons, color=(255, 0, 0))
    panel = Image.new("RGB", (w, h), (255, 255, 255))
    pen = ImageDraw.Draw(panel)
    for i, (poly, text) in enumerate(zip(polygons, texts)):
        pts = np.asarray(poly, dtype=np.float64)
        pen.polygon([tuple(p) for p in pts.tolist()], outline=(160, 160, 160))
        box_h = float(np.linalg.norm(pts[-1] - pts[0])) if len(pts) == 4 else float(np.ptp(pts[:, 1]))
        font = label_font(min(max(box_h * 0.8, 10), 48))
        label = str(text) if scores is None else f"{text} ({scores[i]:.2f})"
        x, y = float(pts[:, 0].min()), float(pts[:, 1].min())
        pen.text((x + 2, y), label, fill=(0, 0, 160), font=font)
    return np.concatenate([left, np.asarray(panel)], axis=1)
