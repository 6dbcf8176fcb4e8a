"""The bundled catalog end to end under a real Prefect server, then again to see `unchanged`."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest

from moisson.catalog.model import BUNDLED
from moisson.flows.harvest import harvest_catalog, run_datasets
from tests.data import salles_catalog
from tests.fakes.connectors import MemoryTarget

pytestmark = pytest.mark.usefixtures("prefect_server")


@pytest.fixture
def demo_catalog(tmp_path, moisson_home) -> Path:
    """The bundled catalog and its demo data, copied so the portal lands in tmp_path."""
    shutil.copytree(BUNDLED.parent / "demo", tmp_path / "deployments" / "demo")
    catalog = tmp_path / "deployments" / "catalog.yaml"
    shutil.copy(BUNDLED, catalog)
    return catalog


def test_bundled_catalog_end_to_end_then_unchanged(demo_catalog):
    portal = demo_catalog.parent.parent / "var" / "portal"
    first = {o.id: o for o in run_datasets(["equipements-publics", "stationnements-velos", "salles-a-louer"],
                                           catalog=str(demo_catalog))}
    assert first["equipements-publics"].status == "published", first["equipements-publics"]
    assert first["equipements-publics"].rows == 10
    assert first["equipements-publics"].targets["portail"].status == "created"
    assert first["stationnements-velos"].status == "published", first["stationnements-velos"]
    blocked = first["salles-a-louer"]
    assert blocked.status == "blocked"
    assert blocked.quality.errors >= 4
    fields = {e["field"] for e in blocked.quality.first_errors}
    assert {"EQUIP_THEME", "EQUIP_LAT", "EQUIP_UID"} <= fields
    assert not (portal / "salles-a-louer").exists(), "a blocked dataset must never be published"

    csv = (portal / "equipements-publics" / "equipements-publics.csv").read_text(encoding="utf-8")
    assert csv.splitlines()[0].startswith("COLL_NOM,COLL_SIRET")
    assert "21599999600014" in csv
    geojson = json.loads((portal / "stationnements-velos" / "stationnements-velos.geojson").read_text())
    lon, lat = geojson["features"][0]["geometry"]["coordinates"]
    assert 2.5 < lon < 3.5 and 50.3 < lat < 51.0, "Lambert-93 must come out as WGS84 lon/lat near Lille"
    catalog = json.loads((portal / "catalog.jsonld").read_text())
    assert "equipements-publics" in json.dumps(catalog)

    before = (portal / "equipements-publics" / "equipements-publics.csv").stat().st_mtime_ns
    second = {o.id: o for o in run_datasets(["equipements-publics", "stationnements-velos"],
                                            catalog=str(demo_catalog))}
    assert {o.status for o in second.values()} == {"unchanged"}
    assert (portal / "equipements-publics" / "equipements-publics.csv").stat().st_mtime_ns == before


def test_one_failing_dataset_does_not_stop_the_others(tmp_path, moisson_home, monkeypatch):
    monkeypatch.delenv("MOISSON_ABSENT_TOKEN", raising=False)
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(textwrap.dedent("""\
        version: 1
        defaults: {targets: [mem], metadata: {license: lov2}}
        sources:
          good: {connector: "tests.fakes.connectors:MemorySource", config: {rows: [{a: "1"}, {a: "2"}]}}
          locked: {connector: "tests.fakes.connectors:MemorySource", config: {token: {env: MOISSON_ABSENT_TOKEN}}}
        targets:
          mem: {connector: "tests.fakes.connectors:MemoryTarget"}
        datasets:
          - {id: needs-token, source: locked}
          - {id: fine, source: good, frequency: daily, metadata: {title: Fine}}
        """), encoding="utf-8")
    MemoryTarget.published.clear()
    outcomes = {o["id"]: o for o in harvest_catalog(catalog=str(catalog), due_only=False)}
    assert outcomes["needs-token"]["status"] == "failed"
    assert "MOISSON_ABSENT_TOKEN n'est pas définie" in outcomes["needs-token"]["error"]
    assert outcomes["fine"]["status"] == "published"
    assert outcomes["fine"]["targets"]["mem"]["status"] == "created"
    assert MemoryTarget.published["fine"].rows == 2

    # --dry-run plans, publishes nothing; due_only skips what just succeeded.
    planned = harvest_catalog(catalog=str(catalog), dataset_ids=["fine"], due_only=False, dry_run=True)
    assert planned[0]["status"] == "planned" and planned[0]["targets"]["mem"]["status"] == "unchanged"
    assert [o["id"] for o in harvest_catalog(catalog=str(catalog), due_only=True)] == ["needs-token"]


def _task_names(state) -> set[str]:
    """Names (before ' · ') of the task runs of a finished flow run, as the Prefect server recorded them."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[
            state.state_details.flow_run_id])))
    return {run.name.split(" ·")[0] for run in runs}


def test_an_unchanged_dataset_skips_publish_and_round_trip_but_a_stale_portal_is_rebuilt(tmp_path, moisson_home):
    from moisson.flows.harvest import harvest_dataset, harvest_one

    (tmp_path / "salles.csv").write_text("nom,places\nSalle des fêtes,120\n", encoding="utf-8")
    catalog = salles_catalog(tmp_path)

    def run():
        outcome, state = harvest_one(harvest_dataset, "salles", catalog=str(catalog))
        return outcome, _task_names(state)

    first, tasks = run()
    assert first.status == "published" and first.targets["portail"].status == "created", first
    assert {"extract", "quality", "round trip", "publish"} <= tasks
    assert not {"fingerprint", "prepare"} & tasks, "a file source has no fingerprint, the dataset no recipe"
    again, tasks = run()
    assert again.status == "unchanged" and again.targets["portail"].status == "unchanged", again
    assert again.targets["portail"].url == first.targets["portail"].url
    assert tasks == {"extract", "quality"}, "settled from the state store and the portal's files: no task, no slot"
    # The portal's catalog disagrees with its files (a run killed before its rebuild): the next run rebuilds it.
    jsonld = tmp_path / "portal" / "catalog.jsonld"
    portal_catalog = json.loads(jsonld.read_text(encoding="utf-8"))
    portal_catalog["dcat:dataset"] = []
    jsonld.write_text(json.dumps(portal_catalog), encoding="utf-8")
    rebuilt, tasks = run()
    assert rebuilt.status == "published" and rebuilt.targets["portail"].changes == ("portal",), rebuilt
    assert "publish" in tasks
    assert json.loads(jsonld.read_text(encoding="utf-8"))["dcat:dataset"], "the catalog lists the dataset again"


def test_the_outcome_is_the_runs_own_when_the_server_answers_its_last_state_with_the_copy_it_recorded(
        tmp_path, moisson_home, monkeypatch):
    """The run's last state change is sent again (its answer was lost: the server's database was locked past the
    client's timeout); the server rejects the repeat and answers with the state it recorded, which has no result."""
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas import OrchestrationResult
    from prefect.client.schemas.responses import SetStateStatus, StateRejectDetails

    from moisson.flows.harvest import harvest_dataset, harvest_one, outcome_of

    (tmp_path / "salles.csv").write_text("nom,places\nSalle des fêtes,120\nGymnase,-3\n", encoding="utf-8")
    catalog = salles_catalog(tmp_path)
    expected, _ = harvest_one(harvest_dataset, "salles", catalog=str(catalog), dry_run=True)
    assert expected.quality and expected.rows == 2, expected

    real = SyncPrefectClient.set_flow_run_state

    def answer_lost(self, flow_run_id, state, force=False):
        answer = real(self, flow_run_id, state, force=force)
        if not state.is_final():
            return answer
        return OrchestrationResult(state=self.read_flow_run(flow_run_id).state, status=SetStateStatus.REJECT,
                                   details=StateRejectDetails(reason="déjà terminé"))

    monkeypatch.setattr(SyncPrefectClient, "set_flow_run_state", answer_lost)
    outcome, state = harvest_one(harvest_dataset, "salles", catalog=str(catalog), dry_run=True)
    assert outcome_of("salles", state).quality is None, "the state the run ended with carries no outcome"
    assert outcome.status == expected.status == "planned"
    assert outcome.quality.model_dump(exclude={"report"}) == expected.quality.model_dump(exclude={"report"})
    assert outcome.targets == expected.targets


def test_a_final_state_the_server_returned_without_its_result_still_says_how_the_run_ended():
    from prefect.states import Completed, Failed

    from moisson.flows.harvest import outcome_of

    assert outcome_of("salles", Completed(message="unchanged")).status == "unchanged"
    failed = outcome_of("salles", Failed(message="failed: la source est injoignable"))
    assert failed.status == "failed" and "injoignable" in failed.error
