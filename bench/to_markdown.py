"""Render bench/results/<name>.json as a Markdown table (for docs/benchmarks.md).

    .venv/bin/python bench/to_markdown.py det_accuracy det_speed
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) < 1000 else f"{v:.0f}"
    return "" if v is None else str(v).replace("|", "/")


def table(rows: list[dict], skip: tuple[str, ...] = ()) -> str:
    keys = [k for k in dict.fromkeys(k for r in rows for k in r) if k not in skip]
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(fmt(r.get(k)) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    for name in sys.argv[1:]:
        data = json.loads((RESULTS / f"{name}.json").read_text())
        print(f"<!-- {name}: {data.get('command', '')} -->")
        print(table(data["rows"], skip=("started_from",)))
        print()


if __name__ == "__main__":
    main()
