"""Source and target slots: runs of one process queue locally, and the server's limit still binds every process."""

from __future__ import annotations

import contextvars
import textwrap
import threading
from collections.abc import Callable

import pytest
from prefect.concurrency.sync import concurrency

from moisson.catalog.model import load_catalog
from moisson.tasks.limits import ensure_limits, limit_name, slot

pytestmark = pytest.mark.usefixtures("prefect_server")


@pytest.fixture
def catalog(tmp_path):
    path = tmp_path / "catalog.yaml"
    path.write_text(textwrap.dedent("""\
        version: 1
        defaults: {targets: [portail], metadata: {license: lov2}}
        sources: {base: {connector: spreadsheet, concurrency: 2, config: {root: .}}}
        targets: {portail: {connector: local, config: {path: portal, harvestable: false}}}
        datasets:
          - {id: salles, source: base, locator: {path: salles.csv}}
        """), encoding="utf-8")
    cat = load_catalog(path)
    ensure_limits(cat)
    return cat


def in_this_context(work: Callable[[], None]) -> threading.Thread:
    """A thread that sees this thread's Prefect settings (the API the limits were created on), as runs do."""
    return threading.Thread(target=contextvars.copy_context().run, args=(work,))


def test_threads_of_one_process_never_hold_more_slots_than_the_limit(catalog):
    inside, most, lock = 0, 0, threading.Lock()
    everyone_waiting = threading.Barrier(6)

    def work() -> None:
        nonlocal inside, most
        everyone_waiting.wait()
        with slot(catalog, "source", "base"):
            with lock:
                inside += 1
                most = max(most, inside)
            with lock:
                inside -= 1

    threads = [in_this_context(work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a slot was never given back"
    assert 1 <= most <= 2


def test_a_slot_held_by_another_process_is_waited_for(catalog):
    name = limit_name(catalog, "source", "base")
    entered, release = threading.Event(), threading.Event()

    def other_process() -> None:
        # Prefect's own call, past moisson's local queue: as another process holding both slots would.
        with concurrency(name, occupy=2, lease_duration=60):
            held.set()
            release.wait(timeout=300)

    def waiter() -> None:
        with slot(catalog, "source", "base"):
            entered.set()

    held = threading.Event()
    holder = in_this_context(other_process)
    holder.start()
    assert held.wait(timeout=120)
    queued = in_this_context(waiter)
    queued.start()
    assert not entered.wait(timeout=3), "the server's limit was full: no slot may be given"
    release.set()
    assert entered.wait(timeout=120), "the slot is given once the other process lets go"
    holder.join(timeout=60)
    queued.join(timeout=60)
