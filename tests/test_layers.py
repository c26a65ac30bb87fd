"""The package's layers only point down, with no cycle between its parts (lazy imports count):
front ends -> inference and training -> models and corruption -> io and core helpers. Modules
share public names only."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "restore"
LAYERS = [  # core, then each layer above
    {
        "io",
        "shipped",
        "errors",
        "precision",
        "convert",
        "metrics",
        "visualize",
        "geometry",
        "options",
    },
    {"models", "corruption"},
    # inference and training
    {"restorer", "runtime", "tiling", "jobs", "run_report", "predict", "training", "data"},
    {"cli", "ray_data", "export", "bench", "train", "calibrate", "ui", "__init__"},  # front ends
]
RANK = {part: rank for rank, parts in enumerate(LAYERS) for part in parts}


def _part(module: str) -> str | None:
    bits = module.split(".")
    if bits[0] != "restore":
        return None
    return bits[1] if len(bits) > 1 else "__init__"


def imports() -> dict[str, set[str]]:
    """Part of the package -> the parts it imports (any import statement, lazy ones too)."""
    edges: dict[str, set[str]] = defaultdict(set)
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        me = _part(".".join(rel.parts))
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
                if node.module == "restore":
                    names = [f"restore.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                part = _part(name)
                if part and part != me:
                    edges[me].add(part)
    return edges


def test_every_part_has_a_layer():
    parts = {p.stem for p in PACKAGE.glob("*.py")}
    parts |= {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert parts <= set(RANK), parts - set(RANK)


def test_imports_only_point_down():
    wrong = [
        f"{a} -> {b}"
        for a, targets in imports().items()
        for b in targets
        if RANK.get(b, 0) > RANK[a] or (RANK.get(b, 0) == RANK[a] and a in LAYERS[-1])
    ]
    assert not wrong, wrong


def test_no_cycle_between_parts():
    edges = imports()

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in edges.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    cycles = [a for a in edges if reaches(a, a, {a})]
    assert not cycles, cycles


def test_no_module_uses_another_modules_private_names():
    """No ``from restore.x import _name`` in the package, its scripts or its tests, and no
    ``module._name`` of a restore module in the package or its scripts."""
    root = PACKAGE.parent
    found = []
    for path in [*PACKAGE.rglob("*.py"), *root.glob("scripts/*.py"), *root.glob("tests/*.py")]:
        tree = ast.parse(path.read_text())
        modules = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("restore"):
                modules |= {a.asname or a.name for a in node.names}
                found += [
                    f"{path.name}:{node.lineno} {a.name}"
                    for a in node.names
                    if a.name.startswith("_") and not a.name.startswith("__")
                ]
            elif isinstance(node, ast.Import):
                modules |= {a.asname for a in node.names if a.name.startswith("restore")}
        if path.parent.name == "tests":  # tests may patch a module's internals
            continue
        found += [
            f"{path.name}:{node.lineno} {ast.unparse(node)}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
        ]
    assert not found, found
