"""``ocdr data synth``: synthetic handwriting-like pages, the embedded default dataset.

A page is paper (plain, ruled, squared, or a printed form with field labels), a printed header
over a rule, and rows of words written in handwriting-like fonts (sometimes typed) sitting on
their baselines, each word slightly rotated and sized; then the whole page gets a slight
perspective (a photo taken off-axis), uneven light, blur, noise and JPEG compression.

Every word's quadrilateral is the tight ink box of the unrotated word carried through the same
rotation and page perspective as its pixels, so boxes follow the rotated word exactly; words
never overlap and stay inside the page. Crops are cut from the page as written to disk (after
JPEG), rectified through the quad, as a detector plus rectifier would give them.

Pages are independent (one RNG per ``(seed, page index)``), so the files are the same for a
seed whatever the number of worker processes.

The dataset is written into a temporary folder beside ``output_dir`` and renamed onto it when complete, so
``output_dir`` holds one whole run or nothing: a non-empty ``output_dir`` is refused (stale pages would end up
in both splits) unless ``overwrite=true``, which replaces it whole; of two runs into the same folder at once,
the one that finishes second fails and leaves the other's dataset as it was.
"""
from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from multiprocessing import get_context
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ocdr.data.charset import build_charset, write_charset
from ocdr.data.formats import TextRegion, write_gt_list, write_icdar_gt
from ocdr.data.polygon import order_quad
from ocdr.errors import DataError, OcdrError
from ocdr.fileio import atomic_write_bytes

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
CAPS_ONLY_FONTS = frozenset({"Humor-Sans.ttf"})  # draws lower case as small capitals: labels go upper case
PILLOW_FONT = "<pillow>"  # Pillow's bundled FreeType font: generation never fails for lack of fonts
PUNCT_AFTER = (",", ".", ":", ";", "!", "?")
# blue, black, dark grey, light blue, red: weights in INK_P
INKS = ((20, 30, 120), (15, 15, 20), (50, 50, 55), (25, 60, 160), (150, 20, 25))
INK_P = (0.35, 0.3, 0.15, 0.15, 0.05)
PRINT_INK = (25, 25, 30)
# A form's printed field labels and the kind of value written after each.
FORM_FIELDS = (
    ("Name:", "name"), ("Date:", "date"), ("Amount:", "amount"), ("Phone:", "phone"), ("Address:", "text"),
    ("Ref:", "number"), ("Time:", "time"), ("Notes:", "text"), ("Total:", "amount"), ("City:", "name"),
    ("Signed:", "name"), ("Qty:", "number"), ("Comments:", "text"), ("Tel.", "phone"), ("Item:", "text"),
)
_GLYPH_CHECK = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,:;!?'()-/$%&#"


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
    words_per_page_min: int = field(default=12, metadata={"help": "fewest words a page aims for (a full page may hold fewer)"})
    words_per_page_max: int = field(default=40, metadata={"help": "most words on a page"})
    min_text_height: int = field(default=18, metadata={"help": "smallest handwriting font size (px)"})
    max_text_height: int = field(default=44, metadata={"help": "largest handwriting font size (px)"})
    max_rotation_deg: float = field(default=5.0, metadata={"help": "each handwritten word is rotated by up to this angle"})
    perspective: float = field(default=0.03, metadata={"help": "page corner jitter, as a fraction of the page size"})
    blur_prob: float = field(default=0.5, metadata={"help": "probability of a slight Gaussian blur"})
    noise_prob: float = field(default=0.7, metadata={"help": "probability of sensor noise"})
    print_prob: float = field(default=0.15, metadata={"help": "probability that a row of notes is typed rather than handwritten"})
    fonts: list[str] = field(default_factory=list, metadata={"help": ".ttf/.otf files to use (empty: the Debian fonts, else Pillow's)"})
    crops: bool = field(default=True, metadata={"help": "also write rectified word crops (native resolution) and gt_list.txt"})
    crop_padding: int = field(default=2, metadata={"help": "pixels of context around each crop"})
    min_jpeg_quality: int = field(default=60, metadata={"help": "lowest JPEG quality of a page (drawn per page)"})
    jpeg_quality: int = field(default=92, metadata={"help": "highest JPEG quality of a page"})
    workers: int = field(default=2, metadata={"help": "processes generating pages"})
    overwrite: bool = field(default=False, metadata={"help": "replace a non-empty output_dir whole (by default it is "
                                                             "refused: old pages would mix with the new ones)"})

    def validate(self) -> None:
        if self.num_pages < 1:
            raise OcdrError(f"num_pages must be >= 1, got {self.num_pages}")
        if not (0 < self.min_width <= self.max_width and 0 < self.min_height <= self.max_height):
            raise OcdrError("page size: need 0 < min_width <= max_width and 0 < min_height <= max_height")
        if not 6 <= self.min_text_height <= self.max_text_height:
            raise OcdrError("text size: need 6 <= min_text_height <= max_text_height")
        if min(self.min_width, self.min_height) < 4 * self.max_text_height:
            raise OcdrError("pages must be at least 4 times max_text_height on each side")
        if not 0 <= self.test_fraction < 1:
            raise OcdrError(f"test_fraction must be in [0, 1), got {self.test_fraction}")
        if not 0 < self.words_per_page_min <= self.words_per_page_max:
            raise OcdrError("need 0 < words_per_page_min <= words_per_page_max")
        if not 1 <= self.min_jpeg_quality <= self.jpeg_quality <= 100:
            raise OcdrError("JPEG quality: need 1 <= min_jpeg_quality <= jpeg_quality <= 100")


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
    if path == PILLOW_FONT:
        return ImageFont.load_default(size=size)
    return ImageFont.truetype(path, size=size)


def _glyph(font: ImageFont.FreeTypeFont, char: str) -> tuple[tuple[int, int], bytes]:
    mask = font.getmask(char)
    return mask.size, bytes(mask)


def _draws(path: str, char: str) -> bool:
    """Whether the font has a glyph for ``char``. A missing glyph draws nothing or the .notdef
    box, so the bitmap must be non-empty and differ from .notdef's (bounding boxes alone are not
    enough: femkeklaver's "9" has the same box as its .notdef)."""
    font = _font(path, 32)
    return font.getmask(char).getbbox() is not None and _glyph(font, char) != _glyph(font, "\uffff")


@lru_cache(maxsize=64)
def _supported(path: str) -> frozenset[str]:
    """The characters of generated text that the font really draws."""
    return frozenset(c for c in _GLYPH_CHECK if _draws(path, c))


@lru_cache(maxsize=64)
def _size_scale(path: str) -> float:
    """Font-size factor that gives every font about the same x-height (0.48 of the size), so a
    page's size draws, say, Kristi (small x-height) no smaller than Comic Neue."""
    x_height = -_font(path, 100).getbbox("x", anchor="ls")[1]
    return float(np.clip(48.0 / max(x_height, 1), 0.85, 1.5))


# --- content --------------------------------------------------------------------------------

def _make_token(rng: np.random.Generator, words: tuple[str, ...], kind: str = "text") -> str:
    """One word as it is written: a dictionary word in some case with punctuation, or a number."""
    if kind == "date":
        d, m, y = int(rng.integers(1, 29)), int(rng.integers(1, 13)), int(rng.integers(1950, 2030))
        return (f"{d:02d}/{m:02d}/{y}", f"{y}-{m:02d}-{d:02d}", f"{d}.{m}.{y % 100:02d}")[int(rng.integers(3))]
    if kind == "amount":
        units = int(rng.integers(0, 10 ** int(rng.integers(1, 5))))
        text = f"{units:,}" if rng.random() < 0.3 else str(units)
        return ("$" if rng.random() < 0.25 else "") + f"{text}.{int(rng.integers(0, 100)):02d}"
    if kind == "phone":
        return (f"{rng.integers(200, 1000)}-{rng.integers(0, 10000):04d}",
                f"0{rng.integers(100, 1000)}-{rng.integers(0, 1000000):06d}")[int(rng.integers(2))]
    if kind == "time":
        return f"{rng.integers(0, 24)}:{rng.integers(0, 60):02d}"
    if kind == "number":
        return str(int(rng.integers(0, 10 ** int(rng.integers(1, 6)))))
    if kind == "name":
        return words[int(rng.integers(len(words)))].capitalize()
    if rng.random() < 0.14:
        return _make_token(rng, words, ("date", "amount", "phone", "time", "number")[int(rng.integers(5))])
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
        w += "'S" if w.isupper() else "'s"
    elif punct < 0.26 and len(w) > 3:
        cut = int(rng.integers(2, len(w) - 1))
        w = f"{w[:cut]}-{w[cut:]}"
    return w


# --- paper ----------------------------------------------------------------------------------

def _paper(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Off-white float32 RGB paper with a slight tint, gradient and fibre texture."""
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


def _line_colour(rng: np.random.Generator) -> tuple[float, float, float]:
    return tuple(float(c) for c in rng.choice([(170, 190, 225), (160, 160, 160), (200, 170, 170)]))


# --- one word -------------------------------------------------------------------------------

def _render_word(text: str, font: ImageFont.FreeTypeFont, angle: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coverage mask (float 0..1) of the rotated word, its ink quad and the middle of its
    baseline, both in mask coordinates."""
    left, top, right, bottom = font.getbbox(text, anchor="ls")
    pad = 4
    canvas = Image.new("L", (right - left + 2 * pad, bottom - top + 2 * pad), 0)
    ImageDraw.Draw(canvas).text((pad - left, pad - top), text, font=font, fill=255, anchor="ls")
    mask = np.asarray(canvas, dtype=np.float32) / 255.0
    ys, xs = np.nonzero(mask > 0.15)  # antialiasing fringe below this is not ink
    if len(xs) == 0:
        raise ValueError(f"nothing drawn for {text!r}")
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    pts = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1], [(x0 + x1) / 2, pad - top]], np.float64)
    h, w = mask.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(np.ceil(w * cos + h * sin)), int(np.ceil(w * sin + h * cos))
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    rotated = cv2.warpAffine(mask, m, (nw, nh), flags=cv2.INTER_LINEAR, borderValue=0)
    pts = np.hstack([pts, np.ones((5, 1))]) @ m.T
    return rotated, pts[:4], pts[4]


def _choose_font(rng: np.random.Generator, fonts: list[str], text: str) -> str | None:
    for i in rng.permutation(len(fonts)):
        if set(text) <= _supported(fonts[i]):
            return fonts[i]
    return None


@dataclass
class _Page:
    """The page being written: pixels (float32 RGB), regions so far and their bounding boxes."""

    img: np.ndarray
    regions: list[TextRegion] = field(default_factory=list)
    boxes: list[tuple[float, float, float, float]] = field(default_factory=list)

    def free(self, box: tuple[float, float, float, float], gap: float = 3) -> bool:
        x0, y0, x1, y1 = box
        return not any(x0 < b[2] + gap and b[0] < x1 + gap and y0 < b[3] + gap and b[1] < y1 + gap for b in self.boxes)


def _write(page: _Page, rng: np.random.Generator, text: str, font_path: str, size: int, angle: float,
           x: float, baseline: float, limits: tuple[float, float, float, float], ink) -> float | None:
    """Write ``text`` with its ink starting at ``x`` and its baseline at ``baseline``; return the
    ink's right edge, or None (nothing drawn) when the ink would leave ``limits`` or touch a word.
    A word too tall for the limits is written once more at a size that fits."""
    size = max(int(round(size * _size_scale(font_path))), 6)
    for _ in range(2):
        try:
            mask, quad, base = _render_word(text, _font(font_path, size), angle)
        except ValueError:
            return None
        ox = int(np.ceil(x - quad[:, 0].min()))  # ceil: the ink starts at x, never left of it
        oy = int(round(baseline - base[1]))
        q = quad + [ox, oy]
        box = (q[:, 0].min(), q[:, 1].min(), q[:, 0].max(), q[:, 1].max())
        room = limits[3] - limits[1]
        if box[3] - box[1] <= room or size <= 6:
            break
        size = max(int(size * room / (box[3] - box[1]) * 0.95), 6)
    # a tall capital or a long descender moves the word up or down a little rather than dropping it
    shift = int(np.ceil(max(limits[1] - box[1], 0))) - int(np.ceil(max(box[3] - limits[3], 0)))
    if shift and box[3] - box[1] <= limits[3] - limits[1]:
        oy += shift
        q = quad + [ox, oy]
        box = (q[:, 0].min(), q[:, 1].min(), q[:, 0].max(), q[:, 1].max())
    if box[0] < limits[0] or box[1] < limits[1] or box[2] > limits[2] or box[3] > limits[3] or not page.free(box):
        return None
    h, w = page.img.shape[:2]
    mh, mw = mask.shape
    # the mask's empty padding may hang over the page edge: paste only the part on the page
    y0, y1, x0, x1 = max(oy, 0), min(oy + mh, h), max(ox, 0), min(ox + mw, w)
    alpha = mask[y0 - oy:y1 - oy, x0 - ox:x1 - ox, None] * float(rng.uniform(0.8, 1.0))
    colour = np.asarray(ink, np.float32) + rng.uniform(-12, 12, size=3).astype(np.float32)
    roi = page.img[y0:y1, x0:x1]
    roi[:] = roi * (1 - alpha) + colour * alpha
    page.boxes.append(box)
    page.regions.append(TextRegion(order_quad(q), text))
    return float(box[2])


def _write_row(page: _Page, rng, tokens, fonts: list[str], size: int, x0: float, x1: float, baseline: float,
               band: tuple[float, float], ink, max_angle: float, room: int, hand: bool) -> None:
    """Words from ``tokens`` left to right on one baseline until ``x1`` or ``room`` words."""
    x = x0
    written = misses = 0
    font = None
    for text in tokens:
        if written >= room or x >= x1 or misses > 8:
            return
        if font is None or set(text) - _supported(font):
            font = _choose_font(rng, fonts, text)  # a writer keeps one hand along a row
            if font is None:
                misses += 1  # no font draws this text: try another token, but not forever
                continue
        if Path(font).name in CAPS_ONLY_FONTS:
            text = text.upper()
        s = max(int(round(size * rng.uniform(0.9, 1.1))), 6) if hand else size
        angle = float(rng.uniform(-max_angle, max_angle)) if hand else 0.0
        jitter = float(rng.uniform(-0.06, 0.06) * size) if hand else 0.0
        right = _write(page, rng, text, font, s, angle, x, baseline + jitter, (x, band[0], x1, band[1]), ink)
        if right is None:
            return
        written += 1
        x = right + size * rng.uniform(0.35, 0.9)


# --- one page -------------------------------------------------------------------------------

def _tokens(rng, words, kind: str = "text", count: int | None = None):
    """Tokens of one kind, endless unless ``count`` is given (a row takes what fits)."""
    n = 0
    while count is None or n < count:
        yield _make_token(rng, words, kind)
        n += 1


def _header(page: _Page, rng, fonts: list[str], words, margin: int, top: int, size: int, room: int) -> int:
    """A printed title over a dark rule; returns the y below the rule."""
    h, w = page.img.shape[:2]
    psize = max(int(size * rng.uniform(0.7, 1.0)), 8)
    baseline = top + psize
    upper = rng.random() < 0.6
    tokens = (t.upper() if upper else t.capitalize() for t in (words[int(rng.integers(len(words)))] for _ in range(4)))
    x0 = margin if rng.random() < 0.6 else int(w * rng.uniform(0.2, 0.35))
    _write_row(page, rng, tokens, fonts, psize, x0, w - margin, baseline, (top - 4, baseline + psize), PRINT_INK,
               0, min(int(rng.integers(1, 5)), room), hand=False)
    rule = baseline + int(psize * 0.5)
    cv2.line(page.img, (margin // 2, rule), (w - margin // 2, rule), (60, 60, 60), int(rng.integers(1, 3)), cv2.LINE_AA)
    return rule + 3


def _notes(page: _Page, rng, spec: SynthSpec, hand: list[str], printed: list[str], words, ink, size: int,
           pitch: int, margin: int, y: int, target: int, style: str) -> None:
    """Rows of handwritten notes (now and then a typed row) sitting on ruled, squared or blank paper."""
    h, w = page.img.shape[:2]
    colour = _line_colour(rng)
    if style == "grid":
        step = max(pitch // 2, 6)
        for gy in range(y + step, h, step):
            cv2.line(page.img, (0, gy), (w, gy), colour, 1, cv2.LINE_AA)
        for gx in range(step // 2, w, step):
            cv2.line(page.img, (gx, y), (gx, h), colour, 1, cv2.LINE_AA)
        pitch = 2 * step
    baselines = list(range(y + pitch, h - pitch // 3, pitch))
    if style == "ruled":
        for b in baselines:
            cv2.line(page.img, (0, b + 1), (w, b + 1), colour, 1, cv2.LINE_AA)
        if rng.random() < 0.6:
            mx = int(margin * rng.uniform(0.6, 0.9))
            cv2.line(page.img, (mx, 0), (mx, h), (150, 150, 230), 1, cv2.LINE_AA)
    for b in baselines:
        if len(page.regions) >= target:
            return
        typed = rng.random() < spec.print_prob
        fonts, row_size = (printed, max(int(size * 0.7), 8)) if typed else (hand, size)
        x0 = margin + int(rng.integers(0, max(pitch, 2)))
        x1 = w - margin // 2 - int(rng.uniform(0, 0.35) * w)  # ragged right, like real notes
        band = (b - pitch + 2, min(b + pitch * 0.45, h - 2))
        _write_row(page, rng, _tokens(rng, words), fonts, row_size, x0, x1, b, band,
                   PRINT_INK if typed else ink, spec.max_rotation_deg, target - len(page.regions), hand=not typed)


def _form(page: _Page, rng, spec: SynthSpec, hand: list[str], printed: list[str], words, ink, size: int,
          pitch: int, margin: int, y: int, target: int) -> None:
    """A printed form: one field per box, a printed label, a divider, the handwritten value."""
    h, w = page.img.shape[:2]
    colour = tuple(float(c) for c in rng.uniform(70, 150, size=3))
    cell = int(pitch * rng.uniform(1.0, 1.2))
    lsize = max(int(size * rng.uniform(0.5, 0.7)), 8)
    label_font = _choose_font(rng, printed, "Address:") or printed[0]
    order = rng.permutation(len(FORM_FIELDS))
    left, right = margin // 2, w - margin // 2
    label_w = max(_font(label_font, lsize).getbbox(FORM_FIELDS[i][0])[2] for i in order)
    divider = left + label_w + 12
    top = y + 4
    # about 2.5 words a field (label, value) make the target; the form ends where the rows end
    rows = int(np.clip(round(target / 2.5), 2, len(FORM_FIELDS)))
    for k in range(rows):
        if top + cell > h - 4 or len(page.regions) >= spec.words_per_page_max:
            return
        label, kind = FORM_FIELDS[order[k]]
        cv2.rectangle(page.img, (left, top), (right, top + cell), colour, 1, cv2.LINE_AA)
        cv2.line(page.img, (divider, top), (divider, top + cell), colour, 1, cv2.LINE_AA)
        limits = (left + 2, top + 2, divider - 2, top + cell - 2)
        _write(page, rng, label, label_font, lsize, 0.0, left + 6, top + cell * 0.65, limits, PRINT_INK)
        if rng.random() < 0.85:  # some fields are left blank
            count = {"name": int(rng.integers(1, 3)), "text": None}.get(kind, 1)
            vsize = min(size, int(cell * 0.6))
            baseline = top + cell * rng.uniform(0.68, 0.78)
            _write_row(page, rng, _tokens(rng, words, kind, count), hand, vsize,
                       divider + 4 + rng.uniform(0, cell), right - 4, baseline, (top + 2, top + cell - 2), ink,
                       spec.max_rotation_deg * 0.6, spec.words_per_page_max - len(page.regions), hand=True)
        top += cell


def render_page(rng: np.random.Generator, spec: SynthSpec, hand_fonts: list[str], print_fonts: list[str],
                words: tuple[str, ...]) -> tuple[np.ndarray, list[TextRegion]]:
    """One page: RGB uint8 image and its word regions (clockwise quads from top-left)."""
    h = int(rng.integers(spec.min_height, spec.max_height + 1))
    w = int(rng.integers(spec.min_width, spec.max_width + 1))
    page = _Page(_paper(rng, h, w))
    hand = hand_fonts or [PILLOW_FONT]
    printed = print_fonts or hand
    size = int(rng.integers(spec.min_text_height, spec.max_text_height + 1))
    pitch = max(int(size * rng.uniform(1.5, 2.0)), size + 6)
    margin = int(rng.uniform(0.04, 0.09) * w)
    top = int(rng.uniform(0.02, 0.06) * h) + 4
    target = int(rng.integers(spec.words_per_page_min, spec.words_per_page_max + 1))
    ink = INKS[int(rng.choice(len(INKS), p=INK_P))]
    y = _header(page, rng, printed, words, margin, top, size, spec.words_per_page_max)
    style = ("plain", "ruled", "grid", "form")[int(rng.choice(4, p=[0.2, 0.35, 0.1, 0.35]))]
    if style == "form":
        _form(page, rng, spec, hand, printed, words, ink, size, pitch, margin, y, target)
    else:
        _notes(page, rng, spec, hand, printed, words, ink, size, pitch, margin, y, target, style)
    img, regions = _page_perspective(rng, page.img, page.regions, spec.perspective)
    return _degrade(rng, img, spec), regions


def _page_perspective(rng, img: np.ndarray, regions: list[TextRegion], amount: float):
    """Warp the page as if photographed slightly off-axis; quads go through the same matrix.
    Corners only move inwards, so whatever was inside the page stays inside."""
    if amount <= 0:
        return img, regions
    h, w = img.shape[:2]
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    jitter = rng.uniform(0, amount, size=(4, 2)) * [w, h]
    dst = np.float32(src + jitter * [[1, 1], [-1, 1], [-1, -1], [1, -1]])
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


def _encode(ext: str, rgb: np.ndarray, params: list[int] | None = None) -> bytes:
    ok, buf = cv2.imencode(ext, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), params or [])
    if not ok:
        raise OcdrError(f"cannot encode an image as {ext}")
    return buf.tobytes()


# --- the dataset ----------------------------------------------------------------------------

def _split_of(index: int, spec: SynthSpec) -> str:
    n_test = int(round(spec.num_pages * spec.test_fraction))
    if spec.num_pages > 1 and spec.test_fraction > 0:
        n_test = min(max(n_test, 1), spec.num_pages - 1)
    return "test" if index >= spec.num_pages - n_test else "train"


def _page_job(args: tuple[int, SynthSpec, list[str], list[str]]) -> tuple[str, list[tuple[str, str]], list[str]]:
    index, spec, hand, printed = args
    # seeded by the pair, so (seed 0, page 1) and (seed 1, page 0) are different pages
    rng = np.random.default_rng([spec.seed, index])
    image, regions = render_page(rng, spec, hand, printed, load_words())
    split = _split_of(index, spec)
    out = Path(spec.output_dir) / split
    stem = f"synth_{index:05d}"
    quality = int(rng.integers(spec.min_jpeg_quality, spec.jpeg_quality + 1))
    jpeg = _encode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    atomic_write_bytes(out / "img" / f"{stem}.jpg", jpeg)
    write_icdar_gt(out / "gt" / f"gt_{stem}.txt", regions)
    samples = []
    if spec.crops:
        written = cv2.cvtColor(cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        for k, r in enumerate(regions):
            name = f"{stem}_{k:03d}.png"
            atomic_write_bytes(out / "crops" / name, _encode(".png", rectify_quad(written, r.points, spec.crop_padding)))
            samples.append((name, r.text))
    return split, samples, [r.text for r in regions]


# Top-level entries of a dataset folder that `overwrite=true` may delete: what generate() and the CLI write.
OWN_ENTRIES = frozenset({"train", "test", "character_list.txt", "data_synth_spec.yaml"})


def generate(spec: SynthSpec) -> dict:
    """Write the synthetic dataset into ``spec.output_dir`` (all of it, or nothing); returns a summary."""
    spec.validate()
    out = Path(spec.output_dir)
    _check_target(out, spec.overwrite)
    staging = _staging_folder(out)
    try:
        summary = _generate_into(replace(spec, output_dir=str(staging)))
        _publish(staging, out, spec.overwrite)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already when published
    return {**summary, "output_dir": str(out)}


def _staging_folder(out: Path) -> Path:
    """An empty folder beside ``out`` (same file system, so the final rename is atomic)."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".partial"))
    except OSError as exc:
        raise DataError(out.parent, f"cannot create the dataset's folder here ({exc.strerror or exc})") from None
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(staging, 0o777 & ~mask)  # mkdtemp makes 0700; the dataset should be readable like any new folder
    return staging


def _check_target(out: Path, overwrite: bool) -> None:
    """Refuse a folder that already holds files, unless overwriting a folder this generator wrote."""
    try:
        if out.exists() and not out.is_dir():
            raise DataError(out, "output_dir exists and is not a folder")
        entries = sorted(p.name for p in out.iterdir()) if out.is_dir() else []
    except OSError as exc:
        raise DataError(out, f"cannot read output_dir ({exc.strerror or exc})") from None
    if not entries:
        return
    if not overwrite:
        raise DataError(out, "output_dir is not empty (old pages would mix with the new ones, the same page in train "
                             "and test); pass overwrite=true to replace it whole, or choose an empty or new output_dir")
    foreign = [name for name in entries if name not in OWN_ENTRIES]
    if foreign:
        raise DataError(out, f"overwrite=true would delete '{foreign[0]}', which ocdr data synth did not write; "
                             "remove it yourself or choose another output_dir")


def _publish(staging: Path, out: Path, overwrite: bool) -> None:
    """Rename the finished ``staging`` folder onto ``out``. A rename succeeds onto an absent or empty folder
    and fails onto a full one, so of two runs the second to finish finds the first's dataset and stops."""
    if _rename_onto(staging, out):
        return
    if not overwrite:
        raise DataError(out, "another run filled output_dir while this one was generating; it was left as that run "
                             "wrote it (pass overwrite=true to replace it)")
    old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".old"))
    moved = _rename_onto(out, old)  # False: another overwriting run moved it away first; ours takes its place
    try:
        if not _rename_onto(staging, out):
            raise DataError(out, "another run replaced output_dir at the same time; it was left as that run wrote it")
    except DataError:
        if moved:  # put the previous dataset back, unless something already took its place
            with contextlib.suppress(DataError):
                _rename_onto(old, out)
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)


def _rename_onto(src: Path, dst: Path) -> bool:
    """``os.rename(src, dst)``; False when ``dst`` is a non-empty folder or ``src`` has gone."""
    try:
        os.rename(src, dst)
    except FileNotFoundError:
        return False
    except OSError as exc:
        if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
            return False
        raise DataError(dst, f"cannot move the generated dataset into place ({exc.strerror or exc})") from None
    return True


def _generate_into(spec: SynthSpec) -> dict:
    """Every page, the gt lists and the character list, written under ``spec.output_dir``."""
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
    return {"output_dir": str(out), "pages": pages, "words": len(labels), "crops": len(labels) if spec.crops else 0,
            "characters": len(chars), "fonts": [Path(f).name for f in hand + printed] or ["pillow default"],
            "seconds": round(time.perf_counter() - start, 1)}
