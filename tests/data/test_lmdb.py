"""LMDB in the TAO OCRNet / deep-text-recognition-benchmark layout, and the datasets over it."""
import io
import pickle

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


def _labels(loader) -> list[str]:
    return [item["label"] for batch in loader for item in batch]


def test_round_trip_and_exact_keys(tmp_path):
    samples = [(_png(10), "Größe 12"), (_png(20), "two words"), (_png(30), "x")]
    assert write_lmdb(tmp_path / "db", samples, commit_every=2) == 3  # one commit mid-way, one at the end
    assert [(i, label) for i, _, label in read_lmdb(tmp_path / "db")] == [(1, "Größe 12"), (2, "two words"), (3, "x")]
    env = lmdb.open(str(tmp_path / "db"), readonly=True, lock=False)
    with env.begin() as txn:
        keys = sorted(k.decode() for k, _ in txn.cursor())
        assert txn.get(b"num-samples") == b"3"
        assert txn.get(b"image-000000001") == samples[0][0]  # the encoded file, byte for byte
        assert txn.get(b"label-000000001") == "Größe 12".encode("utf-8")
    env.close()
    assert keys == ["image-000000001", "image-000000002", "image-000000003",
                    "label-000000001", "label-000000002", "label-000000003", "num-samples"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["db"]  # the temp folder was renamed away


def test_reads_an_lmdb_written_the_clovaai_way(tmp_path):
    """create_lmdb_dataset.py of deep-text-recognition-benchmark: 1 TiB map, bytes keys, a cache dict."""
    env = lmdb.open(str(tmp_path / "theirs"), map_size=1099511627776)
    cache = {b"image-000000001": _png(50), b"label-000000001": b"hello", b"image-000000002": _png(60),
             b"label-000000002": "wörld".encode(), b"num-samples": str(2).encode()}
    with env.begin(write=True) as txn:
        for k, v in cache.items():
            txn.put(k, v)
    env.close()
    assert lmdb_num_samples(tmp_path / "theirs") == 2
    ds = LmdbDataset(tmp_path / "theirs")
    assert ds[1]["label"] == "wörld" and ds[1]["image"].shape == (8, 12, 3) and ds[1]["image"][0, 0, 0] == 60
    assert [label for _, _, label in read_lmdb(tmp_path / "theirs")] == ["hello", "wörld"]


def test_missing_num_samples_is_named(tmp_path):
    env = lmdb.open(str(tmp_path / "other"), map_size=1 << 20)
    with env.begin(write=True) as txn:
        txn.put(b"something", b"else")
    env.close()
    with pytest.raises(DataError, match=r"other: LMDB has no 'num-samples' key"):
        lmdb_num_samples(tmp_path / "other")
    (tmp_path / "plain").mkdir()
    with pytest.raises(DataError, match="not an LMDB folder"):
        LmdbDataset(tmp_path / "plain")


def test_environment_is_opened_lazily_and_not_pickled(tmp_path):
    write_lmdb(tmp_path / "db", [(_png(10), "a"), (_png(20), "b")])
    ds = LmdbDataset(tmp_path / "db")
    assert ds.env is None  # constructing does not open it: the DataLoader may still fork or pickle
    assert ds[0]["label"] == "a" and ds[0]["index"] == 0 and ds.env is not None
    copy = pickle.loads(pickle.dumps(ds))  # what a spawned worker receives
    assert copy.env is None and copy[1]["label"] == "b" and copy.env is not None
    with pytest.raises(IndexError):
        ds[2]
    # py-lmdb allows one handle per path and process: other readers share the dataset's.
    assert [label for _, _, label in read_lmdb(tmp_path / "db")] == ["a", "b"] and ds[1]["label"] == "b"
    # Rewriting the LMDB drops the old handle, so the dataset reads the new records, not the deleted file.
    write_lmdb(tmp_path / "db", [(_png(30), "new a"), (_png(40), "new b")])
    assert ds[0]["label"] == "new a" and ds[0]["image"][0, 0, 0] == 30


def test_corrupt_record_stops_the_build_or_is_left_out_and_counted_across_workers(tmp_path, caplog):
    write_lmdb(tmp_path / "db", [(_png(10), "a"), (b"garbage", "b"), (_png(30), "c")])
    with pytest.raises(DataError, match=r"db: image-000000002: not a readable image"):
        LmdbDataset(tmp_path / "db")  # when the dataset is built, before any training step
    ds = LmdbDataset(tmp_path / "db", skip_bad=True)
    assert len(ds) == 2 and ds.total == 3 and ds.skipped == {"unreadable image": 1}
    assert [ds[i]["label"] for i in range(2)] == ["a", "c"]
    assert "image-000000002" in caplog.text
    # The main process already holds an environment; forked workers must open their own.
    loader = DataLoader(ds, batch_size=1, num_workers=2, collate_fn=list)
    assert _labels(loader) == ["a", "c"]
    spawned = DataLoader(LmdbDataset(tmp_path / "db", skip_bad=True), batch_size=2, num_workers=2, collate_fn=list,
                         multiprocessing_context="spawn")
    assert _labels(spawned) == ["a", "c"]


def test_every_record_corrupt_gives_up_when_built(tmp_path):
    write_lmdb(tmp_path / "db", [(b"bad", "a"), (b"", "b")])
    with pytest.raises(DataError, match=r"no readable samples \(skipped: \{'unreadable image': 2\}\)"):
        LmdbDataset(tmp_path / "db", skip_bad=True)


def test_missing_and_non_utf8_records_are_counted_by_reason(tmp_path):
    env = lmdb.open(str(tmp_path / "db"), map_size=1 << 24)
    with env.begin(write=True) as txn:
        txn.put(b"num-samples", b"3")
        txn.put(b"image-000000001", _png(10))
        txn.put(b"label-000000001", b"ok")
        txn.put(b"image-000000002", _png(20))
        txn.put(b"label-000000002", b"\xff\xfe")
        txn.put(b"label-000000003", b"no image")
    env.close()
    with pytest.raises(DataError, match=r"db: record label-000000002 is not UTF-8 text"):
        LmdbDataset(tmp_path / "db")
    ds = LmdbDataset(tmp_path / "db", skip_bad=True)
    assert ds.labels == ["ok"] and ds.skipped == {"bad label record": 1, "missing record": 1} and ds.total == 3


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
    # Without decoding, the broken file goes in as it is; the missing one is still caught (line 3).
    with pytest.raises(DataError, match=r"gt_list.txt:3: image not found"):
        convert_to_lmdb(LmdbConvertSpec(gt_list=str(gt), output_dir=str(tmp_path / "db"), check_images=False))
    assert [label for _, _, label in read_lmdb(tmp_path / "db")] == ["A"]  # the failed run kept the old LMDB


def test_line_numbers_survive_duplicates_and_blank_lines(tmp_path):
    (tmp_path / "a.png").write_bytes(_png(10))
    (tmp_path / "gt_list.txt").write_text("a.png\tfirst\n\na.png\tsecond\nmissing.png\tthird\n")
    with pytest.raises(DataError, match=r"gt_list.txt:4: image not found"):
        convert_to_lmdb(LmdbConvertSpec(gt_list=str(tmp_path / "gt_list.txt"), output_dir=str(tmp_path / "db")))


def test_empty_result_and_refusing_to_replace_a_data_folder(tmp_path):
    gt = write_gt_list(tmp_path / "gt_list.txt", [("missing.png", "A")])
    with pytest.raises(DataError, match="no usable samples"):
        convert_to_lmdb(LmdbConvertSpec(gt_list=str(gt), output_dir=str(tmp_path / "db"), skip_bad=True))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gt_list.txt"]
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "keep.txt").write_text("precious")
    with pytest.raises(DataError, match="holds other files"):
        write_lmdb(tmp_path / "data", [(_png(10), "a")])
    assert (tmp_path / "data" / "keep.txt").read_text() == "precious"


def test_gt_list_dataset_names_the_line(tmp_path, caplog):
    (tmp_path / "a.png").write_bytes(_png(10))
    (tmp_path / "b.png").write_bytes(b"xx")
    gt = write_gt_list(tmp_path / "gt_list.txt", [("a.png", "A"), ("b.png", "B"), ("c.png", "C")])
    with pytest.raises(DataError, match=r"gt_list.txt:2: not a readable image"):
        GtListDataset(gt)
    ds = GtListDataset(gt, skip_bad=True)
    assert len(ds) == 1 and ds.total == 3 and ds.skipped == {"missing file": 1, "unreadable image": 1}
    assert ds[0]["label"] == "A" and np.asarray(ds[0]["image"]).shape == (8, 12, 3) and ds.image_size(0) == (12, 8)
    assert "gt_list.txt:3: image not found" in caplog.text
