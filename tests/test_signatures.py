"""No function takes more than six positional parameters, read off the source (sweeper/cli.py's commands apart:
typer turns each of their parameters into an option). A longer list is a group the code has not named yet (a spec
section, a dataclass), and its calls cannot be read by position: the rest go after `*`, by keyword."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("contract", "sweeper", "trials", "analysis")
MOST_POSITIONAL = 6
EXEMPT = {Path("sweeper/cli.py")}


def _functions(package: str) -> Iterator[tuple[Path, ast.FunctionDef | ast.AsyncFunctionDef]]:
    for path in sorted((REPO / package).rglob("*.py")):
        if path.relative_to(REPO) not in EXEMPT:
            functions = (ast.FunctionDef, ast.AsyncFunctionDef)
            yield from ((path, node) for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, functions))


def _positional(function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    """The parameters a call may pass by position, a method's `self` or `cls` left out."""
    names = [argument.arg for argument in (*function.args.posonlyargs, *function.args.args)]
    return names[1:] if names[:1] in (["self"], ["cls"]) else names


@pytest.mark.parametrize("package", PACKAGES)
def test_no_function_takes_more_than_six_positional_parameters(package: str) -> None:
    too_long = [
        f"{path.relative_to(REPO)}:{function.lineno} {function.name}({', '.join(_positional(function))})"
        for path, function in _functions(package)
        if len(_positional(function)) > MOST_POSITIONAL
    ]
    assert too_long == []
