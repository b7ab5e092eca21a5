"""Image reading: format from bytes, RGBA/gray/16-bit flattened to RGB uint8, clear errors, the pixel limit."""
import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageFile

from ocdr.data.images import ImageTooLarge, decode_image, list_images, read_image, sniff_format, write_image
from ocdr.errors import ConfigError, DataError


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


def _png_header(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` RGB pixels and holds none: 57 bytes, a bomb's header."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


@pytest.fixture
def no_decoding(monkeypatch):
    """Fails the test if any pixel data is decoded."""
    def load(self):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)


def test_pixel_limit_is_checked_from_the_header_before_decoding(tmp_path, no_decoding, monkeypatch):
    monkeypatch.delenv("OCDR_MAX_PIXELS", raising=False)
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_header(20000, 20000))
    with pytest.raises(ImageTooLarge) as err:
        read_image(bomb)
    assert str(err.value) == (f"{bomb}: image of 20000x20000 = 400,000,000 pixels exceeds the limit of "
                              "100,000,000 (raise it with max_pixels=N or OCDR_MAX_PIXELS=N)")
    assert (err.value.width, err.value.height, err.value.limit) == (20000, 20000, 100_000_000)
    with pytest.raises(ImageTooLarge, match="upload: image of 20000x20000"):
        decode_image(bomb.read_bytes(), "upload")


def test_pixel_limit_per_call_and_from_the_environment(monkeypatch):
    data = _png(Image.new("RGB", (10, 5), (1, 2, 3)))  # 50 pixels
    monkeypatch.delenv("OCDR_MAX_PIXELS", raising=False)
    assert decode_image(data, "ok.png", max_pixels=50).shape == (5, 10, 3)  # the limit itself is allowed
    with pytest.raises(ImageTooLarge, match=r"small.png: image of 10x5 = 50 pixels exceeds the limit of 49 "):
        decode_image(data, "small.png", max_pixels=49)
    monkeypatch.setenv("OCDR_MAX_PIXELS", "49")
    with pytest.raises(ImageTooLarge, match="limit of 49 "):
        decode_image(data, "env.png")
    assert decode_image(data, "override.png", max_pixels=1000).shape == (5, 10, 3)  # the call wins over the env
    monkeypatch.setenv("OCDR_MAX_PIXELS", "lots")
    with pytest.raises(ConfigError, match="OCDR_MAX_PIXELS='lots': expected a positive whole number"):
        decode_image(data, "bad_env.png")
    with pytest.raises(ConfigError, match="max_pixels must be positive, got 0"):
        decode_image(data, "zero.png", max_pixels=0)


def test_unreadable_file_and_folder_are_one_line_errors(tmp_path, monkeypatch):
    """Permissions are simulated (root ignores chmod); the chmod test is in tests/faults."""
    image = tmp_path / "locked.png"
    image.write_bytes(_png(Image.new("RGB", (2, 2))))

    def denied(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(type(image), "read_bytes", denied)
    with pytest.raises(DataError, match=r"locked.png: cannot read this file \(Permission denied\)$"):
        read_image(image)
    monkeypatch.setattr(type(image), "iterdir", denied)
    with pytest.raises(DataError, match=r": cannot list this folder \(Permission denied\)$") as err:
        list_images(tmp_path)
    assert err.value.path == str(tmp_path)
