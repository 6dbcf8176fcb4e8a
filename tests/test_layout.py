"""The top-level packages are ours, not PyPI distributions of the same names."""

from __future__ import annotations

from pathlib import Path

import connectors.base
import deployments.catalog
import flows
import tasks

REPO = Path(__file__).resolve().parents[1]


def test_packages_come_from_this_repository():
    for module in (connectors.base, deployments.catalog, flows, tasks):
        assert Path(module.__file__).resolve().is_relative_to(REPO), module.__file__


def test_connectors_never_import_prefect():
    offenders = [p for p in (REPO / "connectors").rglob("*.py")
                 if "import prefect" in p.read_text() or "from prefect" in p.read_text()]
    offenders += [p for p in (REPO / "quality").rglob("*.py")
                  if "import prefect" in p.read_text() or "from prefect" in p.read_text()]
    assert offenders == []
