"""The `moisson` command: check the catalog, run the flows, validate a file, list connectors.

Exit codes: 0 when every dataset ended published/unchanged (or the file is valid),
1 when any was blocked or failed (or the file is invalid), 2 for a usage or catalog error,
3 when moisson itself failed (the Prefect API could not be reached, a bug): the traceback says why.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer
from rich.table import Table

from moisson.console import CatalogOption, JsonOption, catalog_of, err, fail, out
from moisson.core.errors import CatalogError, ConnectorError, MoissonError
from moisson.core.settings import process_defaults
from moisson.prepare_cli import app as prepare_app

if TYPE_CHECKING:
    from moisson.catalog.model import Catalog
    from moisson.connectors.base import DatasetDescriptor
    from moisson.quality.messages import Lang

app = typer.Typer(help="Harvest, check and publish the open data of a local government.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)



@app.command()
def check(catalog: CatalogOption = None,
          sources: Annotated[bool, typer.Option("--sources", help="Also connect to every source.")] = False,
          ) -> None:
    """Validate the catalog, its connectors' configs, its datasets' files and sheets, and its schemas."""
    try:
        cat = catalog_of(catalog)
        problems = _dataset_problems(cat)
        if sources and not problems:
            from moisson.tasks.connect import build_source

            for name in cat.model.sources:
                build_source(cat, name).check()
    except MoissonError as exc:
        raise fail(exc) from None
    if problems:
        for problem in problems:
            err.print(f"[bold red]error:[/] {problem}", highlight=False)
        raise typer.Exit(2)
    out.print(f"{cat.path}: {len(cat.model.sources)} sources, {len(cat.model.targets)} targets, "
              f"{len(cat.datasets)} datasets — OK")


def _dataset_problems(cat: Catalog) -> list[CatalogError]:
    """Every dataset and collection whose schema does not resolve or whose file or sheet is missing.

    Schemas load as `tasks.quality.schema_of` does, without importing the tasks (and Prefect);
    files and sheets are checked by the sources that can do it offline (`ChecksDatasets`).
    """
    from moisson.catalog.load import dotted, line_of, read_yaml
    from moisson.connectors import registry
    from moisson.connectors.base import ChecksDatasets, DatasetDescriptor
    from moisson.core.settings import cache_dir
    from moisson.quality.schema import load_schema
    from moisson.tasks.connect import build_source

    _, lines = read_yaml(cat.path, what="catalog", hint="give --catalog PATH")
    problems: list[CatalogError] = []

    def problem(exc: MoissonError, key: tuple[str | int, ...]) -> None:
        message = exc.message if isinstance(exc, ConnectorError) else str(exc)
        problems.append(CatalogError(message, file=str(cat.path), line=line_of(lines, key), path=dotted(key)))

    entries = [(("datasets", i), ds) for i, ds in enumerate(cat.model.datasets)]
    entries += [(("collections", i), coll) for i, coll in enumerate(cat.model.collections)]
    for where, entry in entries:
        if entry.schema_ is not None:
            try:
                load_schema(entry.schema_, schemas_dir=cat.base_dir, cache_dir=cache_dir() / "schemas")
            except MoissonError as exc:
                problem(exc, (*where, "schema"))
    built: dict[str, Any] = {}
    for where, ds in entries[:len(cat.model.datasets)]:
        if not issubclass(registry.load("source", cat.model.sources[ds.source].connector), ChecksDatasets):
            continue
        try:
            source = built.get(ds.source) or built.setdefault(ds.source, build_source(cat, ds.source))
            source.check_dataset(DatasetDescriptor(id=ds.id, locator=ds.locator))
        except MoissonError as exc:
            problem(exc, (*where, "locator"))
    return problems


@app.command()
def run(
    ids: Annotated[list[str] | None, typer.Argument(help="Dataset ids to run.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Run every dataset of the catalog.")] = False,
    due: Annotated[bool, typer.Option("--due", help="Only datasets due by their frequency.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check and plan; publish nothing.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Publish even when nothing changed.")] = False,
    accept_shrink: Annotated[bool, typer.Option("--accept-shrink", help=(
        "Publish this once even a version much smaller than the published one (or with a cut last row)."))] = False,
    as_json: JsonOption = False,
    catalog: CatalogOption = None,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, help=(
        "Datasets harvested at once (the sources' and targets' own limits still hold)."))] = 4,
) -> None:
    """Harvest, check and publish datasets (each one a Prefect flow run)."""
    process_defaults()
    from moisson.catalog.model import load_catalog
    from moisson.catalog.resolve import due_datasets, with_stored_records
    from moisson.core.state import StateStore

    try:
        store = StateStore()
        cat = with_stored_records(load_catalog(catalog), store)
        for i in ids or []:
            cat.dataset(i)
    except MoissonError as exc:
        raise fail(exc) from None
    if not ids and not all_ and not due:
        err.print("say which datasets to run: give their ids, or --all, or --due")
        raise typer.Exit(2)
    chosen = list(ids or cat.datasets)
    if due:
        chosen = due_datasets(cat, chosen, store)
    try:
        outcomes = _run_with_progress(chosen, dry_run=dry_run, force=force, catalog=str(cat.path),
                                      show=not as_json and sys.stderr.isatty(), concurrency=concurrency,
                                      accept_shrink=accept_shrink)
    except Exception:
        err.print_exception()
        err.print("moisson could not run the flows (see above); nothing more was published.")
        raise typer.Exit(3) from None
    if as_json:
        print(json.dumps({"datasets": [o.model_dump(mode="json") for o in outcomes]}, ensure_ascii=False,
                         indent=2))
    else:
        _print_outcomes(outcomes)
    raise typer.Exit(0 if all(o.ok for o in outcomes) else 1)


def _run_with_progress(ids: list[str], *, dry_run: bool, force: bool, catalog: str, show: bool,
                       concurrency: int, accept_shrink: bool = False) -> list:
    from rich.progress import Progress

    from moisson.flows.harvest import run_datasets

    with Progress(console=err, disable=not show, transient=True) as progress:
        bar = progress.add_task("harvesting", total=len(ids))
        return run_datasets(ids, dry_run=dry_run, force=force, catalog=catalog, concurrency=concurrency,
                            accept_shrink=accept_shrink,
                            on_done=lambda o: progress.update(bar, advance=1, description=o.id))


def _print_outcomes(outcomes: list) -> None:
    colours = {"published": "green", "unchanged": "cyan", "planned": "cyan", "blocked": "yellow",
               "failed": "red"}
    table = Table(title="moisson run")
    for column in ("dataset", "status", "rows", "quality", "targets"):
        table.add_column(column)
    for o in outcomes:
        quality = "" if o.quality is None else ("ok" if o.quality.success else f"{o.quality.errors} errors")
        targets = "\n".join(f"{n}: {t.status}{' ' + ', '.join(t.changes) if t.changes else ''}"
                            f"{' ' + t.url if t.url else ''}" for n, t in o.targets.items())
        table.add_row(o.id, f"[{colours.get(o.status, 'white')}]{o.status}[/]",
                      "" if o.rows is None else str(o.rows), quality, targets)
    out.print(table)
    for o in outcomes:
        if o.error:
            out.print(f"[bold]{o.id}[/]: {o.error}", highlight=False)
        if o.quality and o.quality.first_errors:
            for issue in o.quality.first_errors[:10]:
                out.print(f"  • {issue['message']}", highlight=False)


@app.command()
def validate(
    file: Annotated[Path, typer.Argument(help="CSV, XLSX or ODS file to check.", exists=False)],
    schema: Annotated[str, typer.Option("--schema", "-s", help="Table Schema: file, URL or name@version.")],
    sheet: Annotated[str | None, typer.Option(help="Sheet name of a workbook.")] = None,
    lang: Annotated[str, typer.Option("--lang", help="Language of the messages: fr or en.")] = "fr",
    normalise: Annotated[bool, typer.Option(
        "--normalise/--no-normalise",
        help="Rewrite French dates and numbers as the pipeline does (off: they are errors, as in Validata).")] = True,
    as_json: JsonOption = False,
) -> None:
    """Check one file against a Table Schema, as the national validator Validata does.

    The verdict is `valid`, `valid_after_normalisation` (moisson rewrote French dates or numbers that Validata
    refuses as found: exit code 0, the published file carries the fixed values) or `invalid` (exit code 1).
    """
    from moisson.core.settings import cache_dir
    from moisson.files import read_file
    from moisson.quality.gate import report_frame
    from moisson.quality.messages import LANGS, say
    from moisson.quality.schema import load_schema

    if lang not in LANGS:
        err.print(f"--lang must be one of {', '.join(LANGS)}, not {lang!r}")
        raise typer.Exit(2)
    language = cast("Lang", lang)
    try:
        table_schema = load_schema(schema, schemas_dir=Path.cwd(), cache_dir=cache_dir() / "schemas")
        read = read_file(file, sheet=sheet)
        report = report_frame(read.frame, table_schema, first_row=read.first_row, row_gaps=read.row_gaps,
                              lang=language, normalise=normalise, findings=read.findings)
    except MoissonError as exc:
        raise fail(exc) from None
    if as_json:
        result = {"verdict": report.verdict, "rows": report.rows, "error_count": report.error_count,
                  "errors": [i.to_dict() for i in report.errors],
                  "warnings": [i.to_dict() for i in report.warnings],
                  "normalised": [n.to_dict() for n in report.normalised]}
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        key, style = {"valid": ("report.verdict-valid", "green"),
                      "valid_after_normalisation": ("report.verdict-normalised", "yellow"),
                      "invalid": ("report.verdict-errors", "red")}[report.verdict]
        count = report.normalised_cells if report.verdict == "valid_after_normalisation" else report.error_count
        # One line per finding, whatever the terminal width: people grep this output.
        out.print(say(key, language, file=file, rows=report.rows, count=count), style=style, highlight=False,
                  markup=False, soft_wrap=True)
        for issue in report.errors[:200]:
            out.print(f"  [{issue.type}] {issue.message}", highlight=False, markup=False, soft_wrap=True)
        for line in [n.note(language) for n in report.normalised] + [w.message for w in report.warnings]:
            out.print(f"  ! {line}", highlight=False, markup=False, soft_wrap=True)
    raise typer.Exit(1 if report.verdict == "invalid" else 0)


@app.command()
def discover(source: Annotated[str, typer.Argument(help="Source id, as in the catalog's `sources`.")],
             as_json: JsonOption = False, catalog: CatalogOption = None) -> None:
    """List the datasets a source offers (tables and views with their columns, records…) to write locators."""
    from moisson.catalog.model import load_catalog
    from moisson.connectors.base import RecordSource
    from moisson.tasks.connect import build_source

    try:
        cat = load_catalog(catalog)
        if source not in cat.model.sources:
            err.print(f"no source {source!r} in {cat.path}; sources: {', '.join(cat.model.sources) or 'none'}")
            raise typer.Exit(2)
        offered = build_source(cat, source)
        # A source that lists records (CSW) says how many matched and which were skipped; others list what they hold.
        harvest = offered.harvest({}, full=True) if isinstance(offered, RecordSource) else None
        descriptors = ([offered.descriptor(r, record) for r, record in harvest.records.items()] if harvest
                       else offered.discover())
        found = [_discovered(d) for d in descriptors]
    except MoissonError as exc:
        raise fail(exc) from None
    if as_json:
        print(json.dumps({"source": source, "matched": harvest.matched if harvest else len(found),
                          "collected": harvest.collected if harvest else len(found), "datasets": found,
                          "errors": [{"record": s.record, "reason": s.reason} for s in harvest.skipped]
                          if harvest else []}, ensure_ascii=False, indent=2, default=str))
        return
    table = Table(title=f"datasets of source {source}")
    for column in ("id", "locator", "title", "description"):
        table.add_column(column, overflow="fold")
    for d in found:
        meta = d["metadata"]
        table.add_row(d["id"], json.dumps(d["locator"], ensure_ascii=False), meta.get("title", ""),
                      meta.get("description", ""))
    out.print(table)


def _discovered(d: DatasetDescriptor) -> dict[str, Any]:
    """One dataset of `moisson discover`: its locator, metadata, and the fields a data officer scans first."""
    meta = d.metadata.model_dump(mode="json", exclude_defaults=True)
    links = meta.get("extras", {}).get("csw", {}).get("resources", [])
    return {"id": d.id, "locator": dict(d.locator), "metadata": meta, "source_record_id": d.locator.get("record"),
            **{k: meta.get(k) for k in ("title", "description", "keywords", "license", "frequency", "temporal",
                                        "modified", "contact")},
            "spatial": {"bbox": (meta.get("spatial") or {}).get("bbox")},
            "resources": [{k: r.get(k) for k in ("url", "protocol", "kind")} for r in links]}


@app.command()
def connectors(as_json: JsonOption = False) -> None:
    """List the installed source and target connectors."""
    from moisson.connectors import registry

    listing = {role: registry.available(role) for role in ("source", "target")}
    if as_json:
        print(json.dumps({f"{role}s": [{"kind": k, "class": v} for k, v in found.items()]
                          for role, found in listing.items()}, indent=2))
        return
    table = Table(title="moisson connectors")
    for column in ("role", "kind", "class"):
        table.add_column(column)
    for role, found in listing.items():
        for kind, target in found.items():
            table.add_row(role, kind, target)
    out.print(table)


@app.command()
def deployments(as_json: JsonOption = False, catalog: CatalogOption = None,
                runs: Annotated[int, typer.Option("--runs", help="Next run times to show.")] = 3) -> None:
    """List the deployments the catalog generates: schedules, next runs, tags (no server needed)."""
    from moisson.deployments.build import specs_of

    try:
        listing = [spec.summary(runs) for spec in specs_of(catalog_of(catalog))]
    except MoissonError as exc:
        raise fail(exc) from None
    if as_json:
        print(json.dumps({"deployments": listing}, ensure_ascii=False, indent=2))
        return
    table = Table(title="moisson deployments")
    for column in ("deployment", "schedule", "next runs", "tags"):
        table.add_column(column, overflow="fold")
    for d in listing:
        when = "\n".join(r[:16].replace("T", " ") for r in d["next_runs"]) or "on demand"
        table.add_row(d["name"], d["schedule"], when, " ".join(d["tags"]))
    out.print(table)


PruneOption = Annotated[bool, typer.Option(
    "--prune", help="Also delete the moisson deployments the catalog no longer has.")]


@app.command()
def serve(catalog: CatalogOption = None, prune: PruneOption = False,
          limit: Annotated[int, typer.Option("--limit", min=1, help="Flow runs at once in this process.")] = 4,
          ) -> None:
    """Run every deployment on its schedule from this process (needs PREFECT_API_URL); Ctrl-C stops."""
    process_defaults()
    from moisson.deployments.server import serve_catalog

    try:
        serve_catalog(catalog_of(catalog), limit=limit, prune=prune)
    except MoissonError as exc:
        raise fail(exc) from None


@app.command()
def deploy(pool: Annotated[str, typer.Option("--pool", help="Work pool the workers poll.")],
           image: Annotated[str | None, typer.Option(help="Docker image with moisson installed.")] = None,
           catalog: CatalogOption = None, prune: PruneOption = False) -> None:
    """Register every deployment in a work pool; rerun after a catalog change to update them."""
    process_defaults()
    from moisson.deployments.server import deploy_catalog

    try:
        names = deploy_catalog(catalog_of(catalog), pool, image=image, prune=prune)
    except MoissonError as exc:
        raise fail(exc) from None
    out.print(f"{len(names)} deployments in work pool {pool}; start a worker: prefect worker start --pool {pool}")


automations_app = typer.Typer(help="Alerts: Prefect automations from deployments/automations.yaml.",
                               no_args_is_help=True)
app.add_typer(automations_app, name="automations")
app.add_typer(prepare_app, name="prepare")


@automations_app.command("apply")
def automations_apply(
    file: Annotated[Path | None, typer.Option("--file", "-f", help="Automations file (default: the bundled one).")]
    = None,
    catalog: CatalogOption = None,
    as_json: JsonOption = False,
) -> None:
    """Install or update the alerts on the Prefect server (failed runs, blocked and overdue datasets)."""
    process_defaults()
    from moisson.catalog.model import load_catalog
    from moisson.deployments.automations import apply_automations, load_automations

    try:
        done = apply_automations(load_automations(file), load_catalog(catalog))
    except MoissonError as exc:
        raise fail(exc) from None
    if as_json:
        print(json.dumps(done, ensure_ascii=False, indent=2))
        return
    for what, names in done.items():
        for name in names:
            out.print(f"{what}: {name}", highlight=False)


if __name__ == "__main__":
    app()
