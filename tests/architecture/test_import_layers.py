"""The import graph of ``benchmark``: the layer order of ``[tool.importlinter]`` holds and no modules import in a cycle.

The layers contract is checked by import-linter (https://import-linter.readthedocs.io/en/stable/contract_types.html,
"Layers"); the module graph is grimp's (https://grimp.readthedocs.io), which counts every import statement:
lazy imports inside functions and ``TYPE_CHECKING`` imports too.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

import benchmark

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = REPO / "pyproject.toml"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    assert Path(benchmark.__file__).resolve().parent == REPO / "benchmark", (
        f"benchmark is imported from {benchmark.__file__}, not from this checkout: run with PYTHONPATH={REPO}")
    return grimp.build_graph("benchmark", cache_dir=None)


def _layers_contract() -> dict:
    from importlinter.api import read_configuration

    contracts = read_configuration(str(PYPROJECT))["contracts_options"]
    (layers,) = [c for c in contracts if c.get("type") == "layers"]
    return layers


def _layer_members(layer: str) -> list[str]:
    return [name.strip().strip("()") for name in re.split(r"[:|]", layer)]


def test_the_layers_contract_is_kept():
    """``lint-imports`` on this checkout: a broken contract fails with the offending import chains (file, line)."""
    assert LINT_IMPORTS.is_file(), f"import-linter is not installed in {sys.prefix} (pip install -e '.[test]')"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([str(LINT_IMPORTS), str(PYPROJECT), "--no-cache", "--no-logo"], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"upward imports (lint-imports exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    assert "1 kept, 0 broken" in proc.stdout


def test_every_package_of_benchmark_has_a_layer(graph):
    """A new top-level module or package must be placed in the layer order, or the contract would not see it."""
    contract = _layers_contract()
    placed = {name for layer in contract["layers"] for name in _layer_members(layer)}
    top_level = {m.split(".")[1] for m in graph.modules if m.count(".") >= 1}
    assert top_level - placed == set(), "add these to [tool.importlinter] layers in pyproject.toml"


def test_the_layers_run_from_the_entry_points_down_to_the_errors():
    """The order the README states: CLI entry points on top, errors/registry at the bottom, suite above methods."""
    order = [set(_layer_members(layer)) for layer in _layers_contract()["layers"]]

    def height(name: str) -> int:
        (i,) = [i for i, members in enumerate(order) if name in members]
        return len(order) - i

    chain = ["cli", "validation", "report", "results", "suite", "methods", "data", "errors"]
    assert [height(n) for n in chain] == sorted((height(n) for n in chain), reverse=True)
    assert len({height(n) for n in chain}) == len(chain), "each of these sits on its own layer"
    assert height("run") == height("report") and height("train") == height("results")
    assert {"errors", "registry", "atomic"} <= order[-1]


def _strongly_connected(graph: grimp.ImportGraph) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module (iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
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
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
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
                    out.append(sorted(component))
    return out


def test_no_import_cycles(graph):
    """No group of modules imports each other in a circle (each edge listed with its line numbers)."""
    lines = []
    for component in _strongly_connected(graph):
        lines.append(f"cycle of {len(component)} modules:")
        for importer in component:
            for imported in sorted(graph.find_modules_directly_imported_by(importer) & set(component)):
                where = sorted({d["line_number"] for d in graph.get_import_details(importer=importer, imported=imported)})
                lines.append(f"  {importer} -> {imported} (line {', '.join(map(str, where))})")
    assert not lines, "\n".join(lines)


def test_the_cycle_finder_finds_a_cycle():
    """The check above can fail: a three-module circle plus a tail is found as one component of three."""
    g = grimp.ImportGraph()
    for importer, imported in [("p.a", "p.b"), ("p.b", "p.c"), ("p.c", "p.a"), ("p.c", "p.d")]:
        g.add_import(importer=importer, imported=imported)
    assert _strongly_connected(g) == [["p.a", "p.b", "p.c"]]
