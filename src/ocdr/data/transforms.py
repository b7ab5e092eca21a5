"""Detection augmentation on (image, polygons) together, and inference resizing (numpy/OpenCV).

Every geometric step moves the polygons with the same matrix as the pixels, so boxes keep
matching the text. Randomness comes only from the ``np.random.Generator`` passed in, so a
seed gives the same sample every time.

Coordinates follow OpenCV's convention: the centre of pixel ``(i, j)`` is at ``x = j, y = i``
(``cv2.fillPoly`` fills the pixels whose centres lie in the polygon; ``cv2.warpAffine`` and
``cv2.resize`` map pixel centres). A horizontal flip is therefore ``x -> W - 1 - x`` and a
resize by ``s`` is ``x -> (x + 0.5) s - 0.5``.
"""
from __future__ import annotations


import cv2
import numpy as np
from shapely.geometry import Polygon, box

from ocdr.config.augment import DetAugSpec
from ocdr.data.polygon import order_quad, signed_area, to_clockwise

__all__ = ["DetAugSpec", "random_flip", "random_rotate", "random_scale", "random_crop_keep_text", "color_jitter",
           "random_blur", "clip_to_window", "augment", "resize_for_inference", "resize_pad_square", "resize_long_side", "paper_colour",
           "normalize", "denormalize", "MEAN", "STD", "IMAGENET_MEAN_STD", "resize_limited", "normalize_with"]

# ImageNet statistics (RGB, on 0..1 values): the ResNet backbones were pre-trained on inputs
# normalized with them, so detection inputs are normalized the same way.
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)
IMAGENET_MEAN_STD = (MEAN, STD)  # what every ocdr detector module takes (RGB)

Sample = tuple[np.ndarray, list[np.ndarray], list[bool]]


# ---------------------------------------------------------------- helpers


def paper_colour(image: np.ndarray) -> tuple[int, int, int]:
    """Median colour of the image border: padding in it looks like more page, not a black frame."""
    edges = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])
    return tuple(int(v) for v in np.median(edges, axis=0))


def _apply(m: np.ndarray, polys: list[np.ndarray]) -> list[np.ndarray]:
    return [np.asarray(p, np.float64) @ m[:, :2].T + m[:, 2] for p in polys]


def _resize_points(polys: list[np.ndarray], sx: float, sy: float) -> list[np.ndarray]:
    """Where ``cv2.resize`` by (sx, sy) moves each point (pixel centres, not corners, scale)."""
    return [(np.asarray(p, np.float64) + 0.5) * [sx, sy] - 0.5 for p in polys]


def _mirror_order(poly: np.ndarray) -> np.ndarray:
    """Restore clockwise-from-top-left order after a horizontal mirror.

    Mirroring turns clockwise into anticlockwise and the old top-right into the new top-left.
    Quads are re-ordered by :func:`order_quad`; other polygons keep the ICDAR/Total-Text
    structure (first half = top edge left to right, second half = bottom edge right to left)
    by reversing and rolling by half: point ``i`` of the top edge stays paired with point
    ``N-1-i`` of the bottom edge.
    """
    if len(poly) == 4:
        return order_quad(poly)
    if signed_area(poly) >= 0:  # was anticlockwise before the mirror: leave its order alone
        return poly
    return np.roll(poly[::-1], -(len(poly) // 2), axis=0)


def _rotation(w: int, h: int, angle: float) -> tuple[np.ndarray, int, int]:
    """Rotation about the image centre, shifted so that the whole rotated image fits."""
    m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), angle, 1.0)
    corners = np.array([[-0.5, -0.5], [w - 0.5, -0.5], [w - 0.5, h - 0.5], [-0.5, h - 0.5]]) @ m[:, :2].T + m[:, 2]
    lo, hi = corners.min(0), corners.max(0)
    nw, nh = int(np.ceil(hi[0] - lo[0] - 1e-6)), int(np.ceil(hi[1] - lo[1] - 1e-6))
    m[:, 2] += -0.5 - lo
    return m, nw, nh


# ---------------------------------------------------------------- geometric transforms


def random_flip(image: np.ndarray, polys: list[np.ndarray], ignore: list[bool], rng: np.random.Generator,
                prob: float = 0.5) -> Sample:
    """Mirror left-right with probability ``prob``; polygons stay clockwise from top-left."""
    if rng.random() >= prob:
        return image, list(polys), list(ignore)
    w = image.shape[1]
    flipped = [_mirror_order(np.column_stack([w - 1 - p[:, 0], p[:, 1]]).astype(np.float64)) for p in polys]
    return np.ascontiguousarray(image[:, ::-1]), flipped, list(ignore)


def random_rotate(image: np.ndarray, polys: list[np.ndarray], ignore: list[bool], rng: np.random.Generator,
                  max_deg: float = 10.0) -> Sample:
    """Rotate by a uniform angle in [-max_deg, max_deg]; the canvas grows so nothing is cut."""
    if max_deg <= 0:
        return image, list(polys), list(ignore)
    h, w = image.shape[:2]
    m, nw, nh = _rotation(w, h, float(rng.uniform(-max_deg, max_deg)))
    rotated = cv2.warpAffine(image, m, (nw, nh), flags=cv2.INTER_LINEAR, borderValue=paper_colour(image))
    return rotated, _apply(m, polys), list(ignore)


def random_scale(image: np.ndarray, polys: list[np.ndarray], ignore: list[bool], rng: np.random.Generator,
                 scale_min: float = 0.5, scale_max: float = 3.0) -> Sample:
    """Resize both sides by one uniform factor in [scale_min, scale_max]."""
    s = float(rng.uniform(scale_min, scale_max))
    h, w = image.shape[:2]
    nh, nw = max(int(round(h * s)), 1), max(int(round(w * s)), 1)
    resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    return resized, _resize_points(polys, nw / w, nh / h), list(ignore)


def _bad_cuts(extent: int, spans: list[tuple[int, int]]) -> np.ndarray:
    """bad[t] for t in 0..extent: a cut between pixel t-1 and pixel t would split some span."""
    bad = np.zeros(extent + 1, bool)
    for a, b in spans:
        # Text running off the image is already cut by its edge: cuts at 0 and extent stay free.
        bad[max(a + 1, 1):max(min(b, extent - 1) + 1, 1)] = True
    return bad


def _window_starts(lo: int, hi: int, bad: np.ndarray, side: int) -> np.ndarray:
    """Window starts in [lo, hi] whose two cut lines (start and start + side) split no span."""
    if hi < lo:
        return np.zeros(0, int)
    starts = np.arange(lo, hi + 1)
    return starts[~bad[starts] & ~bad[starts + side]]


def _choose_window(polys: list[np.ndarray], ignore: list[bool], w: int, h: int, cw: int, ch: int,
                   rng: np.random.Generator, keep_text: bool) -> tuple[int, int]:
    """Top-left corner of a ``cw`` x ``ch`` window in a ``w`` x ``h`` image.

    DBNet's EastRandomCrop idea on a fixed-size window: the cut lines are taken where the
    x and y projections of the text are empty, so no text is split, and the window must hold
    at least one whole text region (else a crop of pure background teaches little). When no
    such window exists, the window is placed around one text region that fits, and the text
    it cuts is handled by :func:`clip_to_window`.
    """
    care = [np.round(p).astype(int) for p, ign in zip(polys, ignore) if not ign]
    if not keep_text or not care:
        return int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    boxes = [(p[:, 0].min(), p[:, 0].max(), p[:, 1].min(), p[:, 1].max()) for p in care]
    bad_x = _bad_cuts(w, [(a, b) for a, b, _, _ in boxes])
    bad_y = _bad_cuts(h, [(c, d) for _, _, c, d in boxes])
    fitting = [i for i, (a, b, c, d) in enumerate(boxes) if b - a < cw and d - c < ch]
    for i in rng.permutation(fitting):
        a, b, c, d = boxes[i]
        xs = _window_starts(max(0, b - cw + 1), min(a, w - cw), bad_x, cw)
        ys = _window_starts(max(0, d - ch + 1), min(c, h - ch), bad_y, ch)
        if len(xs) and len(ys):
            return int(rng.choice(xs)), int(rng.choice(ys))
    a, b, c, d = boxes[int(rng.choice(fitting))] if fitting else boxes[int(rng.integers(len(boxes)))]
    # Around that region: every start containing it, or (too big) one centred on it.
    x_lo, x_hi = sorted((min(max(b - cw + 1, 0), w - cw), min(max(a, 0), w - cw)))
    y_lo, y_hi = sorted((min(max(d - ch + 1, 0), h - ch), min(max(c, 0), h - ch)))
    return int(rng.integers(x_lo, x_hi + 1)), int(rng.integers(y_lo, y_hi + 1))


def _ring_points(geom) -> np.ndarray | None:
    """Exterior of the largest polygon in a shapely intersection result, clockwise, >= 4 points."""
    parts = [g for g in getattr(geom, "geoms", [geom]) if g.geom_type == "Polygon" and g.area > 0]
    if not parts:
        return None
    ring = np.asarray(max(parts, key=lambda g: g.area).exterior.coords, np.float64)[:-1]
    while len(ring) < 4:  # a clipped triangle: split its longest edge so it stays a valid region
        j = int(np.argmax(np.linalg.norm(ring - np.roll(ring, -1, axis=0), axis=1)))
        ring = np.insert(ring, j + 1, (ring[j] + ring[(j + 1) % len(ring)]) / 2, axis=0)
    if len(ring) == 4:
        return order_quad(ring)
    ring = to_clockwise(ring)
    return np.roll(ring, -int(np.argmin(ring[:, 0] + ring[:, 1])), axis=0)


def clip_to_window(polys: list[np.ndarray], ignore: list[bool], x0: int, y0: int, cw: int, ch: int,
                    min_inside: float = 0.5) -> tuple[list[np.ndarray], list[bool]]:
    """Polygons in window coordinates: whole ones kept, cut ones clipped, outside ones dropped.

    A cut region keeps its label only when at least ``min_inside`` of its area is inside;
    a mostly-outside fragment becomes don't-care (a few letters are neither text nor background).
    """
    window = box(0, 0, cw - 1, ch - 1)
    out, out_ignore = [], []
    for p, ign in zip(polys, ignore):
        q = np.asarray(p, np.float64) - [x0, y0]
        if (q >= 0).all() and (q[:, 0] <= cw - 1).all() and (q[:, 1] <= ch - 1).all():
            out.append(q)
            out_ignore.append(ign)
            continue
        shape = Polygon(q)
        if not shape.is_valid:
            shape = shape.buffer(0)
        if shape.area <= 0:
            continue
        piece = shape.intersection(window)
        ring = _ring_points(piece)
        if ring is None:
            continue
        out.append(ring)
        out_ignore.append(ign or piece.area < min_inside * shape.area)
    return out, out_ignore


def _pad_square(window: np.ndarray, size: int, fill: tuple[int, int, int]) -> np.ndarray:
    out = np.empty((size, size, 3), np.uint8)
    out[:] = fill
    out[:window.shape[0], :window.shape[1]] = window
    return out


def random_crop_keep_text(image: np.ndarray, polys: list[np.ndarray], ignore: list[bool], rng: np.random.Generator,
                          size: int = 640, keep_text: bool = True, min_inside: float = 0.5) -> Sample:
    """A ``size`` x ``size`` crop; a smaller image is padded bottom/right with its paper colour.

    With ``keep_text`` the window avoids cutting text when it can (see :func:`_choose_window`);
    regions it cuts anyway are clipped to it, don't-care when mostly outside; regions wholly
    outside are removed. Every returned point lies inside the crop.
    """
    h, w = image.shape[:2]
    cw, ch = min(size, w), min(size, h)
    x0, y0 = _choose_window(polys, ignore, w, h, cw, ch, rng, keep_text)
    out = _pad_square(image[y0:y0 + ch, x0:x0 + cw], size, paper_colour(image))
    return (out, *clip_to_window(polys, ignore, x0, y0, cw, ch, min_inside))


# ---------------------------------------------------------------- photometric transforms


def color_jitter(image: np.ndarray, polys: list[np.ndarray], ignore: list[bool], rng: np.random.Generator,
                 prob: float = 0.5, brightness: float = 0.3, contrast: float = 0.3, saturation: float = 0.3,
                 hue: float = 0.05, gray_prob: float = 0.1) -> Sample:
    """With probability ``prob``: brightness, contrast, saturation and hue jitter (factors
    uniform in 1 +- the given amount, hue shifted by up to ``hue`` of a turn), then sometimes gray."""
    if rng.random() >= prob:
        return image, list(polys), list(ignore)
    img = image.astype(np.float32) * rng.uniform(1 - brightness, 1 + brightness)
    gray = img @ np.array([0.299, 0.587, 0.114], np.float32)
    mean = float(gray.mean())
    img = mean + (img - mean) * rng.uniform(1 - contrast, 1 + contrast)
    gray = (img @ np.array([0.299, 0.587, 0.114], np.float32))[..., None]
    img = gray + (img - gray) * rng.uniform(1 - saturation, 1 + saturation)
    img = np.clip(img, 0, 255).astype(np.uint8)
    shift = int(round(rng.uniform(-hue, hue) * 180))  # OpenCV's 8-bit hue runs over 0..179
    if shift:
        hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
        hsv[..., 0] = ((hsv[..., 0].astype(np.int32) + shift) % 180).astype(np.uint8)
        img = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    if rng.random() < gray_prob:
        img = np.repeat(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
    return img, list(polys), list(ignore)


def random_blur(image: np.ndarray, polys: list[np.ndarray], ignore: list[bool], rng: np.random.Generator,
                prob: float = 0.1, max_sigma: float = 1.2) -> Sample:
    """Gaussian blur (sigma uniform in [0.3, max_sigma]) with probability ``prob``: defocus, low-res scans."""
    if rng.random() >= prob:
        return image, list(polys), list(ignore)
    return cv2.GaussianBlur(image, (0, 0), float(rng.uniform(0.3, max_sigma))), list(polys), list(ignore)


# ---------------------------------------------------------------- the training chain


def _rotate_scale_crop(image: np.ndarray, polys: list[np.ndarray], ignore: list[bool], spec: DetAugSpec,
                       rng: np.random.Generator) -> Sample:
    """random_rotate -> random_scale -> random_crop_keep_text as one warp that renders only the crop.

    Same geometry as the three steps in turn, but a 3x upscale of a 3000-px page would need a
    ~250 MB intermediate image; composing the affine maps keeps the cost at one crop.
    Downscaling is done first with INTER_AREA, which a warp cannot do without aliasing.
    """
    angle = float(rng.uniform(-spec.rotate_deg, spec.rotate_deg)) if spec.rotate_deg > 0 else 0.0
    s = float(rng.uniform(spec.scale_min, spec.scale_max))
    fill = paper_colour(image)
    h, w = image.shape[:2]
    if spec.scale_long_side:  # a scale of the size the image is read at, so small and large images train alike
        s *= spec.scale_long_side / max(h, w)
    rot, rw, rh = _rotation(w, h, angle)
    nw, nh = max(int(round(rw * s)), 1), max(int(round(rh * s)), 1)
    if s < 1:
        small_w, small_h = max(int(round(w * s)), 1), max(int(round(h * s)), 1)
        sx, sy = small_w / w, small_h / h
        image = cv2.resize(image, (small_w, small_h), interpolation=cv2.INTER_AREA)
        polys = _resize_points(polys, sx, sy)
        rot, nw, nh = _rotation(small_w, small_h, angle)
        m = rot
    else:
        sx, sy = nw / rw, nh / rh
        m = np.diag([sx, sy]) @ rot
        m[:, 2] += 0.5 * sx - 0.5, 0.5 * sy - 0.5  # pixel-centre resize after the rotation
    moved = _apply(m, polys)
    cw, ch = min(spec.crop_size, nw), min(spec.crop_size, nh)
    x0, y0 = _choose_window(moved, ignore, nw, nh, cw, ch, rng, spec.crop_keep_text)
    m_crop = m.copy()
    m_crop[:, 2] -= (x0, y0)
    window = cv2.warpAffine(image, m_crop, (cw, ch), flags=cv2.INTER_LINEAR, borderValue=fill)
    return (_pad_square(window, spec.crop_size, fill), *clip_to_window(moved, ignore, x0, y0, cw, ch))


def augment(image: np.ndarray, polys: list[np.ndarray], ignore: list[bool], spec: DetAugSpec,
            rng: np.random.Generator) -> Sample:
    """The training chain: flip, rotate, scale, text-keeping crop, colour jitter, blur.

    The output is always ``spec.crop_size`` square. With ``spec.enable`` false the image is only
    resized (aspect ratio kept) and padded, as in evaluation, so the batch still stacks.
    """
    spec.validate()
    polys = [np.asarray(p, np.float64).reshape(-1, 2) for p in polys]
    ignore = [bool(i) for i in ignore]
    if not spec.enable:
        out, polys, _, _ = resize_pad_square(image, polys, spec.crop_size)
        return out, polys, ignore
    sample = random_flip(image, polys, ignore, rng, spec.flip_prob)
    sample = _rotate_scale_crop(*sample, spec, rng)
    sample = color_jitter(*sample, rng, spec.color_prob)
    return random_blur(*sample, rng, spec.blur_prob)


# ---------------------------------------------------------------- inference sizes and normalization


def _round_to(v: float, multiple: int, most: int | None = None) -> int:
    n = max(int(np.floor(v / multiple + 0.5)), 1) * multiple  # half up, not to even
    return n if most is None else max(min(n, most // multiple * multiple), multiple)


def resize_for_inference(image: np.ndarray, target_long_side: int | None = None,
                         target_size: tuple[int, int] | None = None, multiple: int = 32
                         ) -> tuple[np.ndarray, float, float]:
    """Resize keeping the aspect ratio, both sides rounded to multiples of ``multiple`` (DBNet/TAO).

    ``target_long_side``: the long side becomes that; ``target_size`` (H, W): the image is fitted
    inside it; neither: the size is only rounded. Returns the resized image and the scales
    ``resized / original`` in x and y; original coordinates are ``resized / scale``.
    """
    h, w = image.shape[:2]
    if target_long_side is not None and target_size is not None:
        raise ValueError("give target_long_side or target_size, not both")
    if target_long_side is not None:
        s = target_long_side / max(h, w)
        nh, nw = _round_to(h * s, multiple), _round_to(w * s, multiple)
    elif target_size is not None:
        s = min(target_size[0] / h, target_size[1] / w)
        nh, nw = _round_to(h * s, multiple, target_size[0]), _round_to(w * s, multiple, target_size[1])
    else:
        nh, nw = _round_to(h, multiple), _round_to(w, multiple)
    if (nh, nw) == (h, w):
        return image, 1.0, 1.0
    interp = cv2.INTER_AREA if nw * nh < w * h else cv2.INTER_LINEAR
    return cv2.resize(image, (nw, nh), interpolation=interp), nw / w, nh / h


def resize_pad_square(image: np.ndarray, polys: list[np.ndarray], size: int
                      ) -> tuple[np.ndarray, list[np.ndarray], float, float]:
    """Evaluation input: long side ``size`` (sides multiples of 32), padded bottom/right to a square.

    Returns the square image, the polygons in its coordinates, and the scales (x, y) that map
    original coordinates to it (``x_resized ~ x * scale``).
    """
    resized, sx, sy = resize_for_inference(image, target_size=(size, size))
    out = _pad_square(resized, size, paper_colour(image))
    return out, _resize_points(polys, sx, sy), sx, sy


def resize_long_side(image: np.ndarray, polys: list[np.ndarray], size: int
                     ) -> tuple[np.ndarray, list[np.ndarray], float, float]:
    """Evaluation input as the detector predictor reads it (``limit_type: long``): long side ``size``, sides
    multiples of 32, no padding. Returns the image, the polygons in its coordinates and the scales (x, y)."""
    resized, sx, sy = resize_for_inference(image, target_long_side=size)
    return resized, _resize_points(polys, sx, sy), sx, sy


def normalize(image: np.ndarray) -> np.ndarray:
    """RGB uint8 (H, W, 3) -> float32 (3, H, W): (x / 255 - MEAN) / STD."""
    return ((image.astype(np.float32) / 255.0 - MEAN) / STD).transpose(2, 0, 1).copy()


def denormalize(chw: np.ndarray) -> np.ndarray:
    """Inverse of :func:`normalize` for drawing: float (3, H, W) -> RGB uint8 (H, W, 3)."""
    return np.clip(np.rint((chw.transpose(1, 2, 0) * STD + MEAN) * 255.0), 0, 255).astype(np.uint8)


def _paddle_limit(h: int, w: int, limit: int, limit_type: str, multiple: int) -> tuple[int, int]:
    """PaddleOCR's DetResizeForTest sizes: ``max`` shrinks so the long side is at most ``limit``, ``min``
    enlarges so the short side is at least it; then each side rounds to the nearest multiple."""
    if limit_type == "max":
        ratio = limit / max(h, w) if max(h, w) > limit else 1.0
    else:
        ratio = limit / min(h, w) if min(h, w) < limit else 1.0
    nh = max(int(round(int(h * ratio) / multiple)) * multiple, multiple)
    nw = max(int(round(int(w * ratio) / multiple)) * multiple, multiple)
    return nh, nw


def resize_limited(image: np.ndarray, limit_side_len: int, limit_type: str = "long", multiple: int = 32,
                   max_side_len: int = 0) -> np.ndarray:
    """The detector's input size rule (see :class:`ocdr.models.settings.DetectorSettings`).

    ``long``: ocdr's rule (:func:`resize_for_inference`); ``max``/``min``: PaddleOCR's, with bilinear
    resizing as PaddleOCR does; ``max_side_len`` first shrinks a larger image (RapidOCR's global step)."""
    if limit_type == "long":
        return resize_for_inference(image, limit_side_len, multiple=multiple)[0]
    if max_side_len and max(image.shape[:2]) > max_side_len:
        nh, nw = _paddle_limit(*image.shape[:2], max_side_len, "max", multiple)
        image = cv2.resize(image, (nw, nh))
    nh, nw = _paddle_limit(*image.shape[:2], limit_side_len, limit_type, multiple)
    if (nh, nw) == image.shape[:2]:
        return image
    return cv2.resize(image, (nw, nh))


def normalize_with(image: np.ndarray, mean, std, channel_order: str = "RGB") -> np.ndarray:
    """RGB uint8 (H, W, 3) -> float32 (3, H, W): (x / 255 - mean) / std in ``channel_order``; mean and std
    are given in that order too.

    A uint8 channel has 256 values, so each output plane is a 256-entry table look-up (cv2.LUT) of the
    same float32 arithmetic: equal to the direct formula, and 5-15x faster on a photo."""
    image = np.asarray(image)
    scale, shift = _scale_shift(mean, std)
    if image.dtype != np.uint8:
        img = image[:, :, ::-1] if channel_order == "BGR" else image
        return (img.astype(np.float32) * scale - shift).transpose(2, 0, 1).copy()
    tables = np.arange(256, dtype=np.float32)[None, :] * scale[:, None] - shift[:, None]
    planes = cv2.split(np.ascontiguousarray(image))
    if channel_order == "BGR":
        planes = planes[::-1]
    out = np.empty((3, *image.shape[:2]), np.float32)
    for c, plane in enumerate(planes):
        cv2.LUT(plane, tables[c].reshape(1, 256), dst=out[c])
    return out


def _scale_shift(mean, std) -> tuple[np.ndarray, np.ndarray]:
    scale = (1.0 / (255.0 * np.asarray(std, np.float32))).astype(np.float32)
    shift = (np.asarray(mean, np.float32) / np.asarray(std, np.float32)).astype(np.float32)
    return scale, shift
