"""Archive task: withdraw from one target a dataset whose source record is gone (archive, never delete)."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from moisson.catalog.model import Catalog
from moisson.connectors.base import DatasetDescriptor, PublishResult
from moisson.core.records import RemoteState
from moisson.tasks.connect import build_target
from moisson.tasks.labels import status_label
from moisson.tasks.limits import slot
from moisson.tasks.retry import NETWORK_RETRIES, retry_if_retryable


@task(name="archive", task_run_name="archive · {dataset.id} → {target}", cache_policy=NO_CACHE,
      retry_condition_fn=retry_if_retryable, **NETWORK_RETRIES)
def archive_on_target(catalog: Catalog, target: str, dataset: DatasetDescriptor,
                      previous: RemoteState) -> PublishResult:
    """Archive one dataset on one target, under the same retries and target limit as publication."""
    with slot(catalog, "target", target):
        result = build_target(catalog, target).archive(dataset, previous)
    get_run_logger().info("%s → %s : %s", dataset.id, target, status_label(result.status))
    return result
