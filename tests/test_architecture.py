"""The layering of docs/design.md, checked on the source itself.

The layer order is an import-linter contract (``[tool.importlinter]`` in pyproject.toml, run by
``make lint``); these tests add what a layers contract cannot see: no import cycle between any
two modules (imports inside functions included), and no private name used across modules.
"""

from __future__ import annotations

import ast
from pathlib import Path

import grimp

import chachaml

SRC = Path(chachaml.__file__).parent


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (iterative Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_imports_another_that_imports_it_back() -> None:
    graph = grimp.build_graph("chachaml", cache_dir=None)
    edges = {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    assert len(edges) > 50  # the whole package was read
    assert _cycles(edges) == []


def _private_uses(path: Path) -> list[str]:
    """``from chachaml.x import _y`` and ``x._y`` where ``x`` names an imported chachaml module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    modules: set[str] = set()
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("chachaml"):
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"{path.name}:{node.lineno} imports {node.module}.{alias.name}")
                modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("chachaml"):
                    modules.add(alias.asname or alias.name.split(".")[0])
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            found.append(f"{path.name}:{node.lineno} uses {node.value.id}.{node.attr}")
    return found


def test_the_private_name_finder_sees_both_forms(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from chachaml import query\nfrom chachaml.query import _hidden\nquery._require(1)\n"
    )
    assert _private_uses(sample) == [
        "sample.py:2 imports chachaml.query._hidden",
        "sample.py:3 uses query._require",
    ]


def test_no_private_name_is_used_across_modules() -> None:
    files = sorted(SRC.rglob("*.py"))
    assert len(files) > 50
    assert [use for path in files for use in _private_uses(path)] == []


def test_every_module_is_placed_in_a_documented_layer() -> None:
    design = (SRC.parents[1] / "docs" / "design.md").read_text(encoding="utf-8")
    graph = grimp.build_graph("chachaml", cache_dir=None)
    top_level = {m.split(".")[1] for m in graph.modules if m.count(".") >= 1}
    missing = sorted(name for name in top_level if f"`{name}" not in design)
    assert missing == []
