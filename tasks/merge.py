"""Merge task: a dataset made from several sources, each extracted and prepared on its own, then merged.

Each source is its own `extract` task run (its retries and its source's concurrency limit); one
failing source fails the dataset, so a partial merge is never published. Each source's recipe
fits its rows to the dataset's schema before the merge (`prepare.merge`), whose report goes to
the run's notes and to the `merge-<id>` artifact.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.utilities.annotations import quote

from moisson.catalog.model import Catalog, SourcePart
from moisson.connectors.base import DatasetDescriptor, Extract
from moisson.core.errors import CatalogError, RejectedError
from moisson.core.notes import counted
from moisson.prepare.apply import prepare_table
from moisson.prepare.catalog_file import checked_recipe
from moisson.prepare.merge import SOURCE_ID, MergeReport, merge
from moisson.tasks.connect import build_source
from moisson.tasks.deadlines import task_timeout
from moisson.tasks.extract import Extracted, descriptor_for
from moisson.tasks.geocode import geocoded
from moisson.tasks.limits import slot
from moisson.tasks.prepare import context_of
from moisson.tasks.quality import schema_of
from moisson.tasks.retry import NETWORK_RETRIES, retry_if_retryable

#: Licence an OpenStreetMap extract carries (the source says so in its metadata).
ODBL = "odc-odbl"


@task(name="extract-part", task_run_name="extract · {dataset_id} · {name}", cache_policy=NO_CACHE,
      retry_condition_fn=retry_if_retryable, **NETWORK_RETRIES)
def extract_part(catalog: Catalog, dataset_id: str, name: str, part: SourcePart, workdir: Path) -> Extract:
    """Read one source of a multi-source dataset into `workdir/<name>/`."""
    source = build_source(catalog, part.source)
    descriptor = DatasetDescriptor(id=dataset_id, locator=part.locator)
    out = workdir / name
    out.mkdir(parents=True, exist_ok=True)
    with slot(catalog, "source", part.source):
        result = source.extract(descriptor, out)
    get_run_logger().info("%s : %d lignes de la partie %s (source %s)", dataset_id, result.rows, name, part.source)
    return result


def merge_sources(catalog: Catalog, dataset_id: str, workdir: Path) -> Extracted:
    """Extract, prepare and merge every source of the dataset; the merged rows as one extract.

    Raises:
        CatalogError: The dataset has no schema (sources are fitted to it before the merge).
        RejectedError: A source's recipe blocked, or the merge left out too many rows.
        ConnectorError: A source failed (after its retries): nothing is merged.
    """
    ds = catalog.dataset(dataset_id)
    schema = schema_of(catalog, ds.schema_)
    if schema is None or ds.sources is None or ds.merge is None:
        raise CatalogError(f"jeu de données {dataset_id} : plusieurs `sources:` sont ajustées à un même `schema:` "
                           "avant la fusion ; ajoutez le schéma", file=str(catalog.path))
    fields = [f.name for f in schema.fields]
    futures = {name: extract_part.with_options(timeout_seconds=task_timeout(catalog, "source", part.source))
               .submit(quote(catalog), dataset_id, name, part, workdir) for name, part in ds.sources.items()}
    extracts = {name: future.result() for name, future in futures.items()}
    frames, notes = {}, []
    for name, part in ds.sources.items():
        path = extracts[name].path
        if part.prepare is not None:
            recipe = checked_recipe(part.prepare, fields, catalog=catalog.path, dataset_id=dataset_id)
            if recipe.geocode is not None:
                path, geocoding = geocoded(catalog, dataset_id, recipe.geocode, path,
                                           workdir / name / "geocoded.parquet", context_of(catalog, ds))
                notes += [f"{name} : {n}" for n in geocoding]
            prepared = prepare_table(path, recipe, schema, workdir / name / "prepared.parquet",
                                     context=context_of(catalog, ds))
            if prepared.blocked:
                raise RejectedError(f"source {name}: préparation bloquée, rien n'est publié : {prepared.errors[0]}",
                                    dataset_id=dataset_id)
            notes += [f"{name} : {w}" for w in prepared.warnings]
            path = prepared.path
        frames[name] = _with_source_ids(pd.read_parquet(path, dtype_backend="pyarrow").astype("string"),
                                        extracts[name].path)
    merged, report = merge(frames, ds.merge)
    out = workdir / "merged.parquet"
    merged.to_parquet(out, index=False)
    notes += _notes(report)
    metadata = catalog.metadata_of(ds, extracts[next(iter(ds.sources))].metadata)
    if any(e.metadata.get("license") == ODBL for e in extracts.values()) and metadata.license != ODBL:
        notes.append(f"des lignes viennent d'OpenStreetMap (ODbL) mais le jeu est publié sous {metadata.license}: "
                     "la licence doit être odc-odbl, avec l'attribution d'OpenStreetMap")
    create_markdown_artifact(key=f"merge-{dataset_id}", markdown="\n".join([f"# Fusion de {dataset_id}", "",
                                                                            *[f"- {n}" for n in _notes(report)]]),
                             description=f"Fusion des sources de {dataset_id}")
    base = descriptor_for(catalog, dataset_id)
    return Extracted(dataset=replace(base, metadata=metadata),
                     extract=Extract(path=out, rows=len(merged), metadata=dict(extracts[next(iter(ds.sources))]
                                                                               .metadata), notes=notes))


def _with_source_ids(prepared: pd.DataFrame, raw: Path) -> pd.DataFrame:
    """The source's own row ids (an `id` column, as OpenStreetMap's `osm:node/123`) beside the prepared rows.

    Only when the recipe kept every row in order; otherwise the merge numbers rows by position.
    """
    if "id" not in pq.read_schema(raw).names or SOURCE_ID in prepared:
        return prepared
    ids = pq.read_table(raw, columns=["id"]).column("id")
    if len(ids) != len(prepared):
        return prepared
    return prepared.assign(**{SOURCE_ID: pd.Series(ids.to_pylist(), dtype="string").to_numpy()})


def _notes(report: MergeReport) -> list[str]:
    only = ", ".join(f"{n} de {s} seule" for s, n in report.only.items()) or "aucune"
    lines = [f"fusion : {counted(report.rows, 'ligne')}, {counted(len(report.matched), 'appariement')}, "
             f"{counted(len(report.conflicts), 'désaccord')} entre sources ; lignes connues d'une source : {only}"]
    lines += [f"laissées de côté faute de position ou de clé : {n} de {s}" for s, n in report.dropped.items() if n]
    lines += [f"désaccord sur {c['field']} (ligne {c['row']}) : "
              + ", ".join(f"{s}={v!r}" for s, v in c["values"].items()) + f" → {c['kept']!r}"
              for c in report.conflicts[:20]]
    return lines
