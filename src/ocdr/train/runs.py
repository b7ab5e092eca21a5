"""One training run per results folder: a lock, leftovers of killed writes, and a resume that matches.

Everything here happens before the run writes anything, so a refused run leaves the folder as it was.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import time
from pathlib import Path
from typing import Iterator

from ocdr.config.core import flat_keys
from ocdr.errors import ConfigError, DataError
from ocdr.models.checkpoint import load_checkpoint

__all__ = ["LOCK_NAME", "open_run", "remove_leftover_temp_files", "resume_conflicts", "find_resume"]
log = logging.getLogger("ocdr")

LOCK_NAME = ".ocdr_train.lock"
# spec keys a resumed run must share with the run it continues: another model, character list or optimizer
# would either fail deep inside Lightning or, for the learning rate, be silently replaced by the restored one
_MUST_MATCH = ("model.", "train.optim.", "train.batch_size", "train.precision")
_MAY_DIFFER = ("model.pretrained_model_path",)   # only read when a run starts


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # someone else's live process
        return True
    return True


def _is_launcher() -> bool:
    """The process that owns the run: DDP's worker processes (LOCAL_RANK > 0) share the launcher's lock."""
    return os.environ.get("LOCAL_RANK", "0") == "0" and os.environ.get("NODE_RANK", "0") == "0"


@contextlib.contextmanager
def run_lock(results_dir: Path) -> Iterator[None]:
    """``results_dir/.ocdr_train.lock`` holds the PID of the run writing there; a second run is refused, a lock
    left by a dead process is taken over."""
    if not _is_launcher():
        yield
        return
    lock = results_dir / LOCK_NAME
    me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                other = json.loads(lock.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                other = {}
            pid = int(other.get("pid", 0) or 0)
            if pid and other.get("host") == me["host"] and not _alive(pid):
                log.info("%s: removing the lock of a run that ended without releasing it (PID %d)", lock, pid)
                lock.unlink(missing_ok=True)
                continue
            raise ConfigError(f"{results_dir}: another training writes here (PID {other.get('pid', '?')} on "
                              f"{other.get('host', '?')}, since {other.get('started', '?')}); wait for it, or give "
                              f"this run another train.results_dir (remove {lock} if that run is gone)") from None
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(me, fh)
        break
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


def remove_leftover_temp_files(results_dir: Path) -> int:
    """Temp files of writes killed half-way (``.<name>.<random>.tmp``, see ocdr.fileio); the folder is locked,
    so none of them belongs to a live writer."""
    removed = 0
    for tmp in results_dir.glob(".*.tmp"):
        if tmp.is_file():
            tmp.unlink(missing_ok=True)
            removed += 1
    if removed:
        log.info("%s: removed %d temp file(s) left by an interrupted write", results_dir, removed)
    return removed


def find_resume(resume_path: str, results_dir: Path) -> str | None:
    if resume_path:  # check_resume reads it (a clear error if it is missing or unsafe) before training starts
        return str(Path(resume_path))
    last = results_dir / "last.ckpt"
    return str(last) if last.is_file() else None


def resume_conflicts(saved: dict, spec: dict, saved_charset, charset) -> list[str]:
    """The keys where the run being resumed and this spec disagree (``key (checkpoint: a, spec: b)``)."""
    ours, theirs = flat_keys(spec), flat_keys(saved)
    out = []
    for key in sorted(set(ours) | set(theirs)):
        if not key.startswith(_MUST_MATCH) or key in _MAY_DIFFER:
            continue
        if key in theirs and key in ours and theirs[key] != ours[key]:
            out.append(f"{key} (checkpoint: {theirs[key]!r}, spec: {ours[key]!r})")
    if saved_charset is not None and charset is not None and list(saved_charset) != list(charset):
        added = sorted(set(charset) - set(saved_charset))
        gone = sorted(set(saved_charset) - set(charset))
        out.append(f"character list ({len(saved_charset)} in the checkpoint, {len(charset)} in the spec; "
                   f"added {''.join(added)[:20]!r}, removed {''.join(gone)[:20]!r})")
    return out


def check_resume(resume: str | None, spec: dict, charset) -> None:
    if resume is None:
        return
    record = load_checkpoint(resume).get("ocdr") or {}
    conflicts = resume_conflicts(record.get("spec") or {}, spec, record.get("charset"), charset)
    if conflicts:
        raise ConfigError(f"{resume}: this run would resume a different one: " + "; ".join(conflicts)
                          + ". Resuming restores the checkpoint's model and optimizer: give the checkpoint's values, "
                          "or a new train.results_dir to start afresh")


@contextlib.contextmanager
def open_run(results_dir: str | Path, resume_path: str, spec: dict, charset=None) -> Iterator[str | None]:
    """Lock ``results_dir``, clear leftovers of killed writes and check that a resume continues the same run,
    all before anything is written; yields the checkpoint to resume from (or None)."""
    results_dir = Path(results_dir)
    try:
        results_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(results_dir, f"cannot create the results folder ({exc.strerror or exc})") from None
    with run_lock(results_dir):
        if _is_launcher():
            remove_leftover_temp_files(results_dir)
        resume = find_resume(resume_path, results_dir)
        check_resume(resume, spec, charset)
        yield resume
