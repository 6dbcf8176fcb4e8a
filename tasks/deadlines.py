"""Time budgets of tasks and flows, derived from the connectors' own settings.

The HTTP client already ends one exchange at the connector's `timeout`; these budgets bound
what no exchange deadline sees (a source paging for ever, a driver stuck in a query), so a
scheduled run always ends and gives its concurrency slots back. A task's budget is its
connector's `timeout` times the exchanges and attempts a task may chain, plus its other
`*_timeout` settings (Opendatasoft's `publish_timeout`); a flow's is the sum of its tasks'.
"""

from __future__ import annotations

from typing import Any

from moisson.catalog.model import Catalog
from moisson.connectors import registry
from moisson.tasks.limits import Role

#: Exchanges one task may chain (pages, upload, checks), each within the connector's `timeout`.
EXCHANGES = 10
#: Budget of a task whose connector sets no timeout (files, databases).
UNTIMED = 3600.0
#: Preparation and quality checks of one dataset.
LOCAL_WORK = 3600.0


def task_timeout(catalog: Catalog, role: Role, name: str) -> float:
    """Seconds one task talking to the catalog's source or target `name` may run."""
    ref = (catalog.model.sources if role == "source" else catalog.model.targets)[name]
    fields = registry.load(role, ref.connector).Config.model_fields

    def setting(key: str) -> Any:
        return ref.config.get(key, fields[key].default if key in fields else None)

    timeout = setting("timeout")
    others = sum(float(setting(key) or 0) for key in fields if key.endswith("_timeout"))
    if not isinstance(timeout, int | float) and not others:
        return UNTIMED
    attempts = 1 + int(setting("retries") or 0)
    return float(timeout or 0) * EXCHANGES * attempts + others


def flow_timeout(catalog: Catalog, dataset_id: str) -> float:
    """Seconds one dataset's run may take: fingerprint and extract, local work, each target."""
    dataset = catalog.dataset(dataset_id)
    targets = sum(task_timeout(catalog, "target", name) for name in catalog.targets_of(dataset))
    return 2 * task_timeout(catalog, "source", dataset.source) + LOCAL_WORK + targets
