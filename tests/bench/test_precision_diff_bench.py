"""bench/precision_diff.py counts changed, gained and lost readings as a hand count does."""
import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _load():
    sys.path.insert(0, str(BENCH))  # the script imports bench/common.py
    spec = importlib.util.spec_from_file_location("bench_precision_diff", BENCH / "precision_diff.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_changed_gained_and_lost_readings_are_counted_case_insensitively():
    compare = _load().compare
    fp32 = ["Shopa", "BRING", "you", "THE", "x"]
    bf16 = ["Shops", "BRIMNG", "YOU", "TME", "x"]
    truth = ["shops", "BRING", "You", "THE", "y"]
    # Shopa->Shops gains; BRING->BRIMNG loses; you->YOU changes but both right; THE->TME loses; x unchanged
    assert compare(fp32, bf16, truth) == {"crops": 5, "changed": 4, "gained": 1, "lost": 2}


def test_readings_of_different_lengths_are_refused():
    with pytest.raises(ValueError):
        _load().compare(["a"], ["a", "b"], ["a"])
