"""What ``POST /v1/ocr`` accepts: the body read within a size and a time limit, the image bytes taken out of
a multipart, JSON or raw body, and decoded only if they are one of the documented formats and pixel count.

Every refusal is an :class:`HTTPProblem`: a status and one line naming the upload (its file name, the JSON
field or "the request body") and what is wrong with it.
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import io
import json

import numpy as np
from PIL import Image, UnidentifiedImageError
from starlette.datastructures import UploadFile
from starlette.requests import ClientDisconnect
from starlette.requests import Request as StarletteRequest

from ocdr.data.images import decode_image
from ocdr.errors import OcdrError

__all__ = ["HTTPProblem", "SERVED_FORMATS", "read_body", "upload_bytes", "json_image", "read_limited_image"]

# Pillow's names of the formats the README documents. Image.open(formats=...) tries only these parsers, so
# an SGI, PCX, ICO or any other file Pillow could read never reaches a parser nobody asked for. (The JPEG
# parser also opens the MPO files of many phone cameras: a JPEG with a second, preview picture.)
SERVED_FORMATS = ("PNG", "JPEG", "BMP", "TIFF", "WEBP", "GIF")
FORMAT_NAMES = "PNG, JPEG, BMP, TIFF, WebP or GIF"


class HTTPProblem(Exception):
    """A client error: ``status`` and a one-line ``message``; ``close`` asks to drop the connection (its
    body was not read to the end, so the next bytes on it are not a request)."""

    def __init__(self, status: int, message: str, close: bool = False):
        super().__init__(message)
        self.status, self.message, self.close = status, message, close


async def _read_limited(request, max_bytes: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise HTTPProblem(413, f"request body of {declared} bytes exceeds the limit of {max_bytes}", close=True)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise HTTPProblem(413, f"request body exceeds the limit of {max_bytes} bytes", close=True)
        chunks.append(chunk)
    return b"".join(chunks)


async def read_body(request, max_bytes: int, timeout_s: float) -> bytes:
    """The whole body, at most ``max_bytes`` (413), all of it within ``timeout_s`` (408): a client trickling
    its body a byte at a time would otherwise hold a connection and its buffer for as long as it likes."""
    try:
        return await asyncio.wait_for(_read_limited(request, max_bytes), timeout_s)
    except asyncio.TimeoutError:
        raise HTTPProblem(408, f"the request body did not arrive within read_timeout_s = {timeout_s} s",
                          close=True) from None
    except ClientDisconnect:
        raise HTTPProblem(400, "the client disconnected before sending the whole body", close=True) from None


def _printable(name: str, limit: int = 80) -> str:
    """A client-given file name, safe to echo in a one-line message."""
    clean = "".join(c if c.isprintable() else "?" for c in name)
    return clean if len(clean) <= limit else clean[:limit] + "..."


async def _multipart_file(request, body: bytes) -> tuple[bytes, str]:
    async def replay():  # the body was already read (bounded); the form parser reads it again from memory
        return {"type": "http.request", "body": body, "more_body": False}

    form = await StarletteRequest(request.scope, replay).form(max_files=1, max_fields=4)
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise HTTPProblem(400, "multipart request without a 'file' field")
    name = f"upload '{_printable(upload.filename)}'" if upload.filename else "the uploaded file"
    return await upload.read(), name


def json_image(body: bytes) -> bytes:
    """``{"image": "<base64>"}`` -> the image bytes. Nesting too deep for the parser is a 400 like any other
    malformed body (json raises RecursionError for it, which would otherwise be a 500)."""
    try:
        return base64.b64decode(json.loads(body)["image"], validate=True)
    except RecursionError:
        raise HTTPProblem(400, "JSON body nested too deeply: send {\"image\": \"<base64>\"}") from None
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise HTTPProblem(400, "JSON body must be {\"image\": \"<base64 of an encoded image>\"}") from None


async def upload_bytes(request, body: bytes, run_sync) -> tuple[bytes, str]:
    """The encoded image of a request and how to name it in errors. ``run_sync(fn, arg)``: runs the CPU-bound
    parts (JSON, base64) off the event loop."""
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/form-data"):
        return await _multipart_file(request, body)
    if ctype.startswith("application/json"):
        return await run_sync(json_image, body), "the JSON field 'image'"
    if ctype.startswith("image/") or ctype == "application/octet-stream":
        return body, "the request body"
    raise HTTPProblem(415, f"unsupported content type '{_printable(ctype)}': send multipart/form-data "
                           "(field 'file'), application/json ({\"image\": base64}) or the image bytes")


def _size(data: bytes, name: str) -> tuple[int, int]:
    """Width and height from the header of a served format; anything else is a 415."""
    Image.init()  # registers the plugins beyond Pillow's first five (TIFF, WebP); formats= needs them
    try:
        with Image.open(io.BytesIO(data), formats=SERVED_FORMATS) as probe:
            return probe.size
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise HTTPProblem(415, f"{name} is not an image this service reads ({FORMAT_NAMES})") from None


def read_limited_image(data: bytes, max_pixels: int, name: str = "the request body") -> np.ndarray:
    """Encoded bytes -> RGB array; the format and the pixel count are checked from the header, before decoding."""
    if not data:
        raise HTTPProblem(400, f"{name} is empty")
    w, h = _size(data, name)
    if w * h > max_pixels:
        raise HTTPProblem(413, f"{name}: image of {w}x{h} = {w * h} pixels exceeds the limit of {max_pixels}")
    try:
        return decode_image(data, name, max_pixels)
    except (OcdrError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise HTTPProblem(400, f"the image could not be decoded (truncated or corrupt?): {exc}") from None
