"""bench/rec_memory.py gives every variant the same crop shapes and maps its ladder names to settings."""


def test_every_variant_gets_the_same_crop_shapes(load_bench):
    mod = load_bench("rec_memory.py")
    calls = mod.random_calls(5, 8)
    assert calls == mod.random_calls(5, 8) and len(calls) == 5 and all(len(c) == 8 for c in calls)
    widths = [w for c in calls for _, w in c]
    assert all(h == 48 for c in calls for h, _ in c) and 48 <= min(widths) and max(widths) <= 48 * 40
    assert len(set(widths)) > 30  # random widths: a new width in nearly every crop


def test_ladder_names_map_to_overrides(load_bench):
    mod = load_bench("rec_memory.py")
    assert mod.ladder_settings("default") is None
    assert mod.ladder_settings("0") == {"width_ladder": 0.0} and mod.ladder_settings("0.2") == {"width_ladder": 0.2}
