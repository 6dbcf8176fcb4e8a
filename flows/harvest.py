"""The harvest flows: one dataset from source to portals, and every dataset of the catalog.

`harvest_dataset` = extract → prepare (the recipe, if any) → quality → publish on each target; frames travel between
tasks as Parquet paths (task results stay in memory until the flow ends). A dataset the
quality gate blocks is never published and its run ends Failed, so Prefect automations
fire; other datasets are separate flow runs and go on.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import functools
import importlib
import os
import tempfile
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any, get_args

from prefect import Flow, flow, get_run_logger
from prefect.context import SyncClientContext
from prefect.events import emit_event
from prefect.exceptions import MissingResult
from prefect.settings import PREFECT_API_URL
from prefect.states import Completed, Failed, State
from prefect.utilities.annotations import quote

from moisson.catalog.model import Catalog, load_catalog
from moisson.catalog.resolve import due_datasets, with_stored_records
from moisson.connectors import registry
from moisson.connectors.base import IncrementalSource, PublishResult
from moisson.core.errors import MoissonError
from moisson.core.notes import counted
from moisson.core.settings import cache_dir, home
from moisson.core.state import RecordState, StateStore
from moisson.flows.artifacts import progress_artifact, publication_artifact, quality_artifacts
from moisson.flows.outcome import DatasetOutcome, DatasetStatus, QualitySummary
from moisson.tasks.blocked import mark_blocked
from moisson.tasks.deadlines import flow_timeout, task_timeout
from moisson.tasks.extract import extract_dataset, fingerprint_dataset
from moisson.tasks.labels import status_label
from moisson.tasks.limits import ensure_limits
from moisson.tasks.merge import merge_sources
from moisson.tasks.prepare import prepare_dataset
from moisson.tasks.publish import publication_for, publish_to_target, settled_unchanged
from moisson.tasks.quality import check_dataset
from moisson.tasks.roundtrip import verify_publication
from moisson.tasks.shrink import held_back

#: Datasets harvested at once by `run_datasets` (`moisson run --concurrency`); each waits mostly on the API.
CONCURRENCY = 4

#: Where a run started by `harvest_one` leaves its outcome, by dataset id, in the caller's process.
_KEPT: contextvars.ContextVar[dict[str, dict] | None] = contextvars.ContextVar("moisson_kept_outcomes", default=None)


@flow(name="harvest-dataset", flow_run_name="harvest · {dataset_id}", log_prints=True)
def harvest_dataset(dataset_id: str, dry_run: bool = False, force: bool = False,
                    catalog: str | None = None, accept_shrink: bool = False,
                    catalog_text: str | None = None) -> State:
    """Harvest one dataset: extract it, check it, publish it where the catalog says.

    Args:
        dataset_id: Id of the dataset in the catalog.
        dry_run: Check and say what each target would do, publishing nothing.
        force: Publish even if the data and metadata did not change.
        catalog: Catalog file; default `MOISSON_CATALOG` or the bundled example.
        accept_shrink: Publish even a version the shrink guard holds back (`tasks/shrink.py`).
        catalog_text: The catalog's text as the run of several datasets read it, so each uses that version.

    Returns:
        A Completed state carrying the `DatasetOutcome` as a dict, or a Failed one
        (blocked by quality, or an error) carrying it too.
    """
    store = StateStore()
    cat = with_stored_records(load_catalog(catalog) if catalog_text is None else _parsed(catalog, catalog_text), store)
    try:
        outcome = _harvest(cat, store, dataset_id, dry_run=dry_run, force=force, accept_shrink=accept_shrink)
    except MemoryError as exc:  # numpy's and Arrow's too: the machine ran short, the file may be fine
        outcome = DatasetOutcome(id=dataset_id, status="failed", error=(
            f"[{dataset_id}] mémoire insuffisante ({exc}) : rien n'a été publié, la version en ligne reste telle "
            "quelle. Libérez de la mémoire ou traitez moins de jeux à la fois (`moisson run --concurrency 1`), "
            "puis relancez."))
        get_run_logger().error("%s", outcome.error)
    if not dry_run:
        store.record_run(dataset_id, outcome.status)
    publication_artifact(outcome)
    emit_event(event=f"moisson.dataset.{outcome.status}",
               resource={"prefect.resource.id": f"moisson.dataset.{dataset_id}",
                         "prefect.resource.name": dataset_id},
               payload={"rows": outcome.rows, "error": outcome.error})
    data = outcome.model_dump(mode="json")
    if (kept := _KEPT.get()) is not None:
        kept[dataset_id] = data
    if outcome.ok:
        return Completed(message=outcome.status, data=data)
    why = outcome.error or "voir le rapport de qualité"
    return Failed(message=f"{status_label(outcome.status)} : {why}", data=data)


@functools.lru_cache(maxsize=4)
def _parsed(path: str | None, text: str) -> Catalog:
    """A catalog's text validated once per process (catalogs are immutable).

    Every run of `run_datasets` hands the same text; validating a catalog of hundreds of datasets in each of its
    runs would cost more than an unchanged run itself.
    """
    return load_catalog(path, text=text)


def _harvest(cat: Catalog, store: StateStore, dataset_id: str, *, dry_run: bool, force: bool,
             accept_shrink: bool = False) -> DatasetOutcome:
    logger = get_run_logger()
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
    reports = home() / "reports" / dataset_id / stamp
    dataset = cat.dataset(dataset_id)
    source = dataset.source
    # Prefect walks every task argument looking for futures and states: the catalog (all its datasets) and the
    # store go quoted, else each task of each run walks the whole catalog (30 ms at 200 datasets, twice a task).
    quoted, store_quoted = quote(cat), quote(store)
    with tempfile.TemporaryDirectory(prefix=f"{dataset_id}-", dir=home()) as tmp:
        try:
            # A source that can tell nothing changed (SQL `updated_at`) spares the export entirely.
            several = dataset.sources is not None
            budget = task_timeout(cat, "source", source)
            incremental = not several and issubclass(
                registry.load("source", cat.model.sources[source].connector), IncrementalSource)
            mark = fingerprint_dataset.with_options(timeout_seconds=budget)(quoted, dataset_id) if incremental else None
            known = store.records(source).get(dataset_id) if mark else None
            if mark and known and known.datestamp == mark and not (force or dry_run):
                logger.info("%s : aucune ligne n'a changé dans la source %s depuis le dernier passage ; "
                            "rien n'est exporté", dataset_id, source)
                return DatasetOutcome(id=dataset_id, status="unchanged")
            if several:
                extracted = merge_sources(cat, dataset_id, Path(tmp))
            else:
                extracted = extract_dataset.with_options(timeout_seconds=budget)(quoted, dataset_id, Path(tmp))
            if dataset.prepare is not None:
                extracted = prepare_dataset(quoted, dataset_id, extracted, Path(tmp))
            checked = check_dataset(quoted, dataset_id, extracted, reports)
        except MoissonError as exc:
            logger.error("%s : %s", dataset_id, exc)
            return DatasetOutcome(id=dataset_id, status="failed", error=str(exc))
        except TimeoutError:
            error = (f"la lecture de la source {source} a dépassé son temps ({budget:.0f} s) et a été arrêtée ; "
                     f"rien n'est publié. Si la source est seulement lente, relevez `timeout` de la source "
                     f"{source} dans le catalogue")
            logger.error("%s : %s", dataset_id, error)
            return DatasetOutcome(id=dataset_id, status="failed", error=error)
        quality_artifacts(dataset_id, checked)
        summary = QualitySummary(
            success=checked.success, errors=checked.error_count, warnings=len(checked.warnings),
            report=str(checked.report_html),
            first_errors=[issue.to_dict() for issue in checked.errors[:20]])
        if checked.blocked:
            if not dry_run:
                mark_blocked(quoted, dataset_id, f"{counted(checked.error_count, 'erreur')} de qualité")
            return DatasetOutcome(id=dataset_id, status="blocked", rows=checked.rows, quality=summary,
                                  error=f"{counted(checked.error_count, 'erreur')} de qualité ; rien n'a été publié. "
                                        f"Corrigez la source et relancez ; rapport : {checked.report_html}")
        held = None if accept_shrink else held_back(cat, store, dataset_id, checked.clean_path, extracted.extract)
        if held:
            logger.error("%s : %s", dataset_id, held)
            return DatasetOutcome(id=dataset_id, status="failed", rows=checked.rows, quality=summary, error=held)
        skipped = cat.skipped_targets(dataset)
        for name, note in skipped.items():
            logger.info("%s → %s : %s", dataset_id, name, note)
        wanted = [target for target in cat.targets_of(dataset) if target not in skipped]
        publications = {target: publication_for(cat, store, target, extracted.dataset, checked.clean_path,
                                                checked.rows, extracted.extract.geometry, checked.table_schema,
                                                force, digest=checked.digest) for target in wanted}
        targets: dict[str, PublishResult] = {}
        for target, publication in publications.items():
            if settled := settled_unchanged(cat, target, publication):
                logger.info("%s → %s : inchangé %s", dataset_id, target, settled.url or "")
                targets[target] = settled
        futures = {}
        if len(targets) < len(publications):
            try:  # a target receives only a file that reads back as what was checked
                verify_publication(quoted, dataset_id, checked)
            except MoissonError as exc:
                logger.error("%s : %s", dataset_id, exc)
                return DatasetOutcome(id=dataset_id, status="failed", rows=checked.rows, quality=summary,
                                      error=str(exc))
            for target, publication in publications.items():
                if target not in targets:
                    publish = publish_to_target.with_options(timeout_seconds=task_timeout(cat, "target", target))
                    futures[target] = publish.submit(quoted, store_quoted, target, publication, dry_run)
        targets.update({name: _target_report(name, future) for name, future in futures.items()})
        targets.update({name: PublishResult("skip" if dry_run else "skipped", note=note)
                        for name, note in skipped.items()})
    outcome = DatasetOutcome(id=dataset_id, status=_status(targets.values(), dry_run), rows=checked.rows,
                             quality=summary, targets=targets,
                             error=next((f"{n} : {t.error}" for n, t in targets.items() if t.error), None))
    if mark and outcome.status in ("published", "unchanged"):
        store.save_record(source, RecordState(dataset_id, mark, None, dt.datetime.now(dt.UTC), None))
    return outcome


def _target_report(name: str, future) -> PublishResult:
    try:
        return future.result()
    except MoissonError as exc:
        return PublishResult("failed", error=str(exc))


def _status(targets: Iterable[PublishResult], dry_run: bool) -> str:
    statuses = {t.status for t in targets}
    if "failed" in statuses:
        return "failed"
    if dry_run:
        return "planned"
    return "published" if statuses & {"created", "updated", "archived"} else "unchanged"


#: Modules a run imports on its way, each deferred for the commands that never need it (`warm_up`).
ON_THE_WAY = (
    "fastapi.encoders",  # Prefect serialises a flow's parameters with it, at the first flow run
    "frictionless",  # schemas, as Validata reads them
    "moisson.quality.personal",  # its patterns (hundreds of first names)
    "moisson.quality.expectations",
    "markdown_it",  # the local portal's pages
)


def warm_up() -> None:
    """Import now what a run imports on its way (`ON_THE_WAY`): for the time a command waits anyway."""
    for name in ON_THE_WAY:
        importlib.import_module(name)


def run_datasets(dataset_ids: Iterable[str], *, dry_run: bool = False, force: bool = False,
                 catalog: str | None = None, on_done: Callable[[DatasetOutcome], None] | None = None,
                 concurrency: int = CONCURRENCY, accept_shrink: bool = False) -> list[DatasetOutcome]:
    """Run `harvest_dataset` for each id, one flow run each, `concurrency` at a time; a failure never stops the others.

    The source and target limits (`tasks/limits.py`) still bound what the runs do at once; outcomes come back in
    the order of `dataset_ids`, `on_done` is called (in this thread) as each run ends.
    """
    cat = with_stored_records(load_catalog(catalog), StateStore())
    if not PREFECT_API_URL.value():
        from moisson.flows.server import use_temporary_server  # deferred: it imports Prefect's server

        use_temporary_server()
    ensure_limits(cat)
    ids = list(dataset_ids)

    def one(dataset_id: str) -> DatasetOutcome:
        # A run that outlives every budget of its tasks is stuck: Prefect ends it and its slots are freed.
        timed = harvest_dataset.with_options(timeout_seconds=flow_timeout(cat, dataset_id))
        return harvest_one(timed, dataset_id, dry_run=dry_run, force=force, catalog=str(cat.path),
                           accept_shrink=accept_shrink, catalog_text=cat.text)[0]

    outcomes: dict[str, DatasetOutcome] = {}
    # Each run gets its own copy of this thread's context, so inside `harvest_catalog` they stay its subflows, and
    # all share one Prefect client (alone, each run would open its own: a TLS context and a version check each).
    with SyncClientContext.get_or_create(), plain_http_clients(), without_heartbeats(), \
            ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="harvest") as pool:
        running = {pool.submit(contextvars.copy_context().run, one, i): i for i in ids}
        for done in as_completed(running):
            outcomes[running[done]] = done.result()
            if on_done:
                on_done(outcomes[running[done]])
    return [outcomes[i] for i in ids]


def without_heartbeats() -> contextlib.AbstractContextManager:
    """Flow runs begun in this context send Prefect no heartbeats, unless the user's settings ask for them.

    A dataset's run is a command's, watched in its terminal, or a subflow of `harvest_catalog`, whose own heartbeats
    tell the server the process lives. Prefect's heartbeat thread sleeps in one-second steps and the end of each
    flow run waits for it to wake: 0 to 1 s per dataset, for heartbeats no automation of moisson reads.
    """
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    return temporary_settings(set_defaults={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None})


def plain_http_clients() -> contextlib.AbstractContextManager:
    """Prefect clients made in this context load one CA certificate instead of certifi's bundle, on a plain-HTTP API.

    Prefect still makes a client per concurrency-slot release, each with a TLS context loading every CA of the
    bundle (certifi's or `SSL_CERT_FILE`'s: 40 ms of CPU, once per task holding a slot); an `http://` API (the
    temporary server, a local one) never uses them. An `https://` API keeps its verified context and CA file.
    """
    from prefect.settings import PREFECT_API_SSL_CERT_FILE, temporary_settings

    if (PREFECT_API_URL.value() or "http://").startswith("https://"):
        return contextlib.nullcontext()
    return temporary_settings(updates={PREFECT_API_SSL_CERT_FILE: str(_one_certificate())})


def _one_certificate() -> Path:
    """A CA file holding certifi's first certificate (an empty one is refused), written once in MOISSON_HOME."""
    import certifi

    path = cache_dir() / "plain-http-ca.pem"
    if not path.is_file():
        bundle = Path(certifi.where()).read_text(encoding="ascii")
        end = "-----END CERTIFICATE-----"
        part = path.with_name(f".{path.name}.{os.getpid()}")
        part.write_text(bundle[:bundle.index(end) + len(end)] + "\n", encoding="ascii")
        part.replace(path)
    return path


def harvest_one(run: Flow, dataset_id: str, **parameters: Any) -> tuple[DatasetOutcome, State]:
    """Run `harvest_dataset` (or a copy of it `with_options`) on one dataset: its outcome and the run's final state.

    The outcome is the one the run built, even when the server answers the run's last state change with its own
    copy of that state, which carries no result: a change whose answer was lost (a request timed out while the
    server's database was locked) is sent again, and the server keeps the copy it recorded the first time.
    """
    kept: dict[str, dict] = {}
    token = _KEPT.set(kept)
    try:
        state = run(dataset_id, return_state=True, **parameters)
    finally:
        _KEPT.reset(token)
    return outcome_of(dataset_id, state, kept.get(dataset_id)), state


def outcome_of(dataset_id: str, state: State, kept: dict | None = None) -> DatasetOutcome:
    """The `DatasetOutcome` a finished `harvest_dataset` run carries (or one built from its crash).

    Args:
        dataset_id: The dataset the run harvested.
        state: The run's final state.
        kept: The outcome the run left in this process (`harvest_one`), for a state that carries none.
    """
    try:
        data = state.result(raise_on_failure=False)
    except MissingResult:
        data = None
    if isinstance(data, dict):
        return DatasetOutcome.model_validate(data)
    if kept is not None:
        return DatasetOutcome.model_validate(kept)
    # Without a result, the state's message still says how the run ended (`harvest_dataset` puts the status there).
    if data is None and state.is_completed() and state.message in get_args(DatasetStatus):
        return DatasetOutcome(id=dataset_id, status=state.message)
    return DatasetOutcome(id=dataset_id, status="failed", error=str(data or "") or state.message)


@flow(name="harvest-catalog", flow_run_name="harvest catalog")
def harvest_catalog(dataset_ids: list[str] | None = None, due_only: bool = True, dry_run: bool = False,
                    force: bool = False, catalog: str | None = None, concurrency: int = CONCURRENCY) -> list[dict]:
    """Harvest the datasets of the catalog, each as its own flow run.

    Args:
        dataset_ids: Restrict to these ids; default every dataset.
        due_only: Skip datasets whose last success is more recent than their frequency asks.
        dry_run: See `harvest_dataset`.
        force: See `harvest_dataset`.
        catalog: Catalog file.
        concurrency: Datasets harvested at once.
    """
    store = StateStore()
    cat = with_stored_records(load_catalog(catalog), store)
    ids = dataset_ids or list(cat.datasets)
    if due_only:
        ids = due_datasets(cat, ids, store)
    get_run_logger().info("%d jeux de données à moissonner : %s", len(ids), ", ".join(ids) or "aucun")
    advance = progress_artifact(len(ids), f"{len(ids)} jeux de données de {cat.path.name}")
    outcomes = run_datasets(ids, dry_run=dry_run, force=force, catalog=catalog, on_done=advance,
                            concurrency=concurrency)
    return [o.model_dump(mode="json") for o in outcomes]
