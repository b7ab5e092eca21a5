"""Image reading: format from bytes, RGBA/gray/16-bit flattened to RGB uint8, clear errors."""
import io

import numpy as np
import pytest
from PIL import Image

from ocdr.data.images import decode_image, read_image, sniff_format, write_image
from ocdr.errors import DataError


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def test_png_named_jpg_is_read_by_content(tmp_path):
    p = tmp_path / "x.jpg"
    p.write_bytes(_png(Image.new("RGB", (4, 3), (10, 20, 30))))
    assert sniff_format(p.read_bytes()) == "png"
    arr = read_image(p)
    assert arr.shape == (3, 4, 3) and arr.dtype == np.uint8 and arr[0, 0].tolist() == [10, 20, 30]


def test_rgba_composited_over_white():
    rgba = Image.new("RGBA", (2, 1), (0, 0, 0, 0))
    rgba.putpixel((1, 0), (0, 0, 255, 255))
    arr = decode_image(_png(rgba))
    assert arr[0, 0].tolist() == [255, 255, 255]  # fully transparent -> paper white
    assert arr[0, 1].tolist() == [0, 0, 255]


def test_gray_and_16_bit():
    gray = decode_image(_png(Image.new("L", (2, 2), 77)))
    assert gray.shape == (2, 2, 3) and gray[0, 0].tolist() == [77, 77, 77]
    deep = Image.fromarray(np.array([[0, 65535]], dtype=np.uint16))
    arr = decode_image(_png(deep))
    assert arr.dtype == np.uint8 and arr[0, 0, 0] == 0 and arr[0, 1, 0] == 255


def test_bad_images_are_data_errors(tmp_path):
    with pytest.raises(DataError, match="not a readable image"):
        decode_image(b"hello, I am text", "notes.png")
    data = _png(Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)))
    with pytest.raises(DataError, match=r"cut.png: unreadable image"):
        decode_image(data[: len(data) // 2], "cut.png")
    with pytest.raises(DataError, match="empty file"):
        decode_image(b"", "empty.png")
    with pytest.raises(DataError, match="image not found"):
        read_image(tmp_path / "missing.png")


def test_write_read_round_trip(tmp_path):
    rgb = np.zeros((5, 6, 3), np.uint8)
    rgb[..., 0] = 200
    p = write_image(tmp_path / "sub" / "r.png", rgb)
    assert np.array_equal(read_image(p), rgb)
    assert not list((tmp_path / "sub").glob(".*tmp"))  # no temp file left behind


def test_exif_orientation_is_applied():
    """A 4 x 2 image stored with orientation 6 (rotate 90 degrees clockwise to view) reads as 2 x 4."""
    img = Image.new("RGB", (4, 2), (0, 0, 0))
    img.putpixel((0, 0), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    img.save(buf, format="PNG", exif=exif)  # lossless, so the pixel check is exact
    arr = decode_image(buf.getvalue())
    assert arr.shape == (4, 2, 3)
    assert arr[0, 1].tolist() == [255, 0, 0] and arr[:, :, 0].sum() == 255  # top-left corner now top-right
