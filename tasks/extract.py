"""Extract task: one dataset from its source into a Parquet file of the run directory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from moisson.catalog.model import Catalog
from moisson.connectors.base import DatasetDescriptor, Extract, IncrementalSource
from moisson.tasks.connect import build_source
from moisson.tasks.limits import slot
from moisson.tasks.retry import NETWORK_RETRIES, retry_if_retryable


@dataclass(frozen=True)
class Extracted:
    """The descriptor the source was asked for and what it wrote."""

    dataset: DatasetDescriptor
    extract: Extract


def descriptor_for(catalog: Catalog, dataset_id: str) -> DatasetDescriptor:
    """The catalog's view of a dataset, before the source adds what it knows."""
    ds = catalog.dataset(dataset_id)
    return DatasetDescriptor(id=ds.id, locator=ds.locator, metadata=catalog.metadata_of(ds),
                             schema=ds.schema_)


@task(name="fingerprint", task_run_name="fingerprint · {dataset_id}", cache_policy=NO_CACHE,
      retry_condition_fn=retry_if_retryable, **NETWORK_RETRIES)
def fingerprint_dataset(catalog: Catalog, dataset_id: str) -> str | None:
    """The source's cheap change mark for a dataset (e.g. `max(updated_at)` and row count), if it has one."""
    ds = catalog.dataset(dataset_id)
    source = build_source(catalog, ds.source)
    if not isinstance(source, IncrementalSource):
        return None
    return source.fingerprint(descriptor_for(catalog, dataset_id))


@task(name="extract", task_run_name="extract · {dataset_id}", cache_policy=NO_CACHE,
      retry_condition_fn=retry_if_retryable, **NETWORK_RETRIES)
def extract_dataset(catalog: Catalog, dataset_id: str, workdir: Path) -> Extracted:
    """Read a dataset from its source into `workdir` as Parquet (all columns as text)."""
    ds = catalog.dataset(dataset_id)
    source = build_source(catalog, ds.source)
    descriptor = descriptor_for(catalog, dataset_id)
    workdir.mkdir(parents=True, exist_ok=True)
    with slot(catalog, "source", ds.source):
        result = source.extract(descriptor, workdir)
    logger = get_run_logger()
    logger.info("%s : %d lignes extraites de la source %s", dataset_id, result.rows, ds.source)
    for note in result.notes:
        logger.info("%s : %s", dataset_id, note)
    metadata = catalog.metadata_of(ds, result.metadata)
    return Extracted(dataset=DatasetDescriptor(id=ds.id, locator=ds.locator, metadata=metadata,
                                               schema=ds.schema_), extract=result)
