"""LMDB for recognition, in the layout TAO OCRNet and deep-text-recognition-benchmark share.

Keys (bytes): ``num-samples`` -> ASCII integer; ``image-%09d`` -> the encoded image file as is;
``label-%09d`` -> UTF-8 label; indices start at 1. This is what clovaai's
``create_lmdb_dataset.py`` writes, so their LMDBs read here and ours read there.

Writing goes to a temp folder beside the target, swapped into place only when complete.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import lmdb

from ocdr.data.formats import leaves_folder, read_gt_list, read_text_lines
from ocdr.data.images import decode_image
from ocdr.config.tao import OCRNET_CONVERT
from ocdr.errors import BadRecords, ConfigError, DataError

__all__ = ["LmdbConvertSpec", "convert_to_lmdb", "write_lmdb", "read_lmdb", "read_lmdb_labels", "iter_lmdb_records",
           "lmdb_num_samples",
           "open_lmdb", "release_lmdb", "image_key", "label_key", "read_gt_list_numbered"]

MAP_SIZE = 1 << 40  # 1 TiB of address space, as clovaai uses; the file only grows as data is written
_LMDB_FILES = {"data.mdb", "lock.mdb"}


def image_key(index: int) -> bytes:
    return b"image-%09d" % index


def label_key(index: int) -> bytes:
    return b"label-%09d" % index


def _check_replaceable(output_dir: Path) -> None:
    """Only an LMDB folder (or an empty one) may be replaced: a typo must not delete a data folder."""
    if output_dir.is_file():
        raise DataError(output_dir, "exists and is a file, not an LMDB folder")
    if output_dir.is_dir():
        other = sorted(p.name for p in output_dir.iterdir() if p.name not in _LMDB_FILES)
        if other:
            raise DataError(output_dir, f"exists and holds other files ({', '.join(other[:3])}); "
                                        "refusing to replace it with an LMDB")


def _swap_in(tmp: Path, output_dir: Path) -> None:
    release_lmdb(output_dir)  # a handle kept on the old files would keep reading them
    old = None
    if output_dir.exists():
        old = output_dir.with_name(f".{output_dir.name}.old-{uuid.uuid4().hex[:12]}")
        output_dir.rename(old)
    tmp.rename(output_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def write_lmdb(output_dir: str | Path, samples: Iterable[tuple[bytes, str]], commit_every: int = 1000) -> int:
    """Write ``(image bytes, label)`` samples; returns how many were written.

    ``samples`` may be a generator that raises: the partial LMDB is then removed and an existing
    ``output_dir`` is left as it was.
    """
    output_dir = Path(output_dir)
    _check_replaceable(output_dir)
    tmp = output_dir.with_name(f".{output_dir.name}.partial-{uuid.uuid4().hex[:12]}")
    tmp.mkdir(parents=True)
    count = 0
    try:
        env = lmdb.open(str(tmp), map_size=MAP_SIZE, subdir=True)
        txn = None
        try:
            txn = env.begin(write=True)
            for image, label in samples:
                count += 1
                txn.put(image_key(count), bytes(image))
                txn.put(label_key(count), label.encode("utf-8"))
                if count % commit_every == 0:
                    txn.commit()
                    txn = env.begin(write=True)
            txn.put(b"num-samples", str(count).encode("ascii"))
            txn.commit()
        except BaseException:
            if txn is not None:
                txn.abort()  # a no-op when this transaction already finished
            raise
        finally:
            env.close()
        _swap_in(tmp, output_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # a no-op after a successful swap
    return count


_OPEN: dict[tuple[int, str], lmdb.Environment] = {}


def _forget_inherited(pid: int) -> None:
    """Close handles copied from a parent by ``fork``: LMDB forbids using them in the child, and
    py-lmdb refuses to open a path again while they are registered."""
    for key in [k for k in _OPEN if k[0] != pid]:
        with contextlib.suppress(lmdb.Error):
            _OPEN.pop(key).close()


def _key(path: Path) -> tuple[int, str]:
    return os.getpid(), str(path.resolve())


def open_lmdb(path: str | Path) -> lmdb.Environment:
    """This process's read-only, lock-free handle on an LMDB, kept open for later calls.

    py-lmdb allows one open handle per path and process, so every reader here shares it. A handle
    someone closed is reopened by the next call; a fork child gets its own.
    """
    path = Path(path)
    if not (path / "data.mdb").is_file():
        raise DataError(path, "not an LMDB folder (no data.mdb)")
    _forget_inherited(os.getpid())
    key = _key(path)
    if _is_open(path):
        return _OPEN[key]
    _OPEN.pop(key, None)
    try:
        env = lmdb.open(str(path), readonly=True, lock=False, readahead=False, meminit=False, max_readers=128)
    except lmdb.Error as exc:
        raise DataError(path, f"cannot open LMDB: {exc}") from None
    _OPEN[key] = env
    return env


def _is_open(path: Path) -> bool:
    env = _OPEN.get(_key(path))
    try:
        return env is not None and bool(env.path())
    except lmdb.Error:  # closed by someone
        return False


def release_lmdb(path: str | Path) -> None:
    """Close this process's handle on ``path``, if any (before it is rewritten or opened raw)."""
    env = _OPEN.pop(_key(Path(path)), None)
    if env is not None:
        with contextlib.suppress(lmdb.Error):
            env.close()


@contextlib.contextmanager
def _borrowed(path: Path) -> Iterator[lmdb.Environment]:
    """The shared handle for a one-off read, closed afterwards unless it was already open."""
    already = _is_open(path)
    env = open_lmdb(path)
    try:
        yield env
    finally:
        if not already:
            release_lmdb(path)


def _num_samples(txn: lmdb.Transaction, path: Path) -> int:
    raw = txn.get(b"num-samples")
    if raw is None:
        raise DataError(path, "LMDB has no 'num-samples' key (not a recognition LMDB)")
    try:
        n = int(bytes(raw).decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise DataError(path, f"LMDB 'num-samples' is not an integer: {bytes(raw)[:20]!r}") from None
    if n < 0:
        raise DataError(path, f"LMDB 'num-samples' is negative: {n}")
    return n


def lmdb_num_samples(path: str | Path) -> int:
    with _borrowed(Path(path)) as env, env.begin() as txn:
        return _num_samples(txn, Path(path))


def decode_label(raw: bytes | None, path: str | Path, index: int) -> str:
    """A label record as text; a missing or non-UTF-8 record is a DataError naming its key."""
    key = label_key(index).decode()
    if raw is None:
        raise DataError(path, f"record {key} is missing")
    try:
        return bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise DataError(path, f"record {key} is not UTF-8 text") from None


def read_lmdb(path: str | Path) -> Iterator[tuple[int, bytes, str]]:
    """Yield ``(index, image bytes, label)`` for every sample, 1-based; a missing record raises."""
    path = Path(path)
    with _borrowed(path) as env, env.begin() as txn:
        for i in range(1, _num_samples(txn, path) + 1):
            image = txn.get(image_key(i))
            if image is None:
                raise DataError(path, f"record {image_key(i).decode()} is missing")
            yield i, bytes(image), decode_label(txn.get(label_key(i)), path, i)


def iter_lmdb_records(path: str | Path) -> Iterator[tuple[int, bytes | None, bytes | None]]:
    """``(index, image bytes, raw label)`` of every record, 1-based, None where a record is missing: for
    checking each one (a bad record is the caller's to report, not a reason to stop reading)."""
    path = Path(path)
    with _borrowed(path) as env, env.begin() as txn:
        for i in range(1, _num_samples(txn, path) + 1):
            image, label = txn.get(image_key(i)), txn.get(label_key(i))
            yield i, None if image is None else bytes(image), None if label is None else bytes(label)


def read_lmdb_labels(path: str | Path, bad: BadRecords | None = None) -> list[str]:
    """Every label without touching the images (statistics, label filtering)."""
    path, bad = Path(path), bad or BadRecords()
    labels = []
    with _borrowed(path) as env, env.begin() as txn:
        for i in range(1, _num_samples(txn, path) + 1):
            try:
                labels.append(decode_label(txn.get(label_key(i)), path, i))
            except DataError as exc:
                bad.bad(exc, "bad label record")
    return labels


def read_gt_list_numbered(path: str | Path, bad: BadRecords | None = None) -> list[tuple[str, str, int]]:
    """``(relative path, label, line number)`` of a gt list, so image errors can name their line.

    Parsing stays in :func:`read_gt_list`; the line numbers come from walking the raw lines in step
    with its results, which holds even when one image path appears on several lines.
    """
    entries = read_gt_list(path, bad)
    lines = enumerate(read_text_lines(path), start=1)
    numbered = []
    for rel, label in entries:
        for lineno, line in lines:
            head, _, tail = line.partition("\t")
            if head.strip() == rel and tail == label:
                numbered.append((rel, label, lineno))
                break
    return numbered


@dataclass
class LmdbConvertSpec:
    gt_list: str = field(default="", metadata={"help": "recognition gt list (path<TAB>label per line)"})
    image_dir: str = field(default="", metadata={"help": "base of the image paths (default: the gt list's folder)"})
    output_dir: str = field(default="", metadata={"help": "LMDB folder to write (data.mdb + lock.mdb)"})
    check_images: bool = field(default=True, metadata={"help": "decode every image before writing it"})
    skip_bad: bool = field(default=False, metadata={"help": "skip bad samples (counted) instead of failing"})
    allow_outside: bool = field(default=False, metadata={"help": "read image paths that leave the gt list's folder "
                                                                 "(absolute, or '..' above it); refused by default"})


def _gt_list_samples(spec: LmdbConvertSpec, bad: BadRecords) -> Iterator[tuple[bytes, str]]:
    gt_path = Path(spec.gt_list)
    base = Path(spec.image_dir) if spec.image_dir else gt_path.parent
    for rel, label, lineno in read_gt_list_numbered(gt_path, bad):
        if not spec.allow_outside and leaves_folder(rel):
            # a list from elsewhere must not pack arbitrary files ('../../etc/passwd') into a dataset
            bad.bad(DataError(gt_path, f"image path '{rel}' leaves {base} (absolute, or '..' above it); "
                                       "set allow_outside=true to read it", lineno), "path outside the folder")
            continue
        image_path = base / rel
        if not image_path.is_file():
            bad.bad(DataError(gt_path, f"image not found: {image_path}", lineno), "image not found")
            continue
        data = image_path.read_bytes()
        if spec.check_images:
            try:
                decode_image(data, image_path)
            except DataError as exc:
                bad.bad(DataError(gt_path, f"{exc.what}: {image_path}", lineno), "unreadable image")
                continue
        yield data, label


def convert_to_lmdb(spec: LmdbConvertSpec) -> dict:
    if not spec.gt_list:
        raise ConfigError("dataset_convert: set gt_list=<path to gt_list.txt>")
    if not spec.output_dir:
        raise ConfigError("dataset_convert: set output_dir=<LMDB folder to write>")
    bad = BadRecords(skip=spec.skip_bad)
    count = write_lmdb(spec.output_dir, _not_empty(_gt_list_samples(spec, bad), spec.gt_list))
    return {"output_dir": spec.output_dir, "samples": count, "skipped": bad.summary()}


def _not_empty(samples: Iterator[tuple[bytes, str]], source: str) -> Iterator[tuple[bytes, str]]:
    """Raise at the end of an empty stream, so write_lmdb discards it and keeps any older LMDB."""
    n = 0
    for sample in samples:
        n += 1
        yield sample
    if n == 0:
        raise DataError(source, "no usable samples: the LMDB would be empty")


LmdbConvertSpec.tao_layout = OCRNET_CONVERT   # reads the dataset_convert section of TAO's experiment.yaml
