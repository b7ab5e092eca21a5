"""LMDB for recognition, in the layout TAO OCRNet and deep-text-recognition-benchmark share.

Keys (bytes): ``num-samples`` -> ASCII integer; ``image-%09d`` -> the encoded image file as is;
``label-%09d`` -> UTF-8 label; indices start at 1. Writing goes to a temp folder beside the
target, renamed into place when complete.
"""
from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import lmdb

from ocdr.data.formats import read_gt_list, read_text_lines
from ocdr.data.images import decode_image
from ocdr.errors import BadRecords, DataError, OcdrError

__all__ = ["LmdbConvertSpec", "convert_to_lmdb", "write_lmdb", "read_lmdb", "lmdb_num_samples", "open_lmdb",
           "image_key", "label_key"]

MAP_SIZE = 1 << 40  # 1 TiB of address space; the file only grows as data is written


def image_key(index: int) -> bytes:
    return b"image-%09d" % index


def label_key(index: int) -> bytes:
    return b"label-%09d" % index


def write_lmdb(output_dir: str | Path, samples: Iterable[tuple[bytes, str]], commit_every: int = 1000) -> int:
    """Write ``(image bytes, label)`` samples; returns how many were written."""
    output_dir = Path(output_dir)
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=output_dir.parent, prefix=f".{output_dir.name}.", suffix=".tmp"))
    count = 0
    try:
        env = lmdb.open(str(tmp), map_size=MAP_SIZE, subdir=True)
        txn = env.begin(write=True)
        for image, label in samples:
            count += 1
            txn.put(image_key(count), image)
            txn.put(label_key(count), label.encode("utf-8"))
            if count % commit_every == 0:
                txn.commit()
                txn = env.begin(write=True)
        txn.put(b"num-samples", str(count).encode())
        txn.commit()
        env.close()
        if output_dir.exists():
            shutil.rmtree(output_dir)
        tmp.rename(output_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return count


def open_lmdb(path: str | Path) -> lmdb.Environment:
    path = Path(path)
    if not (path / "data.mdb").is_file():
        raise DataError(path, "not an LMDB folder (no data.mdb)")
    return lmdb.open(str(path), readonly=True, lock=False, readahead=False, meminit=False, max_readers=64)


def lmdb_num_samples(path: str | Path) -> int:
    env = open_lmdb(path)
    try:
        with env.begin() as txn:
            raw = txn.get(b"num-samples")
    finally:
        env.close()
    if raw is None:
        raise DataError(path, "LMDB has no 'num-samples' key (not a recognition LMDB)")
    try:
        return int(raw.decode())
    except ValueError:
        raise DataError(path, f"LMDB 'num-samples' is not an integer: {raw[:20]!r}") from None


def read_lmdb(path: str | Path) -> Iterator[tuple[int, bytes, str]]:
    """Yield ``(index, image bytes, label)`` for every sample, 1-based."""
    n = lmdb_num_samples(path)
    env = open_lmdb(path)
    try:
        with env.begin() as txn:
            for i in range(1, n + 1):
                image, label = txn.get(image_key(i)), txn.get(label_key(i))
                if image is None or label is None:
                    raise DataError(path, f"LMDB record {i} is missing ({image_key(i).decode()})")
                yield i, bytes(image), label.decode("utf-8")
    finally:
        env.close()


@dataclass
class LmdbConvertSpec:
    gt_list: str = field(default="", metadata={"help": "recognition gt list (path<TAB>label per line)"})
    image_dir: str = field(default="", metadata={"help": "base of the image paths (default: the gt list's folder)"})
    output_dir: str = field(default="", metadata={"help": "LMDB folder to write (data.mdb + lock.mdb)"})
    check_images: bool = field(default=True, metadata={"help": "decode every image before writing it"})
    skip_bad: bool = field(default=False, metadata={"help": "skip bad samples (counted) instead of failing"})


def convert_to_lmdb(spec: LmdbConvertSpec) -> dict:
    if not spec.gt_list:
        raise OcdrError("dataset_convert: set gt_list=<path to gt_list.txt>")
    if not spec.output_dir:
        raise OcdrError("dataset_convert: set output_dir=<LMDB folder to write>")
    gt_path = Path(spec.gt_list)
    base = Path(spec.image_dir) if spec.image_dir else gt_path.parent
    bad = BadRecords(skip=spec.skip_bad)
    entries = read_gt_list(gt_path, bad)
    line_of = _line_numbers(gt_path)

    def samples() -> Iterator[tuple[bytes, str]]:
        for rel, label in entries:
            where = (gt_path, line_of.get(rel))
            image_path = base / rel
            if not image_path.is_file():
                bad.bad(DataError(where[0], f"image not found: {image_path}", where[1]), "image not found")
                continue
            data = image_path.read_bytes()
            if spec.check_images:
                try:
                    decode_image(data, image_path)
                except DataError as exc:
                    bad.bad(DataError(where[0], f"{exc.what}: {image_path}", where[1]), "unreadable image")
                    continue
            yield data, label

    count = write_lmdb(spec.output_dir, samples())
    if count == 0:
        shutil.rmtree(spec.output_dir, ignore_errors=True)
        raise DataError(gt_path, "no usable samples: the LMDB would be empty")
    return {"output_dir": spec.output_dir, "samples": count, "skipped": bad.summary()}


def _line_numbers(gt_path: Path) -> dict[str, int]:
    """First line number of each image path in a gt list, for error messages."""
    lines: dict[str, int] = {}
    for lineno, line in enumerate(read_text_lines(gt_path), start=1):
        rel = line.split("\t", 1)[0].strip()
        lines.setdefault(rel, lineno)
    return lines
