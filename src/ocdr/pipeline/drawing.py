"""Pictures for people: polygons drawn on images, probability maps as heat maps."""
from __future__ import annotations

import cv2
import numpy as np

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
