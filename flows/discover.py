"""The discovery flow: what a catalog source offers now, compared with the last run.

For a source that lists records (`RecordSource`, e.g. CSW) it runs the incremental harvest, stores the record
states, archives on the targets the catalog datasets whose record has been missing past
the grace period (never when the listing was incomplete or too much vanished at once),
harvests the datasets of the source's catalog collections whose record is new or changed,
and writes the `discovery-<source>` artifact: new, changed, missing and skipped records
with the reason. For other sources it lists the datasets `discover()` yields.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel, Field

from moisson.catalog.model import Catalog, load_catalog
from moisson.catalog.resolve import with_stored_records
from moisson.connectors.base import DatasetDescriptor, RecordSource
from moisson.connectors.records import Harvest
from moisson.core.errors import MoissonError
from moisson.core.ids import slugify
from moisson.core.state import StateStore
from moisson.flows.harvest import run_datasets
from moisson.tasks.archive import archive_on_target
from moisson.tasks.connect import build_source
from moisson.tasks.labels import status_label
from moisson.tasks.retry import NETWORK_RETRIES, retry_if_retryable


class DiscoveryReport(BaseModel):
    """What a discovery run found, as the artifact shows it and the flow returns it."""

    source: str
    mode: str = "listing"
    matched: int | None = None
    collected: int = 0
    complete: bool = True
    new: list[str] = Field(default_factory=list)
    changed: list[str] = Field(default_factory=list)
    unchanged: int = 0
    missing: list[str] = Field(default_factory=list)
    archived: list[str] = Field(default_factory=list)
    held: str | None = None
    harvested: dict[str, str] = Field(default_factory=dict)
    skipped: list[dict[str, str]] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    requests: dict[str, int] = Field(default_factory=dict)


@task(name="list-source", task_run_name="list · {source_id}", cache_policy=NO_CACHE,
      retry_condition_fn=retry_if_retryable, **NETWORK_RETRIES)
def list_records(catalog: Catalog, store: StateStore, source_id: str, full: bool | None) -> Harvest:
    """Harvest the listing of a record source against the stored record states, and store the new states."""
    source = build_source(catalog, source_id)
    result = source.harvest(store.records(source_id), full=full)
    store.save_records(source_id, result.changes.states)
    changes = result.changes
    # Records read this run but not offered as datasets (services): collections leave them out from now on.
    read = set(changes.new) | set(changes.changed) | set(changes.unchanged)
    store.save_record_skips(source_id, {s.record: s.reason for s in result.skipped
                                        if s.record in read and s.record not in result.records},
                            result.records)
    return result


def archive_missing(catalog: Catalog, store: StateStore, source_id: str, record_ids: list[str], *,
                    dry_run: bool) -> list[str]:
    """Archive on their targets the catalog datasets whose record is gone; returns the archived dataset ids."""
    logger = get_run_logger()
    done = []
    # Looked up by record, not in `catalog.datasets`: a collection no longer lists a record that is gone.
    for ds in (ds for record_id in record_ids for ds in catalog.datasets_of_record(source_id, record_id)):
        for target in catalog.targets_of(ds):
            previous = store.remote(ds.id, target)
            if previous is None or previous.remote_id is None:
                continue
            if dry_run:
                logger.info("%s : serait archivé sur %s (fiche %s disparue)", ds.id, target, ds.locator["record"])
                continue
            descriptor = DatasetDescriptor(id=ds.id, locator=ds.locator, metadata=catalog.metadata_of(ds))
            try:
                archive_on_target(catalog, target, descriptor, previous)
            except MoissonError as exc:  # one target failing must not stop the others
                logger.error("%s : l'archivage sur %s a échoué : %s", ds.id, target, exc)
                continue
            done.append(f"{ds.id}@{target}")
    return done


def harvest_collections(catalog: str | None, store: StateStore, source_id: str, result: Harvest) -> dict[str, str]:
    """Harvest the collection datasets of a source whose record is new or changed, or that never succeeded.

    Each is its own `harvest-dataset` flow run (`run_datasets`). Datasets that never ended published
    or unchanged are retried, so a crashed or dry run leaves nothing behind. Returns dataset id → status.
    """
    cat = with_stored_records(load_catalog(catalog), store)  # the record states just saved make the datasets
    fresh = (set(result.changes.new) | set(result.changes.changed) | set(result.changes.reappeared)) & set(
        result.records)
    explicit = {ds.id for ds in cat.model.datasets}
    ids = [ds.id for ds in cat.datasets.values()
           if ds.source == source_id and ds.id not in explicit
           and (ds.locator["record"] in fresh or store.last_success(ds.id) is None)]
    get_run_logger().info("%s : %d jeux de données de collection à moissonner", source_id, len(ids))
    return {o.id: o.status for o in run_datasets(ids, catalog=catalog)}


@flow(name="discover-source", flow_run_name="discover · {source_id}", log_prints=True)
def discover_source(source_id: str, catalog: str | None = None, full: bool | None = None,
                    dry_run: bool = False) -> dict[str, Any]:
    """List a source, update its record states, archive what has been gone long enough, report.

    Args:
        source_id: Id of the source in the catalog.
        catalog: Catalog file; default `MOISSON_CATALOG` or the bundled example.
        full: Force (True) or forbid (False) a full pass of a CSW source; default per `full_every_days`.
        dry_run: Say what would be archived; archive and harvest nothing.

    Returns:
        The `DiscoveryReport` as a dict.
    """
    store = StateStore()
    cat = with_stored_records(load_catalog(catalog), store)
    ref = cat.model.sources.get(source_id)
    if ref is None:
        raise MoissonError(f"pas de source {source_id!r} dans {cat.path} ; sources : {', '.join(cat.model.sources)}")
    source = build_source(cat, source_id)
    if isinstance(source, RecordSource):
        result = list_records(cat, store, source_id, full)
        changes = result.changes
        report = DiscoveryReport(
            source=source_id, mode=result.mode, matched=result.matched, collected=result.collected,
            complete=result.complete, new=changes.new, changed=changes.changed, unchanged=len(changes.unchanged),
            missing=changes.missing, held=changes.held, notes=result.notes, requests=dict(result.requests),
            skipped=[{"record": s.record, "reason": s.reason} for s in result.skipped])
        if changes.archive:
            report.archived = archive_missing(cat, store, source_id, changes.archive, dry_run=dry_run)
        if not dry_run and any(c.source == source_id for c in cat.model.collections):
            report.harvested = harvest_collections(catalog, store, source_id, result)
    else:
        found = [d.id for d in source.discover()]
        known = {d.id for d in cat.datasets.values() if d.source == source_id}
        report = DiscoveryReport(source=source_id, matched=len(found), collected=len(found),
                                 new=[i for i in found if i not in known], unchanged=len(set(found) & known),
                                 missing=sorted(known - set(found)))
    discovery_artifacts(report)
    return report.model_dump(mode="json")


def discovery_artifacts(report: DiscoveryReport) -> None:
    """Markdown summary and a table of every new, changed, missing and skipped record."""
    key = f"discovery-{slugify(report.source)}"
    lines = [f"# Découverte de {report.source} ({report.mode})", "",
             f"- trouvées dans le catalogue : {report.matched if report.matched is not None else 'inconnu'}",
             f"- collectées : {report.collected}{'' if report.complete else ' — **passage incomplet**'}",
             f"- nouvelles : {len(report.new)} · modifiées : {len(report.changed)} · inchangées : {report.unchanged}"
             f" · absentes : {len(report.missing)} · archivées : {len(report.archived)} · ignorées : "
             f"{len(report.skipped)}"]
    if report.harvested:
        statuses = Counter(report.harvested.values())
        lines.append("- jeux de données de collection moissonnés : " + ", ".join(
            f"{n} {status_label(s)}" for s, n in statuses.items()))
    if report.held:
        lines += ["", f"**Suppressions retenues :** {report.held}"]
    lines += [f"- {note}" for note in report.notes]
    create_markdown_artifact(key=key, markdown="\n".join(lines), description=f"Découverte de {report.source}")
    rows = ([{"fiche": r, "état": "nouvelle", "raison": ""} for r in report.new]
            + [{"fiche": r, "état": "modifiée", "raison": ""} for r in report.changed]
            + [{"fiche": r, "état": "absente", "raison": report.held or ""} for r in report.missing]
            + [{"fiche": s["record"], "état": "ignorée", "raison": s["reason"]} for s in report.skipped])
    if rows:
        create_table_artifact(key=f"{key}-records", table=rows[:1000],
                              description=f"Fiches de {report.source} à examiner")
