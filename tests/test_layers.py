"""The package's layers (docs/architecture.md), checked on the import graph with ``ast``.

Bottom to top: errors/fileio -> config -> data -> models -> train / eval / export / rectify -> pipeline ->
serve -> commands -> cli. A module may import from its own layer or below, never above; no two packages
import each other (both directions), including imports deferred inside functions.
"""
import ast
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "ocdr"
LAYERS = [
    {"errors", "fileio", "resources"},
    {"config"},
    {"data"},
    {"models"},
    {"train", "eval", "export", "rectify"},
    {"pipeline"},
    {"serve"},
    {"commands", "demo"},
    {"cli", "__main__", "__init__"},
]
LEVEL = {pkg: i for i, layer in enumerate(LAYERS) for pkg in layer}


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def import_edges() -> list[tuple[str, str, str, int]]:
    """(importing module, imported module, file, line) for every ``ocdr`` import in the package."""
    edges = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).with_suffix("")
        module = ".".join(("ocdr", *rel.parts)).removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            for target in targets:
                if target == "ocdr" or target.startswith("ocdr."):
                    edges.append((module, target, str(path.relative_to(SRC.parent)), node.lineno))
    return edges


def upward_imports(edges) -> list[str]:
    bad = []
    for src, dst, where, line in edges:
        a, b = _package(src), _package(dst)
        if a not in LEVEL or b not in LEVEL:
            bad.append(f"{where}:{line}: package '{a if a not in LEVEL else b}' is in no layer")
        elif LEVEL[b] > LEVEL[a]:
            bad.append(f"{where}:{line}: {a} (layer {LEVEL[a]}) imports {dst} (layer {LEVEL[b]})")
    return bad


def two_way_pairs(edges) -> list[str]:
    seen = defaultdict(list)
    for src, dst, where, line in edges:
        a, b = _package(src), _package(dst)
        if a != b:
            seen[(a, b)].append(f"{where}:{line}")
    return [f"{a} <-> {b}: {seen[(a, b)][0]} and {seen[(b, a)][0]}" for a, b in seen if (b, a) in seen and a < b]


def test_no_upward_imports():
    assert upward_imports(import_edges()) == []


def test_no_two_packages_import_each_other():
    assert two_way_pairs(import_edges()) == []


def test_the_check_catches_an_upward_import_and_a_pair():
    edges = [("ocdr.data.x", "ocdr.pipeline.y", "data/x.py", 3), ("ocdr.pipeline.y", "ocdr.data.x", "pipeline/y.py", 1)]
    assert upward_imports(edges) == ["data/x.py:3: data (layer 2) imports ocdr.pipeline.y (layer 5)"]
    assert two_way_pairs(edges) == ["data <-> pipeline: data/x.py:3 and pipeline/y.py:1"]
