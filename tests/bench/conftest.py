import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture
def load_bench():
    """A bench script as a module, by file name (bench/ on sys.path: the scripts import bench/common.py)."""
    def load(filename: str):
        sys.path.insert(0, str(BENCH))
        spec = importlib.util.spec_from_file_location(f"bench_{Path(filename).stem}", BENCH / filename)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod
    return load
