"""Blocked task: targets that can show it say a dataset's new version was refused, its last good one kept."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from moisson.catalog.model import Catalog
from moisson.connectors.base import ShowsBlocked
from moisson.core.errors import MoissonError, NotFoundError
from moisson.tasks.connect import build_target
from moisson.tasks.extract import descriptor_for


@task(name="mark-blocked", task_run_name="blocked · {dataset_id}", cache_policy=NO_CACHE)
def mark_blocked(catalog: Catalog, dataset_id: str, reason: str) -> None:
    """Tell every target of the dataset that shows blocked datasets (`ShowsBlocked`); never fails the run."""
    logger = get_run_logger()
    for target in catalog.targets_of(catalog.dataset(dataset_id)):
        connector = build_target(catalog, target)
        if not isinstance(connector, ShowsBlocked):
            continue
        try:
            connector.block(descriptor_for(catalog, dataset_id), reason)
        except NotFoundError:
            continue  # never published: no good version to keep online, nothing to say
        except MoissonError as exc:
            logger.warning("%s → %s : le jeu de données n'a pas pu être marqué bloqué : %s", dataset_id, target, exc)
