"""A dataset's flow run sends Prefect no heartbeats unless the user's settings ask for them.

Prefect's heartbeat thread sleeps in one-second steps and each flow run's end waits for it; the runs of
`run_datasets` are a command's or `harvest_catalog`'s subflows, whose parent beats. What the server received
is read back: the flow run's events, once its terminal state's event is there.
"""

from __future__ import annotations

import time

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName
from prefect.client.schemas.sorting import FlowRunSort
from prefect.events.filters import EventFilter, EventOccurredFilter, EventResourceFilter
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

from moisson.flows.harvest import run_datasets
from tests.data import salles_catalog

pytestmark = pytest.mark.usefixtures("prefect_server")

#: How long the server may take to store a finished run's events (its persister writes them in batches).
STORED_WITHIN_SECONDS = 60


def _events_of_last_run(dataset_id: str) -> list[str]:
    """Names of the events the server stored for the newest flow run of `dataset_id`, its terminal one included."""
    with get_client(sync_client=True) as client:
        [run] = client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[
            f"harvest · {dataset_id}"])), sort=FlowRunSort.START_TIME_DESC, limit=1)
        resource = EventResourceFilter(id=[f"prefect.flow-run.{run.id}"])
        deadline = time.monotonic() + STORED_WITHIN_SECONDS
        while True:
            # The filter's end is "now" as it is made: made again at each look.
            until_now = EventFilter(resource=resource, occurred=EventOccurredFilter(since=run.created))
            names = [e.event for e in client.read_events(until_now, limit=50).events]
            if "prefect.flow-run.Completed" in names or time.monotonic() > deadline:
                return names
            time.sleep(0.2)


def test_a_dataset_run_sends_no_heartbeat_by_default(tmp_path, moisson_home):
    (tmp_path / "salles.csv").write_text("nom,places\nSalle des fêtes,120\n", encoding="utf-8")
    [outcome] = run_datasets(["salles"], catalog=str(salles_catalog(tmp_path)))
    assert outcome.status == "published", outcome
    names = _events_of_last_run("salles")
    assert "prefect.flow-run.Completed" in names, names
    assert "prefect.flow-run.heartbeat" not in names, names


def test_heartbeats_the_user_asked_for_are_sent(tmp_path, moisson_home):
    (tmp_path / "salles.csv").write_text("nom,places\nSalle des fêtes,120\n", encoding="utf-8")
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 30}):
        [outcome] = run_datasets(["salles"], catalog=str(salles_catalog(tmp_path)))
    assert outcome.status == "published", outcome
    names = _events_of_last_run("salles")
    assert "prefect.flow-run.Completed" in names, names
    assert "prefect.flow-run.heartbeat" in names, "the first heartbeat is sent as the run begins"
