"""LMDB in the TAO OCRNet / deep-text-recognition-benchmark layout, and the datasets over it."""
import io

import lmdb
import numpy as np
import pytest
from PIL import Image
from torch.utils.data import DataLoader

from ocdr.data.datasets import GtListDataset, LmdbDataset
from ocdr.data.formats import write_gt_list
from ocdr.data.lmdb_io import LmdbConvertSpec, convert_to_lmdb, lmdb_num_samples, read_lmdb, write_lmdb
from ocdr.errors import DataError


def _png(value: int, size=(12, 8)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (value, value, value)).save(buf, format="PNG")
    return buf.getvalue()


def test_round_trip_and_exact_keys(tmp_path):
    samples = [(_png(10), "Größe 12"), (_png(20), "two words"), (_png(30), "x")]
    assert write_lmdb(tmp_path / "db", samples) == 3
    assert [(i, label) for i, _, label in read_lmdb(tmp_path / "db")] == [(1, "Größe 12"), (2, "two words"), (3, "x")]
    env = lmdb.open(str(tmp_path / "db"), readonly=True, lock=False)
    with env.begin() as txn:
        keys = sorted(k.decode() for k, _ in txn.cursor())
        assert txn.get(b"num-samples") == b"3"
        assert txn.get(b"image-000000001") == samples[0][0]
        assert txn.get(b"label-000000001").decode("utf-8") == "Größe 12"
    env.close()
    assert keys == ["image-000000001", "image-000000002", "image-000000003",
                    "label-000000001", "label-000000002", "label-000000003", "num-samples"]


def test_reads_an_lmdb_written_the_clovaai_way(tmp_path):
    """create_lmdb_dataset.py of deep-text-recognition-benchmark: bytes keys, a cache dict, commits."""
    env = lmdb.open(str(tmp_path / "theirs"), map_size=1 << 30)
    cache = {b"image-000000001": _png(50), b"label-000000001": b"hello", b"image-000000002": _png(60),
             b"label-000000002": b"world", b"num-samples": b"2"}
    with env.begin(write=True) as txn:
        for k, v in cache.items():
            txn.put(k, v)
    env.close()
    assert lmdb_num_samples(tmp_path / "theirs") == 2
    ds = LmdbDataset(tmp_path / "theirs")
    assert ds[1]["label"] == "world" and ds[1]["image"].shape == (8, 12, 3) and ds[1]["image"][0, 0, 0] == 60


def test_corrupt_record_is_skipped_counted_and_named(tmp_path, caplog):
    write_lmdb(tmp_path / "db", [(_png(10), "a"), (b"garbage", "b"), (_png(30), "c")])
    ds = LmdbDataset(tmp_path / "db")
    item = ds[1]
    assert item["label"] == "c" and ds.num_corrupt == 1
    assert "image-000000002" in caplog.text
    loader = DataLoader(ds, batch_size=1, num_workers=2, collate_fn=lambda b: b[0])
    labels = [b["label"] for b in loader]  # each worker opens its own environment lazily
    assert labels == ["a", "c", "c"]
    assert ds.env is None or ds.num_corrupt == 1


def test_convert_from_gt_list_with_bad_image(tmp_path):
    (tmp_path / "crops").mkdir()
    (tmp_path / "crops" / "a.png").write_bytes(_png(10))
    (tmp_path / "crops" / "b.png").write_bytes(b"not an image")
    gt = write_gt_list(tmp_path / "crops" / "gt_list.txt", [("a.png", "A"), ("b.png", "B"), ("c.png", "C")])
    with pytest.raises(DataError, match=r"gt_list.txt:2: not a readable image"):
        convert_to_lmdb(LmdbConvertSpec(gt_list=str(gt), output_dir=str(tmp_path / "db")))
    assert not (tmp_path / "db").exists()  # nothing half-written
    summary = convert_to_lmdb(LmdbConvertSpec(gt_list=str(gt), output_dir=str(tmp_path / "db"), skip_bad=True))
    assert summary["samples"] == 1 and summary["skipped"] == {"image not found": 1, "unreadable image": 1}
    assert [label for _, _, label in read_lmdb(tmp_path / "db")] == ["A"]


def test_empty_and_not_an_lmdb(tmp_path):
    gt = write_gt_list(tmp_path / "gt_list.txt", [("missing.png", "A")])
    with pytest.raises(DataError, match="no usable samples"):
        convert_to_lmdb(LmdbConvertSpec(gt_list=str(gt), output_dir=str(tmp_path / "db"), skip_bad=True))
    (tmp_path / "plain").mkdir()
    with pytest.raises(DataError, match="not an LMDB folder"):
        LmdbDataset(tmp_path / "plain")


def test_gt_list_dataset_names_the_line(tmp_path):
    (tmp_path / "a.png").write_bytes(_png(10))
    (tmp_path / "b.png").write_bytes(b"xx")
    gt = write_gt_list(tmp_path / "gt_list.txt", [("a.png", "A"), ("b.png", "B")])
    ds = GtListDataset(gt)
    assert ds[1]["label"] == "A" and ds.num_corrupt == 1
    assert np.asarray(ds[0]["image"]).shape == (8, 12, 3)
