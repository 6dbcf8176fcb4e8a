"""A third-party `RecordSource` gets discovery, collections and a discovery deployment with no change in moisson."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from moisson.catalog.model import load_catalog
from moisson.catalog.resolve import with_stored_records
from moisson.connectors.base import RecordSource
from moisson.core.ids import record_dataset_id
from moisson.core.state import StateStore
from moisson.deployments.build import build_deployments
from tests.fakes.connectors import MemoryTarget
from tests.fakes.records import JsonRecordSource

RECORDS = {"arbres-2026": {"title": "Arbres", "rows": [{"espece": "Tilleul"}, {"espece": "Chêne"}]},
           "bancs-2026": {"title": "Bancs", "rows": [{"rue": "Rue des Écoles"}]}}


def _catalog(tmp_path: Path) -> Path:
    records = tmp_path / "records.json"
    records.write_text(json.dumps(RECORDS), encoding="utf-8")
    path = tmp_path / "catalog.yaml"
    path.write_text(f"""version: 1
defaults: {{targets: [mem], quality: {{on_failure: warn}}, metadata: {{license: lov2}}}}
sources:
  inventaire: {{connector: "tests.fakes.records:JsonRecordSource", config: {{path: "{records}"}}}}
targets:
  mem: {{connector: "tests.fakes.connectors:MemoryTarget"}}
collections:
  - source: inventaire
""", encoding="utf-8")
    return path


def test_the_plugin_declares_the_protocol_only():
    assert issubclass(JsonRecordSource, RecordSource)
    assert JsonRecordSource.__module__.startswith("tests.")


def test_a_collection_and_a_discovery_deployment_for_the_plugin(tmp_path):
    catalog = load_catalog(_catalog(tmp_path))
    names = {(d.flow_name, d.name) for d in build_deployments(catalog)}
    assert ("discover-source", "inventaire") in names


@pytest.mark.usefixtures("prefect_server", "moisson_home")
def test_discovery_harvests_the_plugin_records_as_collection_datasets(tmp_path):
    from moisson.flows.discover import discover_source

    MemoryTarget.published.clear()
    path = _catalog(tmp_path)
    report = discover_source("inventaire", catalog=str(path))
    expected = {f"inventaire-{record_dataset_id(r)}" for r in RECORDS}
    assert sorted(report["new"]) == sorted(RECORDS)
    assert report["harvested"] == dict.fromkeys(expected, "published")
    assert set(with_stored_records(load_catalog(path), StateStore()).datasets) == expected
    assert {p.rows for p in MemoryTarget.published.values()} == {2, 1}
