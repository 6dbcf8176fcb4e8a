"""The layers of moisson, read from the imports of every module, and the one import name its wheel installs."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

from tests.data import REPO

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
PACKAGE_DIRS: dict[str, str] = PYPROJECT["tool"]["setuptools"]["package-dir"]

#: Lowest floor first; a module may import its own floor and those below, never above.
LAYERS: list[tuple[str, ...]] = [
    ("moisson.core", "moisson.schemas"),
    ("moisson.connectors", "moisson.quality"),
    ("moisson.prepare",),
    ("moisson.catalog",),
    ("moisson.tasks",),
    ("moisson.flows",),
    ("moisson.deployments",),
    ("moisson",),
]
#: These share a floor but never import each other.
INDEPENDENT = {"moisson.connectors", "moisson.quality"}


def floor_of(module: str) -> tuple[int, str]:
    """The floor of `module` and the package that puts it there."""
    for level in range(len(LAYERS) - 1, -1, -1):
        for package in LAYERS[level]:
            if package != "moisson" and (module == package or module.startswith(package + ".")):
                return level, package
    return len(LAYERS) - 1, "moisson"


def modules() -> dict[str, Path]:
    """Every module of the distribution, by its dotted name."""
    found = {}
    for package, folder in PACKAGE_DIRS.items():
        for path in (REPO / folder).rglob("*.py"):
            relative = path.relative_to(REPO / folder).with_suffix("")
            parts = [p for p in relative.parts if p != "__init__"]
            name = ".".join([package, *parts])
            if package == "moisson" or name.startswith(package):
                found.setdefault(name, path)
    return {name: path for name, path in found.items() if "demo" not in name.split(".")}


def imports_of(path: Path, known: set[str]) -> set[str]:
    """Modules of moisson that `path` imports, at any depth of its code (deferred imports count)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            submodules = {f"{node.module}.{alias.name}" for alias in node.names} & known
            names.update(submodules or {node.module})
    return names & known


def test_every_folder_with_modules_is_a_listed_package():
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    on_disk = {name for name, path in modules().items() if path.name == "__init__.py"}
    assert on_disk == listed


def test_layers_only_import_downwards():
    known = modules()
    upward = []
    for name, path in sorted(known.items()):
        level, package = floor_of(name)
        for imported in imports_of(path, set(known)):
            their_level, their_package = floor_of(imported)
            sideways = {package, their_package} == INDEPENDENT
            if their_level > level or sideways:
                upward.append(f"{name} → {imported}")
    assert upward == []


@pytest.mark.parametrize("floor", ["moisson.connectors", "moisson.quality", "moisson.prepare", "moisson.core",
                                   "moisson.catalog"])
def test_lower_floors_never_import_prefect(floor):
    offenders = []
    for name, path in modules().items():
        if name.startswith(floor):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                mods = ([a.name for a in node.names] if isinstance(node, ast.Import)
                        else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
                offenders += [f"{name} → {m}" for m in mods if m.split(".")[0] == "prefect"]
    assert offenders == []


def test_no_module_imports_the_old_top_level_names():
    old = {"connectors", "quality", "tasks", "flows", "deployments", "schemas", "core", "catalog"}
    offenders = []
    for path in [*REPO.glob("*/**/*.py")]:
        if any(part.startswith(".") for part in path.relative_to(REPO).parts):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            mods = ([a.name for a in node.names] if isinstance(node, ast.Import)
                    else [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            offenders += [f"{path.relative_to(REPO)}: {m}" for m in mods if m.split(".")[0] in old]
    assert offenders == []


def test_no_comment_points_outside_the_repository():
    outside = re.compile("shared/" + "docs|shared " + "docs|[a-z-]+[.]md §|peers-[a-z]+[.]md")
    offenders = [f"{p.relative_to(REPO)}:{n}" for p in REPO.glob("*/**/*.py")
                 if not any(part.startswith(".") or part == "build" for part in p.relative_to(REPO).parts)
                 for n, line in enumerate(p.read_text().splitlines(), start=1) if outside.search(line)]
    assert offenders == []
