"""bench/recheck_cost.py times its variants interleaved, round by round, at the batch size each names."""


def test_variants_are_timed_once_per_round_interleaved(load_bench):
    order = []
    ticks = iter([0.0, 1.0, 1.0, 3.0, 10.0, 10.5, 20.0, 24.0])  # start, stop of a, b, a, b
    rates = load_bench("recheck_cost.py").interleaved({"a": lambda: order.append("a"), "b": lambda: order.append("b")}, rounds=2,
                                count=12, clock=lambda: next(ticks))
    assert order == ["a", "b", "a", "b"]
    assert rates == {"a": [12.0, 24.0], "b": [6.0, 3.0]}


class _Reader:
    def __init__(self):
        self.batch_size, self.calls = 0, []

    def __call__(self, crops):
        self.calls.append((self.batch_size, len(crops)))


def test_each_variant_reads_every_crop_at_its_own_batch_size(load_bench):
    fp32, bf16 = _Reader(), _Reader()
    calls = load_bench("recheck_cost.py").variants(["c1", "c2", "c3"], [6, 12], {"fp32": fp32, "bf16": bf16})
    assert list(calls) == ["fp32@6", "bf16@6", "fp32@12", "bf16@12"]
    for call in calls.values():
        call()
    assert fp32.calls == [(6, 3), (12, 3)] and bf16.calls == [(6, 3), (12, 3)]


def test_rows_report_the_median_round(load_bench):
    rows = load_bench("recheck_cost.py").rows_of({"bf16@6": [100.0, 300.0, 200.0]}, "no detector yet")
    assert rows == [{"when": "no detector yet", "read": "bf16@6", "crops_per_s": 200.0, "rounds": "100 300 200"}]
