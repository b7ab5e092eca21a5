"""The demo workflow behind ``ocdr demo`` and ``make demo``.

For now: generate the synthetic dataset, build its character list and recognition LMDB, and
print dataset statistics. Later stages (train, evaluate, export, pipeline) extend it.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from ocdr.data.charset import CharsetSpec, make_charset
from ocdr.data.lmdb_io import LmdbConvertSpec, convert_to_lmdb
from ocdr.data.stats import StatsSpec, dataset_stats
from ocdr.data.synth import SynthSpec, generate

__all__ = ["DemoSpec", "run_demo"]
log = logging.getLogger("ocdr.demo")


@dataclass
class DemoSpec:
    output_dir: str = field(default="runs/demo", metadata={"help": "where every demo output goes"})
    num_pages: int = field(default=60, metadata={"help": "synthetic pages to generate"})
    seed: int = field(default=0, metadata={"help": "random seed (the demo is deterministic)"})


def run_demo(spec: DemoSpec) -> dict:
    out = Path(spec.output_dir)
    data = out / "data"
    log.info("1/4 generating %d synthetic pages into %s", spec.num_pages, data)
    synth = generate(SynthSpec(output_dir=str(data), num_pages=spec.num_pages, seed=spec.seed))
    log.info("2/4 building the character list")
    charset = make_charset(CharsetSpec(
        inputs=[str(data / s / "crops" / "gt_list.txt") for s in ("train", "test")],
        output=str(data / "character_list.txt")))
    log.info("3/4 converting recognition crops to LMDB")
    lmdbs = {s: convert_to_lmdb(LmdbConvertSpec(gt_list=str(data / s / "crops" / "gt_list.txt"),
                                                output_dir=str(data / s / "lmdb")))
             for s in ("train", "test")}
    log.info("4/4 dataset statistics")
    stats = {s: dataset_stats(StatsSpec(path=str(data / s))) for s in ("train", "test")}
    return {"output_dir": str(out), "synth": synth, "charset": charset, "lmdb": lmdbs, "stats": stats}
