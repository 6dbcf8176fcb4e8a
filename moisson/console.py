"""What every `moisson` command shares: the consoles, the common options, the one way to fail, the catalog."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from moisson.core.errors import MoissonError

if TYPE_CHECKING:
    from moisson.catalog.model import Catalog

out = Console()
err = Console(stderr=True)

CatalogOption = Annotated[Path | None, typer.Option(
    "--catalog", "-c", envvar="MOISSON_CATALOG", help="Catalog file (default: the bundled example).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")]


def fail(exc: MoissonError) -> typer.Exit:
    """Print the error for people and exit 2 (a usage or catalog error)."""
    err.print(f"[bold red]error:[/] {exc}", highlight=False)
    return typer.Exit(2)


def catalog_of(path: Path | None) -> Catalog:
    """The catalog file, its collections expanded from the state store when it has any."""
    from moisson.catalog.model import load_catalog

    cat = load_catalog(path)
    if not cat.model.collections:
        return cat
    from moisson.catalog.resolve import with_stored_records
    from moisson.core.state import StateStore

    return with_stored_records(cat, StateStore())
