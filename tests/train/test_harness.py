"""The shared training harness on a toy task: checkpoints, resume, EMA, logs, DDP on CPU."""
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

from lightning.pytorch.callbacks import Callback

from ocdr.errors import ConfigError, DataError
from ocdr.models.checkpoint import load_checkpoint, read_model_record
from ocdr.train.harness import fit
from ocdr.train.optim import lr_factor
from ocdr.config.train import OptimSpec, TrainSpec

sys.path.insert(0, str(Path(__file__).parent))
from toy import toy_data, toy_task  # noqa: E402


def _loaders():
    return DataLoader(toy_data(64), batch_size=8, shuffle=True), DataLoader(toy_data(16, seed=1), batch_size=8)


def _spec(**kw):
    return TrainSpec(**{"num_epochs": 2, "progress_bar": False, "num_workers": 0, "log_every_n_steps": 1, **kw})


def _val_loss(task):
    data = toy_data(16, seed=1)
    x = torch.stack([d["images"] for d in data])
    y = torch.stack([d["targets"] for d in data])
    with torch.no_grad():
        return float(task.model(x, y)["loss"])


def test_fit_writes_checkpoints_logs_and_a_self_describing_model(tmp_path):
    task = toy_task(charset=["a", " "])
    before = _val_loss(task)
    result = fit(task, *_loaders(), _spec(), tmp_path)
    assert _val_loss(task) < before * 0.5
    names = sorted(p.name for p in tmp_path.glob("*.ckpt"))
    assert names == ["last.ckpt", "model_epoch_000.ckpt", "model_epoch_001.ckpt"]
    ckpt = load_checkpoint(tmp_path / "last.ckpt")  # weights_only=True
    assert ckpt["ocdr"]["spec"] == {"note": "toy spec"} and ckpt["ocdr"]["charset"] == ["a", " "]
    record = read_model_record(result["model"], kind="toy")
    assert record["model"] == {"name": "toy", "kwargs": {"features": 4}}
    assert torch.equal(record["state_dict"]["linear.weight"], task.model.linear.weight.detach())
    from_ckpt = read_model_record(tmp_path / "last.ckpt")
    assert set(from_ckpt["state_dict"]) == set(task.model.state_dict())
    csv = (tmp_path / "logs" / "version_0" / "metrics.csv").read_text()
    assert "train/loss_step" in csv and "val/loss" in csv
    assert list((tmp_path / "tensorboard").glob("version_0/events.out.tfevents.*"))
    assert not list(tmp_path.glob(".*.tmp"))


def test_checkpoint_interval(tmp_path):
    fit(toy_task(), *_loaders(), _spec(num_epochs=4, checkpoint_interval=2), tmp_path)
    assert sorted(p.name for p in tmp_path.glob("model_epoch_*.ckpt")) == ["model_epoch_001.ckpt", "model_epoch_003.ckpt"]


def test_resume_continues_from_last_checkpoint(tmp_path):
    first = fit(toy_task(), *_loaders(), _spec(num_epochs=1), tmp_path)
    assert first["steps"] == 8 and first["resumed_from"] is None
    second = fit(toy_task(), *_loaders(), _spec(num_epochs=3), tmp_path)
    assert second["resumed_from"] == str(tmp_path / "last.ckpt")
    assert second["steps"] == 24 and second["epochs"] == 3  # 8 more steps per remaining epoch, not 24 fresh
    # each run keeps its own log folder: resuming loses no curve
    assert (tmp_path / "logs" / "version_0" / "metrics.csv").is_file()
    assert (tmp_path / "logs" / "version_1" / "metrics.csv").is_file()


def test_resume_from_missing_checkpoint_is_clear(tmp_path):
    with pytest.raises(DataError, match="checkpoint not found"):
        fit(toy_task(), *_loaders(), _spec(resume_training_checkpoint_path=str(tmp_path / "nope.ckpt")), tmp_path)


def test_ema_weights_go_into_the_final_model(tmp_path):
    task = toy_task()
    result = fit(task, *_loaders(), _spec(ema=True, ema_decay=0.9), tmp_path)
    final = read_model_record(result["model"])["state_dict"]
    assert not torch.equal(final["linear.weight"], task.model.linear.weight.detach())
    assert final["calls"].dtype == torch.long


def test_unsafe_pickle_is_refused(tmp_path):
    import argparse

    path = tmp_path / "evil.ckpt"
    torch.save({"x": argparse.Namespace(code="arbitrary objects are not weights")}, path)
    with pytest.raises(DataError, match="not a loadable checkpoint"):
        load_checkpoint(path)


def test_lr_schedule_by_hand():
    spec = OptimSpec(lr_scheduler="poly", warmup_epochs=1, poly_power=1.0)
    # 10 steps per epoch, 30 in total: warm-up over steps 0..9 then a linear decay over 20 steps.
    assert lr_factor(0, spec, 30, 10) == pytest.approx(0.1)
    assert lr_factor(9, spec, 30, 10) == pytest.approx(1.0)
    assert lr_factor(20, spec, 30, 10) == pytest.approx(0.5)
    multi = OptimSpec(lr_scheduler="multistep", lr_steps=[2, 4], lr_decay=0.1)
    assert lr_factor(19, multi, 60, 10) == 1.0 and lr_factor(20, multi, 60, 10) == pytest.approx(0.1)
    assert lr_factor(45, multi, 60, 10) == pytest.approx(0.01)


def test_a_schedule_annealed_by_deadline_follows_the_larger_of_steps_and_time_done():
    poly = OptimSpec(lr_scheduler="poly", poly_power=1.0)
    assert lr_factor(10, poly, 100, 10) == pytest.approx(0.9)  # no clock: steps alone
    assert lr_factor(10, poly, 100, 10, time_done=0.5) == pytest.approx(0.5)  # the clock is ahead
    assert lr_factor(80, poly, 100, 10, time_done=0.5) == pytest.approx(0.2)  # the steps are ahead
    assert lr_factor(10, poly, 100, 10, time_done=1.0) == 0.0
    cosine = OptimSpec(lr_scheduler="cosine", warmup_epochs=1)
    assert lr_factor(5, cosine, 100, 10, time_done=0.9) == pytest.approx(0.6)  # warm-up is by steps
    assert lr_factor(10, cosine, 100, 10, time_done=0.5) == pytest.approx(0.5)


def test_anneal_by_deadline_needs_a_deadline_and_a_schedule_that_anneals():
    with pytest.raises(ConfigError, match="train.anneal_by_deadline needs a deadline: set train.max_minutes"):
        TrainSpec(anneal_by_deadline=True).validate()
    with pytest.raises(ConfigError, match="the 'multistep' schedule does not anneal"):
        TrainSpec(anneal_by_deadline=True, max_minutes=5, optim=OptimSpec(lr_scheduler="multistep")).validate()
    TrainSpec(anneal_by_deadline=True, max_minutes=5).validate()


def test_ddp_two_processes_on_cpu(tmp_path):
    """Two processes with gloo: the same code path as multi-GPU training, run to completion."""
    script = tmp_path / "ddp_toy.py"
    script.write_text(textwrap.dedent(f"""
        import json, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from torch.utils.data import DataLoader
        from toy import toy_data, toy_task
        from ocdr.train.harness import fit
        from ocdr.config.train import TrainSpec
        spec = TrainSpec(num_epochs=2, num_gpus=2, device="cpu", progress_bar=False, num_workers=0)
        res = fit(toy_task(), DataLoader(toy_data(64), batch_size=8), DataLoader(toy_data(16, seed=1), batch_size=8),
                  spec, {str(tmp_path / "run")!r})
        print("RESULT", json.dumps(res))
    """))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = [line for line in proc.stdout.splitlines() if line.startswith("RESULT")]
    assert len(results) == 2  # both ranks finished
    assert '"steps": 8' in results[0]  # 64 samples / 2 processes / batch 8 = 4 steps per epoch, 2 epochs
    assert (tmp_path / "run" / "model_final.pth").is_file()
    assert (tmp_path / "run" / "model_epoch_001.ckpt").is_file()


def test_ddp_timed_and_annealed_by_deadline_steps_every_process_with_rank_0s_learning_rate(tmp_path):
    script = tmp_path / "ddp_anneal.py"
    script.write_text(textwrap.dedent(f"""
        import json, sys, time
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from lightning.pytorch.callbacks import Callback
        from torch.utils.data import DataLoader
        from toy import toy_data, toy_task
        from ocdr.config.train import OptimSpec, TrainSpec
        from ocdr.train.harness import fit

        class Trace(Callback):
            lrs = []
            def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
                time.sleep(0.02)
                self.lrs.append(trainer.optimizers[0].param_groups[0]["lr"])

        task = toy_task()
        task.optim_spec = OptimSpec(lr=0.1, lr_scheduler="cosine")
        spec = TrainSpec(num_epochs=1000, num_gpus=2, device="cpu", progress_bar=False, num_workers=0,
                         max_minutes=4.0 / 60, anneal_by_deadline=True)
        trace = Trace()
        res = fit(task, DataLoader(toy_data(64), batch_size=8), DataLoader(toy_data(16, seed=1), batch_size=8),
                  spec, {str(tmp_path / "run")!r}, extra_callbacks=[trace])
        print("RESULT", json.dumps({{"stopped_by": res["stopped_by"], "lrs": trace.lrs}}))
    """))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    import json
    results = [json.loads(line[7:]) for line in proc.stdout.splitlines() if line.startswith("RESULT")]
    assert len(results) == 2  # both ranks stopped, neither waits for the other
    assert all(r["stopped_by"] == "time: train.max_minutes=0.0666667 reached" for r in results)
    assert results[0]["lrs"] == results[1]["lrs"]  # the same learning rate at every step
    assert results[0]["lrs"][0] > 0.09 and results[0]["lrs"][-1] < 0.02


def test_ddp_with_a_self_sharding_batch_sampler(tmp_path):
    """TrainBatchSampler shards itself: Lightning must not wrap it, and each process gets half the batches."""
    script = tmp_path / "ddp_sampler.py"
    script.write_text(textwrap.dedent(f"""
        import json, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from torch.utils.data import DataLoader
        from toy import toy_data, toy_task
        from ocdr.data.samplers import TrainBatchSampler
        from ocdr.train.harness import fit
        from ocdr.config.train import TrainSpec
        spec = TrainSpec(num_epochs=2, num_gpus=2, device="cpu", progress_bar=False, num_workers=0)
        train = DataLoader(toy_data(64), batch_sampler=TrainBatchSampler(64, 8, widths=list(range(64)), seed=0))
        val = DataLoader(toy_data(16, seed=1), batch_sampler=TrainBatchSampler(16, 8, shuffle=False))
        res = fit(toy_task(), train, val, spec, {str(tmp_path / "run")!r})
        print("RESULT", json.dumps(res))
    """))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = [line for line in proc.stdout.splitlines() if line.startswith("RESULT")]
    assert len(results) == 2 and all('"steps": 8' in r for r in results)  # 8 batches / 2 processes, 2 epochs
    assert (tmp_path / "run" / "model_best.pth").is_file()


def test_only_the_newest_epoch_checkpoints_are_kept(tmp_path):
    from ocdr.config.train import TrainSpec

    spec = TrainSpec(num_epochs=4, keep_checkpoints=2, device="cpu", progress_bar=False, num_workers=0)
    fit(toy_task(), DataLoader(toy_data(16), batch_size=8), DataLoader(toy_data(8, seed=1), batch_size=8), spec,
        tmp_path / "run")
    kept = sorted(p.name for p in (tmp_path / "run").glob("model_epoch_*.ckpt"))
    assert kept == ["model_epoch_002.ckpt", "model_epoch_003.ckpt"]
    assert {"last.ckpt", "model_final.pth", "model_best.pth"} <= {p.name for p in (tmp_path / "run").iterdir()}


class _SlowValidation:
    """Wraps a toy task so that every validation batch takes ``seconds``."""

    def __init__(self, task, seconds):
        self.task, self.seconds = task, seconds
        inner = task.validation_counts

        def slow(batch):
            import time
            time.sleep(self.seconds)
            return inner(batch)
        task.validation_counts = slow


def test_max_minutes_bounds_validation_too_and_the_result_says_what_stopped(tmp_path, caplog):
    import logging
    import time

    task = toy_task()
    _SlowValidation(task, 0.25)
    val = DataLoader(toy_data(80, seed=1), batch_size=2)  # 40 batches: a whole validation takes 10 s
    spec = _spec(num_epochs=100, max_minutes=1.5 / 60)
    start = time.monotonic()
    with caplog.at_level(logging.INFO, logger="ocdr"):
        result = fit(task, DataLoader(toy_data(16), batch_size=8), val, spec, tmp_path)
    # the budget (1.5 s) plus one validation batch and saving, far from the 10 s of one whole validation
    assert time.monotonic() - start < 8
    assert result["stopped_by"] == "time: train.max_minutes=0.025 reached"
    assert result["best"] == {}  # the cut validation's metrics are not used
    assert "training stopped by time: train.max_minutes=0.025 reached" in caplog.text
    assert "validation cut short by train.max_minutes" in caplog.text


class _LrTrace(Callback):
    def __init__(self):
        self.lrs = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.lrs.append(trainer.optimizers[0].param_groups[0]["lr"])


def test_a_timed_run_keeps_time_for_its_last_validation_and_anneals_by_its_deadline(tmp_path, caplog):
    import logging
    import time

    task = toy_task()
    task.optim_spec = OptimSpec(lr=0.1, lr_scheduler="poly", poly_power=1.0)
    _SlowValidation(task, 0.25)  # 4 batches: a validation takes 1 s, and 1.1 s are kept for the last one
    slow_step = task.training_step
    task.training_step = lambda batch, *rest: (time.sleep(0.05), slow_step(batch, *rest))[1]
    spec = _spec(num_epochs=1000, max_minutes=6.0 / 60, anneal_by_deadline=True)
    trace = _LrTrace()
    with caplog.at_level(logging.INFO, logger="ocdr"):
        result = fit(task, DataLoader(toy_data(16), batch_size=4), DataLoader(toy_data(8, seed=1), batch_size=2),
                     spec, tmp_path, extra_callbacks=[trace])
    assert result["stopped_by"] == "time: train.max_minutes=0.1 reached"
    assert "validation cut short" not in caplog.text  # the last validation had its time
    assert result["best"]  # validations counted, the last one included
    # by steps alone (1000 epochs planned) the lr would still be near 0.1; by the clock it has nearly run out
    assert trace.lrs[0] > 0.08 and trace.lrs[-1] < 0.03
    assert all(a >= b for a, b in zip(trace.lrs, trace.lrs[1:]))


def test_the_result_names_epochs_or_steps_as_what_stopped(tmp_path):
    by_epochs = fit(toy_task(), *_loaders(), _spec(num_epochs=1), tmp_path / "a")
    assert by_epochs["stopped_by"] == "epochs: train.num_epochs=1 done"
    by_steps = fit(toy_task(), *_loaders(), _spec(num_epochs=5, max_steps=3), tmp_path / "b")
    assert by_steps["stopped_by"] == "steps: train.max_steps=3 reached" and by_steps["steps"] == 3
