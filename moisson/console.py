"""What every `moisson` command shares: the consoles, the common options, the one way to fail, the catalog, the logs."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from moisson.core.errors import MoissonError

if TYPE_CHECKING:
    from rich.table import Table

    from moisson.catalog.model import Catalog

out = Console()
err = Console(stderr=True)

CatalogOption = Annotated[Path | None, typer.Option(
    "--catalog", "-c", envvar="MOISSON_CATALOG", help="Fichier du catalogue (par défaut : l'exemple fourni).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Écrire un objet JSON au lieu des tableaux.")]


def new_table(title: str, *columns: str, fold: bool = False) -> Table:
    """A table with these column headers; `fold` wraps long cells rather than cutting them.

    rich.table is imported by the commands that print a table, not by every start of `moisson`.
    """
    from rich.table import Column, Table

    return Table(*(Column(c, overflow="fold" if fold else "ellipsis") for c in columns), title=title)


def fail(exc: MoissonError) -> typer.Exit:
    """Print the error for people and exit 2 (a usage or catalog error)."""
    err.print(f"[bold red]erreur :[/] {exc}", highlight=False)
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


#: Prefect's warning, once per task with a timeout run in a worker thread, that the timeout cannot interrupt it.
THREAD_TIMEOUT_WARNING = "Timeout of %s seconds configured for this task, but the task is running in a worker thread"


def _not_thread_timeout_warning(record: logging.LogRecord) -> bool:
    return not (isinstance(record.msg, str) and record.msg.startswith(THREAD_TIMEOUT_WARNING))


def quiet_logs() -> None:
    """Drop the log records a data officer cannot act on, once per process.

    Prefect warns, for every task with a timeout, that the timeout cannot interrupt a worker thread: moisson bounds
    every HTTP exchange itself (`core/http.py`), so that warning only hides the lines that matter. Great
    Expectations logs at INFO each temporary directory it makes for its docs site; its module sets its own logger
    to INFO when imported, so a filter (which survives that) raises it to WARNING rather than `setLevel`.
    """
    task_runs = logging.getLogger("prefect.task_runs")
    if _not_thread_timeout_warning not in task_runs.filters:
        task_runs.addFilter(_not_thread_timeout_warning)
    docs = logging.getLogger("great_expectations.data_context.types.base")
    if _warning_or_worse not in docs.filters:
        docs.addFilter(_warning_or_worse)


def _warning_or_worse(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.WARNING
