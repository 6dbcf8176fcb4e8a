"""The `moisson` command: check the catalog, run the flows, validate a file, list connectors.

Exit codes: 0 when every dataset ended published/unchanged (or the file is valid),
1 when any was blocked or failed (or the file is invalid), 2 for a usage or catalog error,
3 when moisson itself failed: its temporary Prefect server did not start (one line says why), or the Prefect API
could not be reached, a bug (the traceback says why).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from moisson.console import CatalogOption, JsonOption, catalog_of, err, fail, new_table, out, quiet_logs
from moisson.core.errors import CatalogError, ConnectorError, MoissonError, UnavailableError
from moisson.core.lazy import no_collection_at_exit, startup_imports
from moisson.core.notes import counted
from moisson.core.settings import one_blas_thread, process_defaults
from moisson.prepare_cli import app as prepare_app
from moisson.tasks.labels import ROLES, changes_label, status_label

if TYPE_CHECKING:
    from moisson.catalog.model import Catalog
    from moisson.connectors.base import DatasetDescriptor
    from moisson.flows.temporary_api import TemporaryApi
    from moisson.quality.messages import Lang

app = typer.Typer(help="Moissonner, contrôler et publier les données ouvertes d'une collectivité.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


@app.callback()
def _every_command() -> None:
    """What every command does first."""
    no_collection_at_exit()


@app.command()
def check(catalog: CatalogOption = None,
          sources: Annotated[bool, typer.Option("--sources", help="Se connecter aussi à chaque source.")] = False,
          ) -> None:
    """Vérifier le catalogue, ses connecteurs, les fichiers et feuilles de ses jeux, ses schémas."""
    try:
        with startup_imports():  # they import the catalog's models and connectors
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
            err.print(f"[bold red]erreur :[/] {problem}", highlight=False)
        raise typer.Exit(2)
    out.print(f"{cat.path} : {len(cat.model.sources)} sources, {len(cat.model.targets)} cibles, "
              f"{len(cat.datasets)} jeux de données — OK")


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

    _, lines = read_yaml(cat.path, what="catalogue", hint="indiquez --catalog CHEMIN ou MOISSON_CATALOG")
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
    ids: Annotated[list[str] | None, typer.Argument(help="Identifiants des jeux de données à traiter.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Traiter tous les jeux de données du catalogue.")] = False,
    due: Annotated[bool, typer.Option("--due", help="Seulement les jeux dus selon leur fréquence.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Contrôler et prévoir ; ne rien publier.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Publier même si rien n'a changé.")] = False,
    accept_shrink: Annotated[bool, typer.Option("--accept-shrink", help=(
        "Publier cette fois même une version bien plus petite que celle en ligne (ou coupée en fin)."))] = False,
    as_json: JsonOption = False,
    catalog: CatalogOption = None,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, help=(
        "Jeux de données moissonnés à la fois (les limites des sources et des cibles s'appliquent)."))] = 4,
) -> None:
    """Moissonner, contrôler et publier des jeux de données (chacun dans son exécution de flow Prefect)."""
    process_defaults()
    quiet_logs()
    from moisson.flows.temporary_api import temporary_api

    # Launched first: the server starts while this process imports what the run needs.
    with temporary_api() as api:
        _run(ids, all_=all_, due=due, dry_run=dry_run, force=force, accept_shrink=accept_shrink, as_json=as_json,
             catalog=catalog, concurrency=concurrency, api=api)


def _run(ids: list[str] | None, *, all_: bool, due: bool, dry_run: bool, force: bool, accept_shrink: bool,
         as_json: bool, catalog: Path | None, concurrency: int, api: TemporaryApi | None) -> None:
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
        err.print("dites quels jeux de données traiter : donnez leurs identifiants, ou --all, ou --due")
        raise typer.Exit(2)
    chosen = list(ids or cat.datasets)
    if due:
        chosen = due_datasets(cat, chosen, store)
    if api:
        from moisson.flows.harvest import warm_up

        try:
            api.adopt(meanwhile=warm_up)
        except UnavailableError as exc:
            err.print(f"[bold red]erreur :[/] {exc} Rien n'a été publié.", highlight=False, soft_wrap=True)
            raise typer.Exit(3) from None
    try:
        outcomes = _run_with_progress(chosen, dry_run=dry_run, force=force, catalog=str(cat.path),
                                      show=not as_json and sys.stderr.isatty(), concurrency=concurrency,
                                      accept_shrink=accept_shrink)
    except Exception:
        err.print_exception()
        err.print("moisson n'a pas pu exécuter les flows (voir ci-dessus) ; rien de plus n'a été publié.")
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
        bar = progress.add_task("moisson", total=len(ids))
        return run_datasets(ids, dry_run=dry_run, force=force, catalog=catalog, concurrency=concurrency,
                            accept_shrink=accept_shrink,
                            on_done=lambda o: progress.update(bar, advance=1, description=o.id))


def _print_outcomes(outcomes: list) -> None:
    colours = {"published": "green", "unchanged": "cyan", "planned": "cyan", "blocked": "yellow",
               "failed": "red"}
    table = new_table("moisson run", "jeu de données", "état", "lignes", "qualité", "cibles")
    for o in outcomes:
        quality = "" if o.quality is None else ("ok" if o.quality.success else counted(o.quality.errors, "erreur"))
        targets = "\n".join(f"{n} : {status_label(t.status)}{' ' + changes_label(t.changes) if t.changes else ''}"
                            f"{' ' + t.url if t.url else ''}" for n, t in o.targets.items())
        table.add_row(o.id, f"[{colours.get(o.status, 'white')}]{status_label(o.status)}[/]",
                      "" if o.rows is None else str(o.rows), quality, targets)
    out.print(table)
    for o in outcomes:
        if o.error:
            out.print(f"[bold]{o.id}[/] : {o.error}", highlight=False)
        if o.quality and o.quality.first_errors:
            for issue in o.quality.first_errors[:10]:
                out.print(f"  • {issue['message']}", highlight=False)


@app.command()
def validate(
    file: Annotated[Path, typer.Argument(help="Fichier CSV, XLSX ou ODS à vérifier.", exists=False)],
    schema: Annotated[str, typer.Option("--schema", "-s", help="Table Schema : fichier, URL ou nom@version.")],
    sheet: Annotated[str | None, typer.Option(help="Nom de la feuille d'un classeur.")] = None,
    lang: Annotated[str, typer.Option("--lang", help="Langue des messages : fr ou en.")] = "fr",
    normalise: Annotated[bool, typer.Option(
        "--normalise/--no-normalise",
        help="Réécrire les dates et nombres à la française comme la chaîne (sinon : erreurs, comme Validata).")] = True,
    as_json: JsonOption = False,
) -> None:
    """Vérifier un fichier selon un Table Schema, comme le fait le validateur national Validata.

    Le verdict est `valid`, `valid_after_normalisation` (moisson a réécrit des dates ou nombres à la française que
    Validata refuse tels quels : code de sortie 0, le fichier publié porte les valeurs corrigées) ou `invalid`
    (code de sortie 1).
    """
    one_blas_thread()  # before the gate imports numpy
    with startup_imports():
        from moisson.core.settings import cache_dir
        from moisson.files import extracted
        from moisson.quality.gate import report_frame
        from moisson.quality.messages import LANGS, say
        from moisson.quality.schema import load_schema

    if lang not in LANGS:
        err.print(f"--lang doit valoir {' ou '.join(LANGS)}, pas {lang!r}")
        raise typer.Exit(2)
    language = cast("Lang", lang)
    try:
        table_schema = load_schema(schema, schemas_dir=Path.cwd(), cache_dir=cache_dir() / "schemas")
        # The gate reads the extract chunk by chunk: memory does not grow with the file.
        with extracted(file, sheet=sheet) as read:
            report = report_frame(read.path, table_schema, first_row=read.first_row, row_gaps=read.row_gaps,
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
def discover(source: Annotated[str, typer.Argument(help="Source, telle que nommée dans `sources` du catalogue.")],
             as_json: JsonOption = False, catalog: CatalogOption = None) -> None:
    """Lister les jeux de données d'une source (tables, vues et leurs colonnes, fiches…) pour écrire les locators."""
    from moisson.catalog.model import load_catalog
    from moisson.connectors.base import RecordSource
    from moisson.tasks.connect import build_source

    try:
        cat = load_catalog(catalog)
        if source not in cat.model.sources:
            err.print(f"pas de source {source!r} dans {cat.path} ; sources : "
                      f"{', '.join(cat.model.sources) or 'aucune'}")
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
    table = new_table(f"jeux de données de la source {source}", "id", "locator", "titre", "description", fold=True)
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
    """Lister les connecteurs de source et de cible installés."""
    from moisson.connectors import registry

    listing = {role: registry.available(role) for role in ("source", "target")}
    if as_json:
        print(json.dumps({f"{role}s": [{"kind": k, "class": v} for k, v in found.items()]
                          for role, found in listing.items()}, indent=2))
        return
    table = new_table("moisson connectors", "rôle", "type", "classe")
    for role, found in listing.items():
        for kind, target in found.items():
            table.add_row(ROLES[role], kind, target)
    out.print(table)


@app.command()
def deployments(as_json: JsonOption = False, catalog: CatalogOption = None,
                runs: Annotated[int, typer.Option("--runs", help="Prochaines exécutions à montrer.")] = 3) -> None:
    """Lister les déploiements du catalogue : calendriers, prochaines exécutions, étiquettes (sans serveur)."""
    from moisson.deployments.build import specs_of

    try:
        listing = [spec.summary(runs) for spec in specs_of(catalog_of(catalog))]
    except MoissonError as exc:
        raise fail(exc) from None
    if as_json:
        print(json.dumps({"deployments": listing}, ensure_ascii=False, indent=2))
        return
    table = new_table("moisson deployments", "déploiement", "calendrier", "prochaines exécutions", "étiquettes",
                      fold=True)
    for d in listing:
        when = "\n".join(r[:16].replace("T", " ") for r in d["next_runs"]) or "à la demande"
        table.add_row(d["name"], d["schedule"], when, " ".join(d["tags"]))
    out.print(table)


PruneOption = Annotated[bool, typer.Option(
    "--prune", help="Supprimer aussi les déploiements moisson que le catalogue n'a plus.")]


@app.command()
def serve(catalog: CatalogOption = None, prune: PruneOption = False,
          limit: Annotated[int, typer.Option("--limit", min=1, help="Exécutions simultanées dans ce processus.")] = 4,
          ) -> None:
    """Exécuter chaque déploiement à son heure depuis ce processus (PREFECT_API_URL requis) ; Ctrl-C arrête."""
    process_defaults()
    quiet_logs()
    from moisson.deployments.server import serve_catalog

    try:
        serve_catalog(catalog_of(catalog), limit=limit, prune=prune)
    except MoissonError as exc:
        raise fail(exc) from None


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def server(ctx: typer.Context) -> None:
    """Démarrer le serveur Prefect (API et interface), ses transactions SQLite prenant le verrou d'écriture d'emblée.

    Les options sont celles de `prefect server start` (--host, --port…), hormis --background et --workers. Sur SQLite,
    les exécutions simultanées y attendent leur tour au lieu de recevoir des réponses 503 ; sur PostgreSQL, rien ne
    change.
    """
    if refused := sorted({a.split("=")[0] for a in ctx.args} & {"--background", "-b", "--workers"}):
        err.print(f"moisson server ne prend pas {', '.join(refused)} : ces modes démarrent le serveur de Prefect dans "
                  "un autre processus, sans le réglage de moisson ; lancez-le au premier plan (un service systemd, "
                  "par exemple) ou utilisez `prefect server start` sur PostgreSQL.")
        raise typer.Exit(2)
    process_defaults()
    from prefect.cli import app as prefect_cli

    from moisson.flows.server import immediate_sqlite_transactions

    immediate_sqlite_transactions()  # the server runs in this process (uvicorn in the foreground)
    sys.argv = ["prefect", "server", "start", *ctx.args]
    prefect_cli()


@app.command()
def deploy(pool: Annotated[str, typer.Option("--pool", help="Work pool qu'interrogent les workers.")],
           image: Annotated[str | None, typer.Option(help="Image Docker où moisson est installé.")] = None,
           catalog: CatalogOption = None, prune: PruneOption = False) -> None:
    """Enregistrer chaque déploiement dans un work pool ; relancez après une modification du catalogue."""
    process_defaults()
    from moisson.deployments.server import deploy_catalog

    try:
        names = deploy_catalog(catalog_of(catalog), pool, image=image, prune=prune)
    except MoissonError as exc:
        raise fail(exc) from None
    out.print(f"{len(names)} déploiements dans le work pool {pool} ; démarrez un worker : "
              f"prefect worker start --pool {pool}")


automations_app = typer.Typer(help="Alertes : automatisations Prefect décrites dans deployments/automations.yaml.",
                               no_args_is_help=True)
app.add_typer(automations_app, name="automations")
app.add_typer(prepare_app, name="prepare")


@automations_app.command("apply")
def automations_apply(
    file: Annotated[Path | None, typer.Option("--file", "-f", help="Fichier des alertes (défaut : celui fourni).")]
    = None,
    catalog: CatalogOption = None,
    as_json: JsonOption = False,
) -> None:
    """Installer ou mettre à jour les alertes du serveur Prefect (exécutions en échec, jeux bloqués ou en retard)."""
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
            out.print(f"{status_label(what)} : {name}", highlight=False)


if __name__ == "__main__":
    app()
