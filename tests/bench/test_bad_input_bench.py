"""bench/bad_input.py's corpus holds: each case (but the one that trains) gives the outcome ocdr promises."""
import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bad_input.py"


def _load():
    spec = importlib.util.spec_from_file_location("bench_bad_input", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


BAD = _load()
QUICK = [(name, fn) for name, fn in BAD.CASES if "resume" not in name]   # the resume case trains a model


@pytest.mark.parametrize("name,fn", QUICK, ids=[n for n, _ in QUICK])
def test_each_bad_input_gives_a_clear_error_or_a_counted_skip(name, fn, tmp_path):
    command, outcome, ok = fn(tmp_path)
    assert ok, f"{name} ({command}): {outcome}"
    assert "Traceback" not in outcome


def test_service_cases_hold():
    rows = BAD._service_cases()
    assert len(rows) == 3 and all(ok for *_, ok in rows), rows


def test_the_report_is_a_markdown_table(tmp_path, monkeypatch):
    monkeypatch.setattr(BAD, "ROOT", tmp_path)
    (tmp_path / "docs").mkdir()
    BAD.write_report([("a case", "ocdr x", "exit 2: /tmp/tmpab12/f.txt:3: bad | worse", True)])
    text = (tmp_path / "docs" / "reliability.md").read_text()
    assert "| a case | `ocdr x` | exit 2: <tmp>/f.txt:3: bad \\| worse | yes |" in text
