"""No import circle: the import graph of vidstyle (with flow and segmentation) has no cycle.

The graph is read from the source with ``ast``, without importing anything: every
``import``/``from … import`` of the three packages counts, also inside functions (a
function-level import only hides a circle until the function runs), except those under
``if TYPE_CHECKING:``, which never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("vidstyle", "flow", "segmentation")

#: Edges of circles that other work removes; each must still exist (delete it once gone).
KNOWN_CYCLE_EDGES = {
    # The click group's module imports the subcommand modules that register on it
    # (vidstyle.cli.main → vidstyle.cli.commands → vidstyle.cli.video → vidstyle.cli).
    ("vidstyle.cli", "vidstyle.cli.commands"),
    # images reads EXR files through exr, which writes through images' helpers.
    ("vidstyle.images", "vidstyle.exr"),
}


def _modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imported_names(tree: ast.AST, module: str, is_package: bool):
    """Dotted names imported anywhere in ``tree`` (``from a import b`` gives a.b and a)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, *([base] if base else [])])
            yield from (f"{base}.{alias.name}" for alias in node.names)
        stack.extend(ast.iter_child_nodes(node))


def import_graph() -> dict[str, set[str]]:
    """Module → the package modules it imports (a name resolves to its longest module prefix)."""
    modules = _modules()

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        targets = {resolve(name) for name in _imported_names(tree, module, path.name == "__init__.py")}
        graph[module] = {t for t in targets if t is not None and t != module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
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


def _describe(graph: dict[str, set[str]], component: list[str]) -> str:
    members = set(component)
    return "; ".join(f"{m} → {', '.join(sorted(graph[m] & members))}" for m in component)


def test_cycle_finder_finds_a_circle_and_trusts_a_line():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_relative_and_type_checking_imports_are_read_right():
    tree = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import vidstyle.video\n"
                     "def f():\n    from . import losses\n    from .net import FeatureNet\n")
    names = set(_imported_names(tree, "vidstyle.stylize", False))
    assert {"vidstyle.losses", "vidstyle.net.FeatureNet"} <= names and "vidstyle.video" not in names


def test_no_import_circle():
    graph = import_graph()
    assert "vidstyle.terms" in graph["vidstyle.stylize"] and "vidstyle.losses" in graph["vidstyle.terms"]
    for source, target in KNOWN_CYCLE_EDGES:
        assert target in graph.get(source, ()), (
            f"{source} no longer imports {target}: remove it from KNOWN_CYCLE_EDGES")
    pruned = {m: {t for t in targets if (m, t) not in KNOWN_CYCLE_EDGES} for m, targets in graph.items()}
    circles = cycles(pruned)
    assert not circles, "import circles: " + " | ".join(_describe(pruned, c) for c in circles)
