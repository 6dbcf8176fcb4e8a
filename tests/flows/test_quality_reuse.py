"""An unchanged extract under unchanged rules reuses the last quality verdict; any change checks again."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from moisson.flows.harvest import harvest_dataset, harvest_one
from moisson.flows.outcome import DatasetOutcome
from moisson.tasks import verdicts

pytestmark = pytest.mark.usefixtures("prefect_server")

ROWS = "nom,contact,places\nSalle des fêtes,Jeanne Martin,120\nGymnase,Paul Durand,300\n"


@pytest.fixture
def salles(tmp_path, moisson_home, monkeypatch) -> Path:
    """A catalog of one spreadsheet dataset with a Table Schema, hashing a personal-data column."""
    monkeypatch.setenv("MOISSON_HASH_SALT", "premier-sel")
    (tmp_path / "salles.csv").write_text(ROWS, encoding="utf-8")
    schema = {"fields": [{"name": "nom", "type": "string", "constraints": {"required": True}},
                         {"name": "contact", "type": "string"},
                         {"name": "places", "type": "integer", "constraints": {"minimum": 0}}]}
    (tmp_path / "schema.json").write_text(json.dumps(schema), encoding="utf-8")
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(textwrap.dedent("""\
        version: 1
        defaults:
          targets: [mem]
          metadata: {license: lov2, title: Salles, description: Les salles municipales}
          quality: {on_failure: warn, personal_data: {contact: hash}}
        sources: {tableurs: {connector: spreadsheet, config: {root: .}}}
        targets: {mem: {connector: "tests.fakes.connectors:MemoryTarget"}}
        datasets:
          - {id: salles, source: tableurs, locator: {path: salles.csv}, schema: schema.json}
        """), encoding="utf-8")
    return catalog


def _run(catalog: Path) -> tuple[DatasetOutcome, set[str], set[str]]:
    """One run of the dataset: its outcome, the names of its task runs and the keys of its artifacts."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, FlowRunFilter, FlowRunFilterId

    outcome, state = harvest_one(harvest_dataset, "salles", catalog=str(catalog))
    run_id = state.state_details.flow_run_id
    with get_client(sync_client=True) as client:
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id])))
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(
            any_=[run_id])))
    return outcome, {t.name.split(" ·")[0] for t in tasks}, {a.key for a in artifacts}


def test_an_unchanged_extract_reuses_the_last_verdict_and_its_files(salles):
    first, _, _ = _run(salles)
    assert first.status == "published" and first.quality.success, first
    again, tasks, artifacts = _run(salles)
    assert again.quality == first.quality, "the same verdict, the same report"
    assert "quality" in tasks, "the quality step is still a task of the run in the UI"
    assert "quality-salles" in artifacts, "and the run still shows its quality artifact"
    assert again.status == "unchanged", again

    Path(first.quality.report).with_name("clean.parquet").unlink()
    rebuilt, _, _ = _run(salles)
    assert rebuilt.quality.report != first.quality.report, "a file of the last check is gone: checked again"
    assert Path(rebuilt.quality.report).with_name("clean.parquet").is_file()


def _data(catalog: Path, monkeypatch) -> None:
    (catalog.parent / "salles.csv").write_text(ROWS + "Piscine,Luc Petit,-5\n", encoding="utf-8")


def _schema(catalog: Path, monkeypatch) -> None:
    path = catalog.parent / "schema.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    schema["fields"][2]["constraints"]["minimum"] = 150
    path.write_text(json.dumps(schema), encoding="utf-8")


def _policy(catalog: Path, monkeypatch) -> None:
    text = catalog.read_text(encoding="utf-8")
    catalog.write_text(text.replace("personal_data: {contact: hash}", "personal_data: {contact: drop}"),
                       encoding="utf-8")


def _metadata(catalog: Path, monkeypatch) -> None:
    text = catalog.read_text(encoding="utf-8")
    catalog.write_text(text.replace("title: Salles,", "title: Salles municipales,"), encoding="utf-8")


def _salt(catalog: Path, monkeypatch) -> None:
    monkeypatch.setenv("MOISSON_HASH_SALT", "second-sel")


def _version(catalog: Path, monkeypatch) -> None:
    real = verdicts.version
    monkeypatch.setattr(verdicts, "version", lambda name: "9.9.9" if name == "moisson" else real(name))
    verdicts.code_digest.cache_clear()  # the test clears it again when it ends


@pytest.mark.parametrize("change", [_data, _schema, _policy, _metadata, _salt, _version],
                         ids=["data", "schema", "policy", "metadata", "hash-salt", "moisson-version"])
def test_a_change_of_anything_the_verdict_depends_on_checks_again(salles, monkeypatch, change):
    first, _, _ = _run(salles)
    change(salles, monkeypatch)
    try:
        again, _, _ = _run(salles)
    finally:
        verdicts.code_digest.cache_clear()
    assert again.quality.report != first.quality.report, "checked again: a new report"
    report = json.loads(Path(again.quality.report).with_name("quality.json").read_text(encoding="utf-8"))
    assert report["rows"] == again.rows
