"""Global concurrency limits: how many runs may talk to one source or one target at once.

A hundred datasets due at 03:00 must not open a hundred connections to the GIS database
or a hundred uploads to one portal API. The extract and publish tasks hold a slot of
`moisson-source-<id>` / `moisson-target-<id>` while they work. Prefect does not enforce
a limit that does not exist (it only logs a warning), so moisson creates or updates every
limit it uses before running: `ensure_limits` is called by `moisson serve`, `moisson
deploy` and every `moisson run`.
"""

from __future__ import annotations

from typing import Literal

from moisson.catalog.model import Catalog

Role = Literal["source", "target"]

#: Slots when the catalog says nothing: a database or an API serves a few clients well.
DEFAULTS: dict[Role, int] = {"source": 2, "target": 4}


def limit_name(role: Role, name: str) -> str:
    """Name of the global concurrency limit of a catalog source or target."""
    return f"moisson-{role}-{name}"


def limits_of(catalog: Catalog) -> dict[str, int]:
    """Every limit the catalog's sources and targets need, with its number of slots."""
    wanted: dict[str, int] = {}
    for role, refs in (("source", catalog.model.sources), ("target", catalog.model.targets)):
        for name, ref in refs.items():
            wanted[limit_name(role, name)] = ref.concurrency or DEFAULTS[role]
    return wanted


def ensure_limits(catalog: Catalog) -> dict[str, int]:
    """Create or update the catalog's limits on the Prefect server (idempotent); return them."""
    from prefect.client.orchestration import get_client  # deferred: needs a Prefect API

    wanted = limits_of(catalog)
    with get_client(sync_client=True) as client:
        for name, slots in wanted.items():
            client.upsert_global_concurrency_limit_by_name(name, slots)
    return wanted
