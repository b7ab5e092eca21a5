"""``ocdr data synth``: layout, determinism, and boxes that agree with the pixels."""
from collections import Counter

import numpy as np
import pytest
from shapely.geometry import Polygon

import ocdr.data.synth as synth
from ocdr.data.charset import read_charset
from ocdr.data.formats import read_gt_list, read_icdar_gt
from ocdr.data.images import read_image
from ocdr.data.synth import SynthSpec, generate, render_page
from ocdr.errors import ConfigError, DataError, OcdrError


def _small(out, **kw):
    return SynthSpec(**{"output_dir": str(out), "num_pages": 6, "test_fraction": 0.34, "min_width": 240,
                        "max_width": 320, "min_height": 240, "max_height": 320, "min_text_height": 14,
                        "max_text_height": 26, "workers": 1, **kw})


def test_layout_and_counts(tmp_path):
    summary = generate(_small(tmp_path))
    assert summary["pages"] == {"train": 4, "test": 2}
    for split, n in (("train", 4), ("test", 2)):
        assert len(list((tmp_path / split / "img").glob("synth_*.jpg"))) == n
        assert len(list((tmp_path / split / "gt").glob("gt_synth_*.txt"))) == n
    assert (tmp_path / "test" / "img" / "synth_00005.jpg").is_file()
    all_words = Counter()
    for split in ("train", "test"):
        gt_words = Counter(r.text for f in (tmp_path / split / "gt").iterdir() for r in read_icdar_gt(f))
        rows = read_gt_list(tmp_path / split / "crops" / "gt_list.txt")
        assert Counter(label for _, label in rows) == gt_words  # one crop per gt word, same split
        assert all((tmp_path / split / "crops" / name).is_file() for name, _ in rows)
        all_words += gt_words
    assert sum(all_words.values()) == summary["words"] == summary["crops"] > 0
    chars = set(read_charset(tmp_path / "character_list.txt"))
    assert set("".join(all_words)) == chars


def test_same_seed_same_files_other_seed_other_files(tmp_path):
    generate(_small(tmp_path / "a", workers=2, num_pages=8))
    generate(_small(tmp_path / "b", workers=1, num_pages=8))
    generate(_small(tmp_path / "c", seed=1, num_pages=8))
    rel = "train/gt/gt_synth_00002.txt"
    assert (tmp_path / "a" / rel).read_text() == (tmp_path / "b" / rel).read_text()
    img = "train/img/synth_00002.jpg"
    assert (tmp_path / "a" / img).read_bytes() == (tmp_path / "b" / img).read_bytes()
    assert (tmp_path / "a" / rel).read_text() != (tmp_path / "c" / rel).read_text()


def test_quads_follow_the_ink():
    """Inside each quad the page is clearly darker than paper far from every quad; quads are
    inside the page, clockwise from top-left, and do not overlap."""
    spec = _small("unused", blur_prob=0.0, noise_prob=0.0)
    hand, printed = synth.find_fonts()
    import cv2

    for index in range(4):
        image, regions = render_page(np.random.default_rng([7, index]), spec, hand, printed, synth.load_words())
        gray = image.mean(axis=2)
        h, w = gray.shape
        text_mask = np.zeros((h, w), np.uint8)
        polys = []
        for r in regions:
            assert r.points.shape == (4, 2)
            assert (r.points >= -0.5).all() and (r.points[:, 0] <= w + 0.5).all() and (r.points[:, 1] <= h + 0.5).all()
            p = Polygon(r.points)
            assert p.is_valid and p.area > 20
            # clockwise on the image (y down) means positive shoelace area with y flipped: top-left first
            assert r.points[0, 0] < r.points[1, 0] and r.points[0, 1] < r.points[3, 1]
            polys.append(p)
            cv2.fillPoly(text_mask, [np.round(r.points).astype(np.int32)], 1)
        for i in range(len(polys)):
            for j in range(i + 1, len(polys)):
                assert polys[i].intersection(polys[j]).area < 1.0
        far = cv2.dilate(text_mask, np.ones((9, 9), np.uint8)) == 0
        for r in regions:
            m = np.zeros((h, w), np.uint8)
            cv2.fillPoly(m, [np.round(r.points).astype(np.int32)], 1)
            inside = gray[m == 1]
            # the darkest tenth of each box is ink, well below the paper's median
            assert np.percentile(inside, 10) < np.median(gray[far]) - 40, r.text
        assert len(regions) >= spec.words_per_page_min // 2


def test_content_mixes_case_digits_and_punctuation(tmp_path):
    generate(_small(tmp_path, num_pages=6))
    labels = [label for _, label in read_gt_list(tmp_path / "train" / "crops" / "gt_list.txt")]
    text = "".join(labels)
    assert any(c.islower() for c in text) and any(c.isupper() for c in text) and any(c.isdigit() for c in text)
    assert any(c in ",.:;!?()'-/" for c in text)


def test_crops_are_upright_word_images(tmp_path):
    generate(_small(tmp_path, num_pages=2, test_fraction=0.0))
    rows = read_gt_list(tmp_path / "train" / "crops" / "gt_list.txt")
    for name, label in rows[:10]:
        crop = read_image(tmp_path / "train" / "crops" / name)
        h, w = crop.shape[:2]
        assert h >= 8 and (w >= h or len(label) <= 2)  # a word is wider than tall
        assert crop.mean(axis=2).min() < 150  # holds ink


def test_falls_back_to_pillow_font_when_no_fonts(tmp_path, monkeypatch):
    monkeypatch.setattr(synth, "FONT_ROOTS", ())
    summary = generate(_small(tmp_path, num_pages=1, test_fraction=0.0))
    assert summary["fonts"] == ["pillow default"] and summary["words"] > 0


def test_bad_specs(tmp_path):
    with pytest.raises(OcdrError, match="font file not found"):
        generate(_small(tmp_path, fonts=[str(tmp_path / "none.ttf")]))
    from ocdr.config import load_spec

    with pytest.raises(OcdrError, match="num_pages must be >= 1"):
        load_spec(SynthSpec, None, ["num_pages=0"])
    with pytest.raises(OcdrError, match="JPEG quality"):
        generate(_small(tmp_path, min_jpeg_quality=95, jpeg_quality=90))
    with pytest.raises(ConfigError, match="unknown key 'pages'"):
        load_spec(SynthSpec, None, ["pages=3"])


def test_word_quad_is_the_tight_ink_box_rotated_with_the_word():
    """Unrotated, the quad's edges touch the ink on all four sides; rotated by 5 degrees, every
    clearly inked pixel is inside the rotated quad, and the quad's top edge slopes with the word
    (rotating counter-clockwise on the image raises the right end: y of top-right < top-left)."""
    font = synth._font(synth.PILLOW_FONT, 30)
    mask, quad, base = synth._render_word("Hello", font, 0.0)
    ys, xs = np.nonzero(mask > 0.15)
    assert (quad[0] == [xs.min(), ys.min()]).all() and (quad[2] == [xs.max() + 1, ys.max() + 1]).all()
    assert quad[0, 1] < base[1] <= quad[2, 1]  # the baseline lies inside the box ("Hello" has no descender)
    mask, quad, _ = synth._render_word("Hello", font, 5.0)
    import cv2

    inside = np.zeros(mask.shape, np.uint8)
    cv2.fillPoly(inside, [np.round(quad).astype(np.int32)], 1)
    inside = cv2.dilate(inside, np.ones((3, 3), np.uint8))  # one pixel of rounding slack
    assert (inside[mask > 0.5] == 1).all()
    assert quad[1, 1] < quad[0, 1] - 5  # 140 px wide at 5 degrees: the right end rises ~12 px


def test_missing_glyphs_are_detected():
    """Pillow's bundled font has Latin letters and digits but no CJK ideograph: the ideograph draws
    as nothing or as .notdef and must not count as supported."""
    assert synth._draws(synth.PILLOW_FONT, "a") and synth._draws(synth.PILLOW_FONT, "9")
    assert not synth._draws(synth.PILLOW_FONT, "\u4e00")
    assert set("Name:12.50()'-,") <= synth._supported(synth.PILLOW_FONT)


def test_crops_are_cut_from_the_written_jpeg(tmp_path):
    """A crop is the quad of the page *as stored* (after JPEG), rectified with the padding: the
    same warp of the decoded page file gives the same pixels (up to JPEG decoder rounding)."""
    spec = _small(tmp_path, num_pages=1, test_fraction=0.0)
    generate(spec)
    page = read_image(tmp_path / "train" / "img" / "synth_00000.jpg")
    regions = read_icdar_gt(tmp_path / "train" / "gt" / "gt_synth_00000.txt")
    rows = read_gt_list(tmp_path / "train" / "crops" / "gt_list.txt")
    assert [label for _, label in rows] == [r.text for r in regions]
    for (name, _), r in zip(rows, regions):
        crop = read_image(tmp_path / "train" / "crops" / name).astype(int)
        # gt coordinates are written with 2 decimals, so allow a little resampling difference
        expected = synth.rectify_quad(page, r.points, spec.crop_padding).astype(int)
        assert crop.shape == expected.shape
        assert np.abs(crop - expected).mean() < 1.5


def test_word_list_resource():
    """words.txt: sorted unique lower-case ASCII words of 2-12 letters, a few thousand of them."""
    words = synth.load_words()
    assert 5000 <= len(words) <= 8000
    assert list(words) == sorted(set(words))
    assert all(w.isascii() and w.isalpha() and w.islower() and 2 <= len(w) <= 12 for w in words)


def test_word_counts_respect_the_page_maximum():
    spec = _small("unused", words_per_page_min=3, words_per_page_max=5)
    hand, printed = synth.find_fonts()
    for index in range(3):
        _, regions = render_page(np.random.default_rng([3, index]), spec, hand, printed, synth.load_words())
        assert 1 <= len(regions) <= 5


def _pages(root):
    return sorted(p.name for split in ("train", "test") for p in (root / split / "img").glob("*.jpg"))


def _leftovers(root):
    return sorted(p.name for p in root.parent.iterdir() if p.name.startswith(f".{root.name}."))


def test_a_non_empty_folder_is_refused_and_overwrite_replaces_it_whole(tmp_path):
    out = tmp_path / "synth"
    generate(_small(out, num_pages=6))
    with pytest.raises(DataError) as err:
        generate(_small(out, num_pages=3))
    assert str(err.value).startswith(f"{out}: output_dir is not empty")
    assert "overwrite=true to replace it whole" in str(err.value)
    assert len(_pages(out)) == 6  # refused: nothing touched
    summary = generate(_small(out, num_pages=3, overwrite=True))
    # no stale page 3..5 stays behind: pages 0-1 train, page 2 test, and nothing else
    assert _pages(out) == ["synth_00000.jpg", "synth_00001.jpg", "synth_00002.jpg"]
    assert sorted(p.name for p in (out / "test" / "img").iterdir()) == ["synth_00002.jpg"]
    rows = read_gt_list(out / "train" / "crops" / "gt_list.txt")
    assert sorted(p.name for p in (out / "train" / "crops").glob("*.png")) == sorted(name for name, _ in rows)
    assert summary["output_dir"] == str(out) and summary["pages"] == {"train": 2, "test": 1}
    assert _leftovers(out) == []


def test_overwrite_never_deletes_files_the_generator_did_not_write(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(DataError, match="overwrite=true would delete 'notes.txt', which ocdr data synth did not write"):
        generate(_small(out, num_pages=2, overwrite=True))
    assert (out / "notes.txt").read_text() == "keep me" and _leftovers(out) == []


def test_an_empty_folder_is_filled_and_a_new_one_has_the_usual_permissions(tmp_path):
    import os
    import stat

    empty = tmp_path / "empty"
    empty.mkdir()
    generate(_small(empty, num_pages=2))
    assert len(_pages(empty)) == 2 and (empty / "character_list.txt").is_file()
    new = tmp_path / "new" / "synth"
    generate(_small(new, num_pages=1, test_fraction=0.0))
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(new.stat().st_mode) == 0o777 & ~mask  # like any new folder, not the temp folder's 0700


def test_of_two_runs_at_once_the_later_fails_and_the_earlier_stays_whole(tmp_path, monkeypatch):
    """Run A's first page starts run B into the same folder; B finishes first. A then fails cleanly and the
    folder holds exactly B's dataset (2 pages), no page of A's 6."""
    out = tmp_path / "race"
    page_job = synth._page_job
    started = []

    def page_job_starting_a_rival(args):
        if not started:
            started.append(True)
            generate(_small(out, num_pages=2, seed=9))
        return page_job(args)

    monkeypatch.setattr(synth, "_page_job", page_job_starting_a_rival)
    with pytest.raises(DataError, match="another run filled output_dir while this one was generating"):
        generate(_small(out, num_pages=6))
    monkeypatch.setattr(synth, "_page_job", page_job)
    generate(_small(tmp_path / "b_alone", num_pages=2, seed=9))
    rel = "train/gt/gt_synth_00000.txt"
    assert _pages(out) == ["synth_00000.jpg", "synth_00001.jpg"]
    assert (out / rel).read_text() == (tmp_path / "b_alone" / rel).read_text()
    assert _leftovers(out) == []


def test_two_threads_into_one_folder_leave_one_whole_dataset(tmp_path):
    import threading

    out = tmp_path / "both"
    outcomes = []

    def run(seed):
        try:
            generate(_small(out, num_pages=4, seed=seed))
            outcomes.append("ok")
        except DataError as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=run, args=(s,)) for s in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes)[-1] == "ok" and sorted(outcomes)[0] != "ok"  # one wins, the other is refused
    assert len(_pages(out)) == 4 and _leftovers(out) == []
    for split in ("train", "test"):
        names = {name for name, _ in read_gt_list(out / split / "crops" / "gt_list.txt")}
        assert names == {p.name for p in (out / split / "crops").glob("*.png")}  # no orphan crops


def test_training_generates_the_default_data_only_when_absent(tmp_path, monkeypatch):
    from ocdr.config.ocdnet import OcdnetSpec
    from ocdr.train.detection import ensure_data

    monkeypatch.chdir(tmp_path)
    spec = OcdnetSpec()
    spec.dataset.synth_pages = 2
    ensure_data([str(tmp_path / "mine" / "train")], spec)  # a folder the user named is never generated
    assert not (tmp_path / "mine").exists()
    paths = spec.dataset.train_data_path + spec.dataset.validate_data_path   # the defaults: data/synth/...
    ensure_data(paths, spec)
    assert len(_pages(tmp_path / "data" / "synth")) == 2
    page = tmp_path / "data" / "synth" / "train" / "img" / "synth_00000.jpg"
    before = page.stat().st_mtime_ns
    ensure_data(paths, spec)  # present now: left alone, no error about a non-empty folder
    assert page.stat().st_mtime_ns == before
