"""bench/precision_diff.py counts changed, gained and lost readings as a hand count does."""
import pytest


def test_changed_gained_and_lost_readings_are_counted_case_insensitively(load_bench):
    compare = load_bench("precision_diff.py").compare
    fp32 = ["Shopa", "BRING", "you", "THE", "x"]
    bf16 = ["Shops", "BRIMNG", "YOU", "TME", "x"]
    truth = ["shops", "BRING", "You", "THE", "y"]
    # Shopa->Shops gains; BRING->BRIMNG loses; you->YOU changes but both right; THE->TME loses; x unchanged
    assert compare(fp32, bf16, truth) == {"crops": 5, "changed": 4, "gained": 1, "lost": 2}


def test_readings_of_different_lengths_are_refused(load_bench):
    with pytest.raises(ValueError):
        load_bench("precision_diff.py").compare(["a"], ["a", "b"], ["a"])
