"""Global concurrency limits: how many runs may talk to one source or one target at once.

A hundred datasets due at 03:00 must not open a hundred connections to the GIS database
or a hundred uploads to one portal API. The extract and publish tasks hold a slot of
`moisson-source-<name>-<key>` / `moisson-target-<name>-<key>` while they work. The key is a
digest of the source's or target's connector and config (never a secret value: the config holds
references), so two catalogs on one Prefect server that both call their portal `portail` wait on
each other only when it is the same portal. Prefect does not enforce a limit that does not
exist (it only logs a warning), so moisson creates or updates every limit it uses before
running: `ensure_limits` is called by `moisson serve`, `moisson deploy` and every `moisson run`.

A slot is leased for `LEASE_SECONDS` and renewed while the task runs, so a killed process
gives its slots back within about a minute instead of blocking every later run.

Runs of one process (`moisson run --all` harvests 4 datasets at once) first queue on a local semaphore of the
same size, and ask the server only once they hold it: the server answers a full limit with "retry in about
2 seconds" (its guess of a slot's occupancy), so a task that would have waited 50 ms for its neighbour's
slot slept 2 s or more. Other processes still count through the server's limit.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

from prefect.concurrency.sync import concurrency

from moisson.catalog.model import Catalog

Role = Literal["source", "target"]

#: Slots when the catalog says nothing: a database or an API serves a few clients well.
DEFAULTS: dict[Role, int] = {"source": 2, "target": 4}
#: The shortest lease the Prefect server accepts; Prefect renews it at three quarters of its length.
LEASE_SECONDS = 60
#: How long a wait on the local semaphore lasts before it looks again, so a task's time budget can end it.
_WAKE_SECONDS = 1.0

_gates: dict[tuple[str, int], threading.BoundedSemaphore] = {}
_gates_lock = threading.Lock()


def limit_name(catalog: Catalog, role: Role, name: str) -> str:
    """Name of the global concurrency limit of a catalog source or target."""
    refs = catalog.model.sources if role == "source" else catalog.model.targets
    ref = refs[name]
    what = json.dumps({"connector": ref.connector, "config": ref.config}, sort_keys=True, default=str)
    return f"moisson-{role}-{name}-{hashlib.sha256(what.encode()).hexdigest()[:10]}"


def slots_of(catalog: Catalog, role: Role, name: str) -> int:
    """Slots of a catalog source's or target's limit."""
    ref = (catalog.model.sources if role == "source" else catalog.model.targets)[name]
    return ref.concurrency or DEFAULTS[role]


def limits_of(catalog: Catalog) -> dict[str, int]:
    """Every limit the catalog's sources and targets need, with its number of slots."""
    wanted: dict[str, int] = {}
    for role, refs in (("source", catalog.model.sources), ("target", catalog.model.targets)):
        for name in refs:
            wanted[limit_name(catalog, role, name)] = slots_of(catalog, role, name)
    return wanted


def ensure_limits(catalog: Catalog) -> dict[str, int]:
    """Create or update the catalog's limits on the Prefect server (idempotent); return them."""
    from prefect.client.orchestration import get_client  # deferred: needs a Prefect API

    wanted = limits_of(catalog)
    with get_client(sync_client=True) as client:
        for name, slots in wanted.items():
            client.upsert_global_concurrency_limit_by_name(name, slots)
    return wanted


@contextmanager
def slot(catalog: Catalog, role: Role, name: str) -> Iterator[None]:
    """Hold one slot of a source's or target's limit, on a short lease renewed while inside."""
    limit, slots = limit_name(catalog, role, name), slots_of(catalog, role, name)
    with _gates_lock:
        gate = _gates.setdefault((limit, slots), threading.BoundedSemaphore(slots))
    # Woken at once by a release; the timeout only lets Prefect's task timeout interrupt a long wait.
    while not gate.acquire(timeout=_WAKE_SECONDS):
        pass
    try:
        with concurrency(limit, occupy=1, lease_duration=LEASE_SECONDS):
            yield
    finally:
        gate.release()
