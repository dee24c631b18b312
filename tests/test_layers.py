"""The layers, read off the source: every import (lazy ones inside functions included) points the allowed way.

contract/ (spec, store, errors) ← trials/ ← driver side (sweeper/: checks, tune_trials, driver, cli, ...);
analysis stands alone: it reads the results format and never imports torch, the training stack, the contract, trials
or sweeper (Ray and wandb only lazily, in the loaders that read a Ray experiment or a W&B project). The contract may
use analysis' results format (`analysis.schema`, `analysis.directions`) and its atomic writes (`analysis.files`),
trials only the atomic writes, nothing else of it. No two project modules import each other, however lazily, and no
package imports a package that imports it back.
"""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("contract", "sweeper", "trials", "analysis")
HEAVY = {"torch", "transformers", "trl", "lm_eval", "datasets", "ray", "wandb", "accelerate", "peft"}
LAZY_LOADERS = {"analysis.load": {"ray"}, "analysis.wandb_source": {"wandb"}}


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            parts = path.relative_to(REPO).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()
CONTRACT = {module for module in MODULES if module.split(".")[0] == "contract"}
USES_OF_ANALYSIS = {
    "contract": {"analysis.schema", "analysis.directions", "analysis.files"},
    "trials": {"analysis.files"},
}
"""What of the analysis the layers below the driver may use: the results format, and the one atomic writer."""
PACKAGE_IMPORTS = {
    "contract": {"analysis"},
    "trials": {"contract", "analysis"},
    "sweeper": {"contract", "trials", "analysis"},
}
"""Which top-level packages each may import: contract ← trials ← sweeper, and analysis imports none of them."""


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(imported module, at module level) for every import in the file, `TYPE_CHECKING` blocks left out."""
    tree = ast.parse(path.read_text())
    type_only = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for node in ast.walk(block)
    }
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in top_level) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            found += [(name if name in MODULES else node.module, id(node) in top_level) for name in names]
    return found


def _project(name: str) -> str | None:
    """The project module an import names (a package's attribute import resolves to the package), if any."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _layer(module: str) -> str:
    if module in CONTRACT:
        return "contract"
    return module.split(".")[0] if module.split(".")[0] != "sweeper" else "driver"


ALLOWED = {
    "contract": {"contract", "analysis"},
    "trials": {"contract", "trials", "analysis"},
    "analysis": {"analysis"},
    "driver": {"contract", "trials", "analysis", "driver"},
}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_import_points_the_allowed_way(module: str) -> None:
    layer = _layer(module)
    for name, at_top in _imports(MODULES[module]):
        target = _project(name)
        if target is not None:
            assert _layer(target) in ALLOWED[layer], f"{module} ({layer}) imports {target} ({_layer(target)})"
            if layer in USES_OF_ANALYSIS and _layer(target) == "analysis":
                assert target in USES_OF_ANALYSIS[layer], f"the {layer} module {module} imports {target}"
        elif layer == "analysis" and name.split(".")[0] in HEAVY:
            allowed = LAZY_LOADERS.get(module, set())
            assert name.split(".")[0] in allowed and not at_top, f"{module} imports {name}"
        elif layer == "contract":
            assert name.split(".")[0] not in HEAVY, f"the contract module {module} imports {name}"


def test_no_two_modules_import_each_other() -> None:
    edges = {
        module: {_project(name) for name, _ in _imports(path)} - {None, module} for module, path in MODULES.items()
    }
    cycles = sorted(f"{a} <-> {b}" for a, targets in edges.items() for b in targets if a < b and a in edges.get(b, ()))
    assert cycles == []


def test_the_packages_import_one_way() -> None:
    imported: dict[str, set[str]] = {package: set() for package in PACKAGES}
    for module, path in MODULES.items():
        package = module.split(".")[0]
        targets = {_project(name) for name, _ in _imports(path)} - {None}
        imported[package] |= {target.split(".")[0] for target in targets} - {package}
    allowed = {(package, target) for package, targets in PACKAGE_IMPORTS.items() for target in targets}
    assert {(package, target) for package, targets in imported.items() for target in targets} - allowed == set()
    try:
        tuple(TopologicalSorter(imported).static_order())
    except CycleError as cycle:
        pytest.fail(f"packages import each other: {' -> '.join(cycle.args[1])}")


ANALYSIS_ROOMS = {
    "results": {"results"},
    "estimates": {"results", "estimates"},
    "design": {"results", "estimates", "design"},
    "figures": {"results", "estimates", "figures"},
    "report": {"results", "estimates", "figures", "report"},
}
"""The analysis' rooms and what each may import: the results format and its sources (the modules directly in
analysis/) ← estimates/ ← design/ and figures/ ← report/. The package's front door (analysis/__init__.py) may reach
any room."""


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ANALYSIS_ROOMS else "results"


@pytest.mark.parametrize("module", sorted(name for name in MODULES if name.startswith("analysis.")))
def test_every_analysis_import_points_the_allowed_way_between_rooms(module: str) -> None:
    for name, _ in _imports(MODULES[module]):
        target = _project(name)
        if target is not None and target.startswith("analysis.") and target != module:
            room, other = _room(module), _room(target)
            assert other in ANALYSIS_ROOMS[room], f"{module} ({room}) imports {target} ({other})"
