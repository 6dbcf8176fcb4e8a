"""`moisson serve` against a real Prefect server: deployments, limits, a triggered run, its artifacts, the UI.

Then `moisson deploy` to a process work pool, twice around a catalog change, to see the
schedule updated in place and a removed dataset pruned.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    DeploymentFilter,
    DeploymentFilterId,
    FlowFilter,
    FlowFilterName,
)
from prefect.deployments import run_deployment
from typer.testing import CliRunner

from moisson.catalog.model import load_catalog
from moisson.cli import app
from moisson.core.state import StateStore
from moisson.deployments.schedules import minute_of
from moisson.tasks.limits import limit_name
from tests.data import REPO
from tests.peers.process import wait_for
from tests.server.browser import chromium

DATASET = "arbres-remarquables"
RUN_TIMEOUT = 150

CATALOG = """\
version: 1
defaults: {{targets: [portail], metadata: {{license: lov2}}}}
sources:
  tableur:
    connector: "tests.fakes.connectors:MemorySource"
    concurrency: 3
    config: {{rows: [{{nom: "Chêne de la place", hauteur: "21"}}, {{nom: "Tilleul", hauteur: "17"}}]{gate}}}
targets:
  portail: {{connector: local, config: {{path: {portal}, title: Portail de test, harvestable: false}}}}
datasets:
  - {{id: {dataset}, source: tableur, frequency: {frequency}, metadata: {{title: Arbres remarquables}}}}
"""


def write_catalog(folder: Path, frequency: str = "monthly", dataset: str = DATASET, gate: Path | None = None) -> Path:
    """A one-dataset catalog; with `gate`, its extract waits until that file exists."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "catalog.yaml"
    path.write_text(textwrap.dedent(CATALOG).format(portal=folder / "portal", dataset=dataset, frequency=frequency,
                                                    gate=f", gate: {gate}" if gate else ""), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def served(prefect_api, tmp_path_factory):
    """`python -m moisson.cli serve` of a one-dataset catalog, and a second run triggered while the first runs.

    The serve process could run both (`--limit 2`); the deployment's own limit lets only one through.
    The first run's extract waits at a gate file, so the second surely meets it running (no race with
    a quick first run finishing before the second is picked up): every step waits on a state.
    """
    folder = tmp_path_factory.mktemp("served")
    catalog = write_catalog(folder, gate=folder / "gate")
    env = {**prefect_api.env, "MOISSON_HOME": str(folder / "var"), "MOISSON_CATALOG": str(catalog)}
    # Production layout: moisson's state store in the Prefect server's PostgreSQL database.
    env.pop("MOISSON_STATE_URL", None)
    if prefect_api.state_url:
        env["MOISSON_STATE_URL"] = prefect_api.state_url
    log = folder / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "moisson.cli", "serve", "--limit", "2"],
                                   cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        with get_client(sync_client=True) as client:
            def registered():
                try:
                    return client.read_deployment_by_name(f"harvest-dataset/{DATASET}")
                except Exception:
                    return None

            deployment = wait_for(registered, "the served deployment", 90, log)
        with get_client(sync_client=True) as client:
            def reached(run, check):
                return lambda: (found := client.read_flow_run(run.id)).state and check(found.state) and found

            first = run_deployment(deployment.id, timeout=0)
            wait_for(reached(first, lambda s: s.is_running()), "the first run to start", RUN_TIMEOUT, log)
            second = run_deployment(deployment.id, timeout=0)
            wait_for(reached(second, lambda s: s.is_final()), "the second run to end", RUN_TIMEOUT, log)
            (folder / "gate").touch()
            wait_for(reached(first, lambda s: s.is_final()), "the first run to end", RUN_TIMEOUT, log)
            runs = [client.read_flow_run(run.id) for run in (first, second)]
        yield deployment, runs, folder
    finally:
        process.terminate()
        process.wait(30)


def test_serve_registers_the_catalog(prefect_api, served):
    deployment, _, folder = served
    assert deployment.tags == ["moisson", "source:tableur", "target:portail", "frequency:monthly"]
    assert deployment.global_concurrency_limit.limit == 1, "one run at a time per dataset"
    assert deployment.concurrency_options.collision_strategy == "CANCEL_NEW"
    [schedule] = deployment.schedules
    assert schedule.active and schedule.slug == "catalog"
    assert schedule.schedule.cron == f"{minute_of(DATASET)} 3 1 * *"
    assert schedule.schedule.timezone == "Europe/Paris"
    with get_client(sync_client=True) as client:
        cat = load_catalog(folder / "catalog.yaml")
        assert client.read_global_concurrency_limit_by_name(limit_name(cat, "source", "tableur")).limit == 3
        assert client.read_global_concurrency_limit_by_name(limit_name(cat, "target", "portail")).limit == 4

        of_deployment = DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id]))

        def scheduled():
            return [r for r in client.read_flow_runs(deployment_filter=of_deployment) if r.state_name == "Scheduled"]

        upcoming = wait_for(scheduled, "the scheduler to plan the next monthly runs", 60, prefect_api.log)
    first = min(r.expected_start_time for r in upcoming).astimezone(ZoneInfo("Europe/Paris"))
    assert (first.day, first.hour, first.minute) == (1, 3, minute_of(DATASET))


def test_one_run_at_a_time_per_dataset(served):
    _, runs, _ = served
    assert sorted(run.state.name for run in runs) == ["Cancelled", "Completed"], [run.state for run in runs]


def completed(runs):
    return next(run for run in runs if run.state.is_completed())


def test_triggered_run_completes_with_its_artifacts(prefect_api, served):
    _, runs, folder = served
    flow_run = completed(runs)
    assert flow_run.name == f"harvest · {DATASET}"
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run.id])))
    by_key = {a.key: a for a in artifacts if a.key}
    assert {f"quality-{DATASET}", f"publication-{DATASET}"} <= set(by_key)
    publication = by_key[f"publication-{DATASET}"].data
    assert f"# {DATASET} : publié" in publication and "| portail | créé |" in publication
    assert "Rapport complet" in by_key[f"quality-{DATASET}"].data  # French by default
    assert (folder / "portal" / DATASET / f"{DATASET}.csv").read_text(encoding="utf-8").count("\n") == 3
    store = StateStore(prefect_api.state_url or f"sqlite:///{folder / 'var' / 'state.db'}")
    assert store.remote(DATASET, "portail").content_hash, "the publication is recorded in the state store"
    assert store.last_success(DATASET) is not None


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian chromium is not installed (scripts/system-deps)")
def test_ui_page_of_the_run_shows_its_artifacts(prefect_api, served, tmp_path):
    flow_run = completed(served[1])
    with chromium(f"{prefect_api.ui}/runs/flow-run/{flow_run.id}", tmp_path / "profile") as page:
        page.wait_for(f"document.body.innerText.includes('harvest · {DATASET}')")
        page.wait_for("(() => { const tab = document.getElementById('artifacts'); if (tab) tab.click();"
                      " return !!document.querySelector('#artifacts.p-tab__active'); })()")
        text = page.wait_for(f"document.body.innerText.includes('publication-{DATASET}') && document.body.innerText")
        assert f"quality-{DATASET}" in text
        screenshot = page.screenshot(tmp_path / "run.png")
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and screenshot.stat().st_size > 20_000


def test_deploy_twice_updates_in_place_and_prunes(prefect_api, tmp_path):
    with get_client(sync_client=True) as client:
        client.create_work_pool(WorkPoolCreate(name="moisson-test", type="process"), overwrite=True)
    runner = CliRunner()
    first = write_catalog(tmp_path / "v1", frequency="monthly", dataset="voirie")
    result = runner.invoke(app, ["deploy", "--pool", "moisson-test", "--catalog", str(first)])
    assert result.exit_code == 0, result.output
    second = write_catalog(tmp_path / "v2", frequency="weekly", dataset="voirie")
    result = runner.invoke(app, ["deploy", "--pool", "moisson-test", "--catalog", str(second)])
    assert result.exit_code == 0, result.output
    with get_client(sync_client=True) as client:
        voirie = client.read_deployment_by_name("harvest-dataset/voirie")
        assert voirie.work_pool_name == "moisson-test"
        assert [s.schedule.cron for s in voirie.schedules] == [f"{minute_of('voirie')} 3 * * 1"]
        assert "frequency:weekly" in voirie.tags
        named = client.read_deployments(flow_filter=FlowFilter(name=FlowFilterName(any_=["harvest-dataset"])))
        assert [d.name for d in named].count("voirie") == 1

    # The dataset is renamed: --prune removes the old deployment, keeps the new one.
    third = write_catalog(tmp_path / "v3", frequency="weekly", dataset="voirie-2026")
    result = runner.invoke(app, ["deploy", "--pool", "moisson-test", "--catalog", str(third), "--prune"])
    assert result.exit_code == 0, result.output
    with get_client(sync_client=True) as client:
        names = {d.name for d in client.read_deployments(
            flow_filter=FlowFilter(name=FlowFilterName(any_=["harvest-dataset"])))}
    assert "voirie-2026" in names and "voirie" not in names
    assert load_catalog(third).datasets.keys() == {"voirie-2026"}


def test_a_process_worker_runs_a_deployed_dataset(prefect_api, tmp_path):
    with get_client(sync_client=True) as client:
        client.create_work_pool(WorkPoolCreate(name="moisson-workers", type="process"), overwrite=True)
    catalog = write_catalog(tmp_path, dataset="parcs")
    result = CliRunner().invoke(app, ["deploy", "--pool", "moisson-workers", "--catalog", str(catalog)])
    assert result.exit_code == 0, result.output
    flow_run = run_deployment("harvest-dataset/parcs", timeout=0)
    # A worker elsewhere: moisson installed, no code copied (module entrypoint), its own MOISSON_HOME.
    env = {**prefect_api.env, "MOISSON_HOME": str(tmp_path / "worker-home"), "PYTHONPATH": str(REPO)}
    env.pop("MOISSON_STATE_URL", None)
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.run([sys.executable, "-m", "prefect", "worker", "start", "--pool", "moisson-workers",
                                 "--type", "process", "--run-once"], cwd=tmp_path, env=env, stdout=out,
                                stderr=subprocess.STDOUT, timeout=RUN_TIMEOUT)
    assert worker.returncode == 0, log.read_text()[-3000:]
    with get_client(sync_client=True) as client:
        done = wait_for(lambda: (r := client.read_flow_run(flow_run.id)).state.is_final() and r,
                        "the worker's flow run", 30, log)
    assert done.state.is_completed(), (done.state, log.read_text()[-3000:])
    assert (tmp_path / "portal" / "parcs" / "parcs.csv").exists()


def test_deploy_to_a_docker_pool_names_the_image(prefect_api, tmp_path):
    # As a user would: the CLI gives a Docker pool its base job template (with an `image` variable).
    subprocess.run([sys.executable, "-m", "prefect", "work-pool", "create", "moisson-docker", "--type", "docker"],
                   env=prefect_api.env, cwd=tmp_path, check=True, capture_output=True, timeout=120)
    catalog = write_catalog(tmp_path, dataset="ecoles")
    result = CliRunner().invoke(app, ["deploy", "--pool", "moisson-docker", "--image", "registry.example/moisson:1.2",
                                      "--catalog", str(catalog)])
    assert result.exit_code == 0, result.output
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("harvest-dataset/ecoles")
    assert deployment.work_pool_name == "moisson-docker"
    assert deployment.job_variables["image"] == "registry.example/moisson:1.2"
    assert deployment.entrypoint == "moisson.flows.harvest.harvest_dataset", "moisson in the image: no code pull"


def test_deploy_to_a_missing_pool_says_what_to_do(prefect_api, tmp_path):
    result = CliRunner().invoke(app, ["deploy", "--pool", "nowhere", "--catalog", str(write_catalog(tmp_path))])
    assert result.exit_code == 2
    assert "prefect work-pool create nowhere" in " ".join(result.output.split())
