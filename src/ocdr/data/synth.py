"""``ocdr data synth``: synthetic handwriting-like pages, the embedded default dataset.

Each page is paper (plain, ruled or a printed form), a printed header, and rows of words written
in handwriting-like or print fonts, each word slightly rotated; then the whole page gets a slight
perspective, blur, noise and lighting. Every word's quadrilateral is the tight ink box of the
word carried through the same rotation and perspective as its pixels, so boxes follow the
rotated word exactly. Pages are independent (one RNG per page index), so the output is the same
for a seed whatever the number of worker processes.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from multiprocessing import get_context
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ocdr.data.charset import build_charset, write_charset
from ocdr.data.formats import TextRegion, write_gt_list, write_icdar_gt
from ocdr.data.images import write_image
from ocdr.data.polygon import order_quad
from ocdr.errors import OcdrError

__all__ = ["SynthSpec", "generate", "render_page", "find_fonts", "load_words", "rectify_quad"]
log = logging.getLogger("ocdr.synth")

# Debian font packages installed by `make` (scripts/install_fonts.sh); licences in the README.
HANDWRITING_FONTS = (
    "fifthhorseman/dkg.ttf", "fifthhorseman/dkgIt.ttf", "humor-sans/Humor-Sans.ttf", "breip/Breip.ttf",
    "femkeklaver/femkeklaver.ttf", "dancingscript/DancingScript-Regular.otf", "kristi/Kristi.ttf",
    "comic-neue/ComicNeue-Regular.otf", "comic-neue/ComicNeue-Italic.otf",
)
PRINT_FONTS = ("dejavu/DejaVuSans.ttf", "dejavu/DejaVuSerif.ttf", "dejavu/DejaVuSansMono.ttf")
FONT_ROOTS = ("/usr/share/fonts/truetype", "/usr/share/fonts/opentype")
PUNCT_AFTER = (",", ".", ":", ";", "!", "?")
INKS = ((20, 30, 120), (15, 15, 20), (50, 50, 55), (25, 60, 160), (150, 20, 25))


@dataclass
class SynthSpec:
    output_dir: str = field(default="data/synth", metadata={"help": "where the dataset is written"})
    num_pages: int = field(default=200, metadata={"help": "pages to generate"})
    test_fraction: float = field(default=0.2, metadata={"help": "the last pages (by index) go to the test split"})
    seed: int = field(default=0, metadata={"help": "random seed: the same seed gives the same files"})
    min_width: int = field(default=480, metadata={"help": "smallest page width (px)"})
    max_width: int = field(default=800, metadata={"help": "largest page width (px)"})
    min_height: int = field(default=480, metadata={"help": "smallest page height (px)"})
    max_height: int = field(default=960, metadata={"help": "largest page height (px)"})
    words_per_page_min: int = field(default=12, metadata={"help": "fewest words on a page"})
    words_per_page_max: int = field(default=40, metadata={"help": "most words on a page"})
    min_text_height: int = field(default=18, metadata={"help": "smallest font size (px)"})
    max_text_height: int = field(default=44, metadata={"help": "largest font size (px)"})
    max_rotation_deg: float = field(default=5.0, metadata={"help": "each word is rotated by up to this angle"})
    perspective: float = field(default=0.03, metadata={"help": "page corner jitter, as a fraction of the page size"})
    blur_prob: float = field(default=0.5, metadata={"help": "probability of a slight Gaussian blur"})
    noise_prob: float = field(default=0.7, metadata={"help": "probability of sensor noise"})
    print_prob: float = field(default=0.2, metadata={"help": "probability that a row is printed rather than handwritten"})
    fonts: list[str] = field(default_factory=list, metadata={"help": ".ttf/.otf files to use (empty: the Debian fonts, else Pillow's)"})
    crops: bool = field(default=True, metadata={"help": "also write rectified word crops and gt_list.txt"})
    crop_padding: int = field(default=2, metadata={"help": "pixels of context around each crop"})
    jpeg_quality: int = field(default=90, metadata={"help": "JPEG quality of the page images"})
    workers: int = field(default=2, metadata={"help": "processes generating pages"})

    def validate(self) -> None:
        if self.num_pages < 1:
            raise OcdrError(f"num_pages must be >= 1, got {self.num_pages}")
        if not (0 < self.min_width <= self.max_width and 0 < self.min_height <= self.max_height):
            raise OcdrError("page size: need 0 < min_width <= max_width and 0 < min_height <= max_height")
        if min(self.min_width, self.min_height) < 4 * self.max_text_height:
            raise OcdrError("pages must be at least 4 times max_text_height on each side")
        if not 0 <= self.test_fraction < 1:
            raise OcdrError(f"test_fraction must be in [0, 1), got {self.test_fraction}")


# --- resources ------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def load_words() -> tuple[str, ...]:
    text = resources.files("ocdr").joinpath("resources/words.txt").read_text(encoding="utf-8")
    return tuple(w for w in text.split() if w)


def find_fonts(explicit: tuple[str, ...] = ()) -> tuple[list[str], list[str]]:
    """(handwriting fonts, print fonts) as file paths; explicit ones count as handwriting."""
    if explicit:
        missing = [f for f in explicit if not Path(f).is_file()]
        if missing:
            raise OcdrError(f"font file not found: {missing[0]}")
        return list(explicit), []

    def present(names):
        return [str(Path(root) / n) for n in names for root in FONT_ROOTS if (Path(root) / n).is_file()]

    return present(HANDWRITING_FONTS), present(PRINT_FONTS)


@lru_cache(maxsize=256)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    if path == "<pillow>":
        return ImageFont.load_default(size=size)
    return ImageFont.truetype(path, size=size)


@lru_cache(maxsize=64)
def _supported(path: str) -> frozenset[str]:
    """Characters the font really draws (a missing glyph renders as nothing or as .notdef)."""
    font = _font(path, 32)
    notdef = font.getmask("\uffff").getbbox()
    ok = set()
    for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,:;!?'()-/$%&#":
        mask = font.getmask(c)
        box = mask.getbbox()
        if box and (notdef is None or box != notdef or c in ".,'"):
            ok.add(c)
    return frozenset(ok)


# --- content --------------------------------------------------------------------------------

def _make_word(rng: np.random.Generator, words: tuple[str, ...]) -> str:
    kind = rng.random()
    if kind < 0.14:
        style = rng.integers(5)
        if style == 0:
            return str(int(rng.integers(0, 10000)))
        if style == 1:
            return f"{rng.integers(0, 1000)}.{rng.integers(0, 100):02d}"
        if style == 2:
            return f"{rng.integers(1, 29):02d}/{rng.integers(1, 13):02d}/{rng.integers(1950, 2030)}"
        if style == 3:
            return f"{rng.integers(100, 1000)}-{rng.integers(0, 10000):04d}"
        return f"{rng.integers(0, 24)}:{rng.integers(0, 60):02d}"
    w = words[int(rng.integers(len(words)))]
    case = rng.random()
    if case < 0.22:
        w = w.capitalize()
    elif case < 0.32:
        w = w.upper()
    punct = rng.random()
    if punct < 0.18:
        w += PUNCT_AFTER[int(rng.integers(len(PUNCT_AFTER)))]
    elif punct < 0.21:
        w = f"({w})"
    elif punct < 0.24:
        w += "'s"
    elif punct < 0.26 and len(w) > 3:
        cut = int(rng.integers(2, len(w) - 1))
        w = f"{w[:cut]}-{w[cut:]}"
    return w


def _paper(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    base = rng.uniform(222, 252)
    tint = rng.uniform(-8, 4, size=3)
    img = np.empty((h, w, 3), np.float32)
    img[:] = base + tint
    gy = np.linspace(-1, 1, h, dtype=np.float32)[:, None, None]
    gx = np.linspace(-1, 1, w, dtype=np.float32)[None, :, None]
    img += rng.uniform(-10, 10) * gy + rng.uniform(-10, 10) * gx
    fibre = cv2.GaussianBlur(rng.normal(0, 6, (h, w)).astype(np.float32), (0, 0), 1.5)
    img += fibre[:, :, None]
    return img


def _draw_ruling(rng, img: np.ndarray, line_height: int, top: int) -> str:
    """Ruled lines, a form grid or nothing; returns the style name."""
    h, w = img.shape[:2]
    style = ("plain", "ruled", "form")[int(rng.choice(3, p=[0.3, 0.4, 0.3]))]
    colour = tuple(float(c) for c in rng.choice([(170, 190, 225), (160, 160, 160), (200, 170, 170)]))
    if style == "ruled":
        for y in range(top + line_height, h - 4, line_height):
            cv2.line(img, (0, y), (w, y), colour, 1, cv2.LINE_AA)
        if rng.random() < 0.6:
            x = int(w * rng.uniform(0.06, 0.12))
            cv2.line(img, (x, 0), (x, h), (150, 150, 230), 1, cv2.LINE_AA)
    elif style == "form":
        for y in range(top, h - line_height, line_height):
            cv2.rectangle(img, (8, y), (w - 8, y + line_height), colour, 1, cv2.LINE_AA)
        for x in np.sort(rng.uniform(0.25, 0.75, size=int(rng.integers(0, 3)))):
            cv2.line(img, (int(x * w), top), (int(x * w), h - line_height), colour, 1, cv2.LINE_AA)
    return style


# --- one word -------------------------------------------------------------------------------

def _render_word(text: str, font: ImageFont.FreeTypeFont, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """Coverage mask (float 0..1) of the rotated word and its ink quad in mask coordinates."""
    left, top, right, bottom = font.getbbox(text)
    pad = 4
    canvas = Image.new("L", (right - left + 2 * pad, bottom - top + 2 * pad), 0)
    ImageDraw.Draw(canvas).text((pad - left, pad - top), text, font=font, fill=255)
    mask = np.asarray(canvas, dtype=np.float32) / 255.0
    ys, xs = np.nonzero(mask > 0.15)
    if len(xs) == 0:
        raise ValueError("nothing drawn")
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    quad = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float64)
    h, w = mask.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(np.ceil(w * cos + h * sin)), int(np.ceil(w * sin + h * cos))
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    rotated = cv2.warpAffine(mask, m, (nw, nh), flags=cv2.INTER_LINEAR, borderValue=0)
    quad = np.hstack([quad, np.ones((4, 1))]) @ m.T
    return rotated, quad


def _overlaps(box: tuple[int, int, int, int], placed: list[tuple[int, int, int, int]], gap: int) -> bool:
    x0, y0, x1, y1 = box
    return any(x0 < b[2] + gap and b[0] < x1 + gap and y0 < b[3] + gap and b[1] < y1 + gap for b in placed)


# --- one page -------------------------------------------------------------------------------

def _choose_font(rng, fonts: list[str], text: str) -> str | None:
    order = rng.permutation(len(fonts))
    for i in order:
        if set(text) <= _supported(fonts[i]):
            return fonts[i]
    return None


def render_page(rng: np.random.Generator, spec: SynthSpec, hand_fonts: list[str], print_fonts: list[str],
                words: tuple[str, ...]) -> tuple[np.ndarray, list[TextRegion]]:
    """One page: RGB uint8 image and its word regions (clockwise quads from top-left)."""
    h = int(rng.integers(spec.min_height, spec.max_height + 1))
    w = int(rng.integers(spec.min_width, spec.max_width + 1))
    img = _paper(rng, h, w)
    hand = hand_fonts or ["<pillow>"]
    printed = print_fonts or hand
    size_base = int(rng.integers(spec.min_text_height, spec.max_text_height + 1))
    line_height = int(size_base * rng.uniform(1.5, 2.0))
    margin = int(rng.uniform(0.04, 0.1) * w)
    top = int(rng.uniform(0.03, 0.08) * h)
    style = _draw_ruling(rng, img, line_height, top + line_height)
    target = int(rng.integers(spec.words_per_page_min, spec.words_per_page_max + 1))
    ink = np.array(INKS[int(rng.choice(len(INKS), p=[0.35, 0.3, 0.15, 0.15, 0.05]))], np.float32)
    regions: list[TextRegion] = []
    placed: list[tuple[int, int, int, int]] = []
    y = top
    row = 0
    while len(regions) < target and y + line_height < h - top:
        is_print = row == 0 or rng.random() < spec.print_prob
        fonts = printed if is_print else hand
        size = int(np.clip(size_base * (0.7 if is_print else rng.uniform(0.85, 1.2)), 10, spec.max_text_height))
        x = margin + int(rng.integers(0, max(line_height, 1)))
        row_ink = np.array((25, 25, 30), np.float32) if is_print else ink
        while x < w - margin and len(regions) < target:
            text = _make_word(rng, words).upper() if (is_print and row == 0) else _make_word(rng, words)
            path = _choose_font(rng, fonts, text)
            if path is None:
                x += size
                continue
            angle = 0.0 if is_print else float(rng.uniform(-spec.max_rotation_deg, spec.max_rotation_deg))
            try:
                mask, quad = _render_word(text, _font(path, size), angle)
            except ValueError:
                continue
            mh, mw = mask.shape
            oy = y + int(rng.integers(-2, 3)) + (line_height - mh) // 2 if not is_print else y + (line_height - mh) // 2
            if x + mw > w - margin // 2 or oy < 2 or oy + mh > h - 2:
                break
            q = quad + [x, oy]
            box = (int(q[:, 0].min()), int(q[:, 1].min()), int(np.ceil(q[:, 0].max())), int(np.ceil(q[:, 1].max())))
            if _overlaps(box, placed, 3):
                x += mw // 2
                continue
            alpha = mask[:, :, None] * float(rng.uniform(0.8, 1.0))
            roi = img[oy:oy + mh, x:x + mw]
            roi[:] = roi * (1 - alpha) + row_ink * alpha
            placed.append(box)
            regions.append(TextRegion(order_quad(q), text))
            x += mw + int(size * rng.uniform(0.3, 1.0))
        y += line_height
        row += 1
    img, regions = _page_perspective(rng, img, regions, spec.perspective)
    return _degrade(rng, img, spec), regions


def _page_perspective(rng, img: np.ndarray, regions: list[TextRegion], amount: float):
    """Warp the page as if photographed slightly off-axis; quads go through the same matrix."""
    if amount <= 0:
        return img, regions
    h, w = img.shape[:2]
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    jitter = rng.uniform(0, amount, size=(4, 2)) * [w, h]
    dst = np.float32(src + jitter * [[1, 1], [-1, 1], [-1, -1], [1, -1]])  # corners move inwards
    m = cv2.getPerspectiveTransform(src, dst)
    border = tuple(float(v) for v in rng.uniform(60, 140, size=3))  # the table under the page
    warped = cv2.warpPerspective(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                 borderValue=border)
    out = []
    for r in regions:
        pts = cv2.perspectiveTransform(r.points.reshape(1, -1, 2).astype(np.float64), m)[0]
        out.append(TextRegion(order_quad(pts), r.text))
    return warped, out


def _degrade(rng, img: np.ndarray, spec: SynthSpec) -> np.ndarray:
    h, w = img.shape[:2]
    if rng.random() < 0.4:  # uneven lighting of a photo
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        dist = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2) / max(h, w)
        img = img * (1.0 - rng.uniform(0.05, 0.25) * dist)[:, :, None]
    if rng.random() < spec.blur_prob:
        img = cv2.GaussianBlur(img, (0, 0), float(rng.uniform(0.3, 1.0)))
    if rng.random() < spec.noise_prob:
        img = img + rng.normal(0, rng.uniform(1.5, 6.0), img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


# --- crops ----------------------------------------------------------------------------------

def rectify_quad(image: np.ndarray, quad: np.ndarray, padding: int = 0) -> np.ndarray:
    """The quad's content warped upright (width along the top edge), with ``padding`` pixels around."""
    q = np.asarray(quad, np.float64)
    width = max(np.linalg.norm(q[1] - q[0]), np.linalg.norm(q[2] - q[3]))
    height = max(np.linalg.norm(q[3] - q[0]), np.linalg.norm(q[2] - q[1]))
    wi, hi = max(int(round(width)), 1), max(int(round(height)), 1)
    dst = np.float32([[padding, padding], [padding + wi, padding], [padding + wi, padding + hi], [padding, padding + hi]])
    m = cv2.getPerspectiveTransform(q.astype(np.float32), dst)
    return cv2.warpPerspective(image, m, (wi + 2 * padding, hi + 2 * padding), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)


# --- the dataset ----------------------------------------------------------------------------

def _split_of(index: int, spec: SynthSpec) -> str:
    n_test = int(round(spec.num_pages * spec.test_fraction))
    if spec.num_pages > 1 and spec.test_fraction > 0:
        n_test = min(max(n_test, 1), spec.num_pages - 1)
    return "test" if index >= spec.num_pages - n_test else "train"


def _page_job(args: tuple[int, SynthSpec, list[str], list[str]]) -> tuple[str, list[tuple[str, str]], list[str]]:
    index, spec, hand, printed = args
    rng = np.random.default_rng([spec.seed, index])
    image, regions = render_page(rng, spec, hand, printed, load_words())
    split = _split_of(index, spec)
    out = Path(spec.output_dir) / split
    stem = f"synth_{index:05d}"
    write_image(out / "img" / f"{stem}.jpg", image, quality=spec.jpeg_quality)
    write_icdar_gt(out / "gt" / f"gt_{stem}.txt", regions)
    samples = []
    if spec.crops:
        for k, r in enumerate(regions):
            name = f"{stem}_{k:03d}.png"
            write_image(out / "crops" / name, rectify_quad(image, r.points, spec.crop_padding))
            samples.append((name, r.text))
    return split, samples, [r.text for r in regions]


def generate(spec: SynthSpec) -> dict:
    """Write the synthetic dataset; returns a summary."""
    start = time.perf_counter()
    hand, printed = find_fonts(tuple(spec.fonts))
    if not hand and not printed:
        log.warning("no TrueType fonts found (run `make fonts`); using Pillow's built-in font")
    jobs = [(i, spec, hand, printed) for i in range(spec.num_pages)]
    if spec.workers > 1 and spec.num_pages >= 8:
        with get_context("fork").Pool(spec.workers) as pool:
            results = pool.map(_page_job, jobs, chunksize=4)
    else:
        results = [_page_job(j) for j in jobs]
    out = Path(spec.output_dir)
    per_split: dict[str, list[tuple[str, str]]] = {}
    pages: dict[str, int] = {}
    labels: list[str] = []
    for split, samples, texts in results:
        per_split.setdefault(split, []).extend(samples)
        pages[split] = pages.get(split, 0) + 1
        labels.extend(texts)
    if spec.crops:
        for split, samples in per_split.items():
            write_gt_list(out / split / "crops" / "gt_list.txt", samples)
    chars = build_charset(labels)
    write_charset(out / "character_list.txt", chars)
    return {"output_dir": str(out), "pages": pages, "words": len(labels), "characters": len(chars),
            "fonts": [Path(f).name for f in hand + printed] or ["pillow default"],
            "seconds": round(time.perf_counter() - start, 1)}
