"""The import graph runs one way and has no circle (issue #20): explorer -> core -> kernels, and
inside core cli -> training -> checkpoints -> networks -> latents -> the shared base modules
(errors, files, noise, images). Every import counts, function-level ones too."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import REPO

# A module may import only from its own room or a room further down this list.
RANKS = [
    ("kernels", 0),
    ("core.errors", 1), ("core.files", 1), ("core.devices", 1), ("core.noise", 1), ("core.images", 1),
    ("core.latents", 2),
    ("core.networks", 3),
    ("core.checkpoints", 4),
    ("core.training", 5),
    ("core.cli", 6),
    ("explorer", 7),
]


def rank(module: str) -> int | None:
    best = None
    for prefix, r in RANKS:
        if module == prefix or module.startswith(prefix + "."):
            best = r
    return best


def module_name(path) -> str:
    rel = path.relative_to(REPO).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def import_graph() -> dict[str, set[str]]:
    """module -> the project modules it imports (package-relative imports resolved)."""
    modules = {}
    for top in ("core", "kernels", "explorer"):
        for path in (REPO / top).rglob("*.py"):
            modules[module_name(path)] = path
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    parts = parts[: len(parts) - (node.level - 1)]
                    base = ".".join(parts + ([base] if base else []))
                # `from pkg import sub` imports the module pkg.sub; `from mod import name`, mod
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            for t in targets:
                while t and t not in modules:
                    t = t.rpartition(".")[0]
                if t and t != name:
                    graph[name].add(t)
    return graph


def violations(graph: dict[str, set[str]]) -> list[str]:
    """Imports that point up the ranks, and imports of the package face `core` from inside core."""
    wrong = []
    for module, imported in graph.items():
        for target in imported:
            if module == "core":  # the package face re-exports from the rooms
                continue
            if target == "core":
                if module.startswith(("core.", "kernels")):
                    wrong.append(f"{module} -> core (import from the room, not the package face)")
                continue
            if rank(target) > rank(module):
                wrong.append(f"{module} -> {target}")
    return sorted(wrong)


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in list(graph):
        if v not in index:
            visit(v)
    return found


def test_imports_run_one_way():
    wrong = violations(import_graph())
    assert not wrong, "imports against the layering:\n" + "\n".join(wrong)


def test_no_import_circle():
    assert not circles(import_graph())


def test_the_checks_catch_what_they_should():
    """Both checks fail on a graph with the faults the old flat core/ had."""
    old = {"core.checkpoints.ours": {"core.checkpoints.read"}, "core.checkpoints.read": {"core.checkpoints.nvidia_npz"},
           "core.checkpoints.nvidia_npz": {"core.checkpoints.ours"}, "core.networks.mapping": {"core.training.step"},
           "core.training.step": set(), "kernels.ops": {"core.networks.layers"}, "core.networks.layers": set(),
           "core.training.run": {"core"}}
    assert circles(old) == [["core.checkpoints.nvidia_npz", "core.checkpoints.ours", "core.checkpoints.read"]]
    assert violations(old) == ["core.networks.mapping -> core.training.step",
                               "core.training.run -> core (import from the room, not the package face)",
                               "kernels.ops -> core.networks.layers"]


def test_tests_never_touch_the_users_config_or_cache():
    """The explorer's config folder and the toolkit's cache resolve into this test session's folder."""
    from conftest import TEST_HOME
    from core.files import cache_dir
    from explorer.app import config_dir
    for folder in (config_dir(), cache_dir()):
        assert TEST_HOME in Path(folder).parents, folder
