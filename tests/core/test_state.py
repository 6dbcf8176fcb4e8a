from __future__ import annotations

import datetime as dt

from moisson.core.frequencies import FREQUENCIES, is_due
from moisson.core.records import RemoteState
from moisson.core.state import RecordState, StateStore


def test_remote_state_roundtrip_and_replace(tmp_path):
    store = StateStore(f"sqlite:///{tmp_path / 's.db'}")
    assert store.remote("ds", "portal") is None
    store.save_remote("ds", "portal", RemoteState("r1", "http://x", "c1", "m1", {"resource": "a"}))
    store.save_remote("ds", "portal", RemoteState("r1", "http://x", "c2", "m1"))
    again = StateStore(f"sqlite:///{tmp_path / 's.db'}").remote("ds", "portal")
    assert (again.remote_id, again.content_hash, again.metadata_hash) == ("r1", "c2", "m1")
    assert store.remote("ds", "other") is None


def test_runs_and_records(tmp_path):
    store = StateStore(f"sqlite:///{tmp_path / 's.db'}")
    store.record_run("ds", "blocked")
    assert store.last_success("ds") is None
    store.record_run("ds", "unchanged")
    assert store.last_success("ds").tzinfo is not None
    now = dt.datetime.now(dt.UTC)
    store.save_records("csw", [RecordState("a", "2024-01-01", "h", now, None)])
    store.save_records("csw", [RecordState("b", None, "h2", now, now)])
    assert list(store.records("csw")) == ["b"]


def test_every_periodic_frequency_has_a_delta():
    periodic = set(FREQUENCIES) - {"punctual", "irregular", "never", "notPlanned", "other", "unknown"}
    assert periodic == {f.id for f in FREQUENCIES.values() if f.period}


def test_is_due():
    now = dt.datetime(2026, 3, 1, 3, 0, tzinfo=dt.UTC)
    assert is_due("monthly", None, now)
    assert not is_due("monthly", now - dt.timedelta(days=20), now)
    assert is_due("monthly", now - dt.timedelta(days=28), now)
    assert not is_due("punctual", now - dt.timedelta(days=900), now)


def test_many_runs_opening_a_new_store_at_once_all_succeed(tmp_path):
    import threading

    from moisson.core.state import StateStore

    url = f"sqlite:///{tmp_path / 'state.db'}"
    start, errors = threading.Barrier(8), []

    def open_store() -> None:
        start.wait()
        try:
            StateStore(url).record_run("d", "published")
        except Exception as exc:  # collected: the assertion says which
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
