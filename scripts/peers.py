"""Print the peer engines pinned in pyproject.toml ([tool.ocdr.peers]): `python scripts/peers.py pip|apt`."""
import sys
import tomllib
from pathlib import Path

table = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["tool"]["ocdr"]["peers"]
print(" ".join(table[sys.argv[1]]))
