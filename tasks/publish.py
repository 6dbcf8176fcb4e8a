"""Publish task: one dataset to one target, or the plan of it under `--dry-run`.

A publication the local portal already holds is settled in the flow (`settled_unchanged`), with no task and
no slot: its plan reads only the portal's files. A remote portal's plan asks its API, which only the task,
holding a slot of the portal's limit, may do.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from moisson.catalog.model import Catalog
from moisson.connectors.base import DatasetDescriptor, PlansOffline, Publication, PublishResult
from moisson.core.errors import MoissonError
from moisson.core.records import RemoteState
from moisson.core.state import StateStore
from moisson.tasks.connect import build_target
from moisson.tasks.labels import changes_label, status_label
from moisson.tasks.limits import slot
from moisson.tasks.retry import NETWORK_RETRIES, retry_if_retryable
from moisson.tasks.shrink import shape_of


def metadata_hash(dataset: DatasetDescriptor, table_schema: Mapping[str, Any] | None,
                  options: Mapping[str, Any]) -> str:
    """sha256 of everything published besides the rows: metadata, schema, target options."""
    payload = {"metadata": dataset.metadata.model_dump(mode="json"), "schema": table_schema,
               "options": options}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def publication_for(catalog: Catalog, store: StateStore, target: str, dataset: DatasetDescriptor,
                    data: Path, rows: int, geometry: str | None,
                    table_schema: Mapping[str, Any] | None, force: bool, digest: str) -> Publication:
    """Assemble what a target needs, with the state of the previous publication.

    `digest` is the digest of `data`'s rows (`QualityResult.digest`), compared with the last publication's.
    """
    options = catalog.targets_of(catalog.dataset(dataset.id))[target]
    previous = store.remote(dataset.id, target)
    if force and previous is not None:
        # --force keeps the remote id (no duplicate) but forgets the hashes, so everything is resent.
        previous = replace(previous, content_hash=None, metadata_hash=None)
    return Publication(dataset=dataset, data=data, rows=rows, content_hash=digest,
                       metadata_hash=metadata_hash(dataset, table_schema, options),
                       table_schema=table_schema, geometry=geometry, previous=previous, options=options)


def settled_unchanged(catalog: Catalog, target: str, publication: Publication) -> PublishResult | None:
    """`unchanged` when the state store and the target's offline plan both say the target holds this publication.

    None when the publish task must decide: something changed, `--force` (its hashes are forgotten), or a target
    whose plan needs its API (not `PlansOffline`). The local portal's plan compares its files, so a portal
    edited or left half-built is still rewritten.
    """
    previous = publication.previous
    if previous is None or not publication.unchanged:
        return None
    try:
        connector = build_target(catalog, target)
        if not isinstance(connector, PlansOffline) or connector.plan(publication).action != "unchanged":
            return None
    except (MoissonError, OSError):
        return None  # the task meets the same error and reports it as the target's failure
    return PublishResult("unchanged", previous.remote_id, previous.url)


@task(name="publish", task_run_name="publish · {publication.dataset.id} → {target}", cache_policy=NO_CACHE,
      retry_condition_fn=retry_if_retryable, **NETWORK_RETRIES)
def publish_to_target(catalog: Catalog, store: StateStore, target: str, publication: Publication,
                      dry_run: bool) -> PublishResult:
    """Publish (or plan) one dataset on one target and remember the result in the state store."""
    connector = build_target(catalog, target)
    logger = get_run_logger()
    dataset_id = publication.dataset.id
    if dry_run:
        plan = connector.plan(publication)
        logger.info("%s → %s : prévu : %s %s", dataset_id, target, status_label(plan.action),
                    changes_label(plan.changes))
        return PublishResult(plan.action, changes=plan.changes, note=plan.note)
    with slot(catalog, "target", target):
        result: PublishResult = connector.publish(publication)
    if result.status in ("created", "updated"):
        store.save_remote(dataset_id, target, RemoteState(
            remote_id=result.remote_id, url=result.url, content_hash=publication.content_hash,
            metadata_hash=publication.metadata_hash, extra={**result.extra, **shape_of(publication.data).as_extra()}))
    logger.info("%s → %s : %s %s", dataset_id, target, status_label(result.status), result.url or "")
    return result
