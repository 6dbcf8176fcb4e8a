"""Deployments generated from a catalog, offline: names, schedules, tags, concurrency, limits, CLI listing."""

from __future__ import annotations

import json
import textwrap

import pytest
from prefect.client.schemas.objects import ConcurrencyLimitStrategy
from prefect.deployments.runner import EntrypointType
from prefect.settings import PREFECT_API_URL, temporary_settings
from typer.testing import CliRunner

from moisson.catalog.model import BUNDLED, load_catalog
from moisson.cli import app
from moisson.deployments.build import build_deployments, discovery_specs, specs_of
from moisson.deployments.schedules import minute_of
from moisson.tasks.limits import DEFAULTS, limit_name, limits_of

CATALOG = """\
version: 1
defaults: {targets: [mem], metadata: {license: lov2}}
sources:
  tableur: {connector: "tests.fakes.connectors:MemorySource", config: {rows: [{a: "1"}]}}
  sig: {connector: "tests.fakes.connectors:MemorySource", concurrency: 1}
targets:
  mem: {connector: "tests.fakes.connectors:MemoryTarget", concurrency: 8}
  autre: {connector: "tests.fakes.connectors:MemoryTarget"}
datasets:
  - {id: equipements-sportifs, source: sig, frequency: monthly, targets: [mem, autre],
     metadata: {title: Équipements sportifs}}
  - {id: arrets-bus, source: tableur, frequency: biweekly}
  - {id: budget, source: tableur, frequency: punctual}
  - {id: travaux, source: tableur, frequency: monthly, schedule: "30 6 * * 1-5"}
"""


@pytest.fixture
def catalog(tmp_path):
    path = tmp_path / "catalog.yaml"
    path.write_text(textwrap.dedent(CATALOG), encoding="utf-8")
    return load_catalog(path)


def test_one_deployment_per_dataset(catalog):
    deployments = {d.name: d for d in build_deployments(catalog)}
    assert list(deployments) == ["equipements-sportifs", "arrets-bus", "budget", "travaux"]
    sport = deployments["equipements-sportifs"]
    assert sport.flow_name == "harvest-dataset"
    assert sport.entrypoint == "moisson.flows.harvest.harvest_dataset"
    assert sport.entrypoint_type == EntrypointType.MODULE_PATH
    assert sport.parameters == {"dataset_id": "equipements-sportifs", "catalog": str(catalog.path)}
    assert sport.tags == ["moisson", "source:sig", "target:mem", "target:autre", "frequency:monthly"]
    assert sport.description.startswith("Équipements sportifs")
    assert sport.concurrency_limit == 1
    assert sport.concurrency_options.collision_strategy == ConcurrencyLimitStrategy.CANCEL_NEW
    [schedule] = sport.schedules
    assert schedule.slug == "catalog"
    assert schedule.schedule.cron == f"{minute_of('equipements-sportifs')} 3 1 * *"
    assert schedule.schedule.timezone == "Europe/Paris"
    assert "INTERVAL=2" in deployments["arrets-bus"].schedules[0].schedule.rrule
    assert deployments["budget"].schedules == [], "a punctual dataset runs only on demand"
    assert deployments["travaux"].schedules[0].schedule.cron == "30 6 * * 1-5"


def test_bundled_catalog_leaves_the_catalog_to_the_worker():
    for deployment in build_deployments(load_catalog(BUNDLED)):
        assert deployment.parameters["catalog"] is None, "workers read MOISSON_CATALOG or the bundled one"


def test_concurrency_limits_per_source_and_target(catalog):
    assert limits_of(catalog) == {
        limit_name(catalog, "source", "tableur"): DEFAULTS["source"], limit_name(catalog, "source", "sig"): 1,
        limit_name(catalog, "target", "mem"): 8, limit_name(catalog, "target", "autre"): DEFAULTS["target"]}


def test_two_catalogs_share_a_limit_only_for_the_same_portal(catalog, tmp_path):
    same = tmp_path / "same.yaml"
    same.write_text(catalog.path.read_text(encoding="utf-8"), encoding="utf-8")
    other = tmp_path / "other.yaml"
    # The same target name, another portal: its runs must never wait on this catalog's.
    other.write_text(catalog.path.read_text(encoding="utf-8").replace(
        'autre: {connector: "tests.fakes.connectors:MemoryTarget"}',
        'autre: {connector: "tests.fakes.connectors:MemoryTarget", config: {name: ailleurs}}'), encoding="utf-8")
    assert limit_name(load_catalog(same), "target", "autre") == limit_name(catalog, "target", "autre")
    assert limit_name(load_catalog(other), "target", "autre") != limit_name(catalog, "target", "autre")
    assert limit_name(load_catalog(other), "target", "mem") == limit_name(catalog, "target", "mem")


def test_discovery_needs_a_csw_source(catalog):
    assert discovery_specs(catalog) == [], "memory sources have no records to discover"


def test_one_discovery_deployment_per_csw_source(tmp_path):
    path = tmp_path / "catalog.yaml"
    path.write_text(textwrap.dedent("""\
        version: 1
        sources:
          geocatalogue: {connector: csw, config: {url: {env: ISOGEO_CSW_URL}}}
          tableur: {connector: "tests.fakes.connectors:MemorySource"}
        """), encoding="utf-8")
    [discovery] = [d for d in build_deployments(load_catalog(path)) if d.flow_name == "discover-source"]
    assert discovery.name == "geocatalogue"
    assert discovery.entrypoint == "moisson.flows.discover.discover_source"
    assert discovery.parameters == {"source_id": "geocatalogue", "catalog": str(path.resolve())}
    assert discovery.tags == ["moisson", "source:geocatalogue", "frequency:weekly"]
    assert discovery.schedules[0].schedule.cron == f"{minute_of('discover-geocatalogue')} 3 * * 1"
    assert discovery.concurrency_limit == 1


def test_cli_lists_deployments_without_a_server(catalog, monkeypatch):
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")  # nothing listens there
    result = CliRunner().invoke(app, ["deployments", "--json", "--catalog", str(catalog.path), "--runs", "2"])
    assert result.exit_code == 0, result.output
    listing = {d["name"]: d for d in json.loads(result.output)["deployments"]}
    assert set(listing) == {f"harvest-dataset/{s.name}" for s in specs_of(catalog)}
    travaux = listing["harvest-dataset/travaux"]
    assert travaux["schedule"] == "cron 30 6 * * 1-5 (Europe/Paris)"
    assert len(travaux["next_runs"]) == 2 and all("T06:30:00+0" in r for r in travaux["next_runs"])
    assert listing["harvest-dataset/budget"]["next_runs"] == []
    text = CliRunner().invoke(app, ["deployments", "--catalog", str(catalog.path)])
    assert text.exit_code == 0 and "moisson deployments" in text.output


@pytest.mark.parametrize("command", [["serve"], ["deploy", "--pool", "p"], ["automations", "apply"]])
def test_server_commands_need_a_prefect_server(command, catalog):
    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        result = CliRunner().invoke(app, [*command, "--catalog", str(catalog.path)])
    assert result.exit_code == 2, result.output
    assert "PREFECT_API_URL n'est pas définie" in " ".join(result.output.split())
