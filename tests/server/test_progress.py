"""`harvest_catalog` shows a progress artifact that reaches 100 % once every dataset has run."""

from __future__ import annotations

import textwrap

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterType,
    FlowFilter,
    FlowFilterName,
)
from prefect.client.schemas.sorting import FlowRunSort

from moisson.flows.harvest import harvest_catalog


def test_catalog_run_progress_artifact(prefect_api, tmp_path, moisson_home):
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(textwrap.dedent("""\
        version: 1
        defaults: {targets: [mem], metadata: {license: lov2}}
        sources: {s: {connector: "tests.fakes.connectors:MemorySource", config: {rows: [{a: "1"}]}}}
        targets: {mem: {connector: "tests.fakes.connectors:MemoryTarget"}}
        datasets:
          - {id: un, source: s, metadata: {title: Un}}
          - {id: deux, source: s, metadata: {title: Deux}}
          - {id: trois, source: s, metadata: {title: Trois}}
        """), encoding="utf-8")
    # The value the flow returned, not its final state's result: a state change sent again after its answer was
    # lost comes back as the server's copy, which carries no result.
    outcomes = harvest_catalog(catalog=str(catalog), due_only=False)
    assert [(o["id"], o["status"]) for o in outcomes] == [
        ("un", "published"), ("deux", "published"), ("trois", "published")]
    with get_client(sync_client=True) as client:
        [run] = client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=["harvest-catalog"])),
                                      sort=FlowRunSort.START_TIME_DESC, limit=1)
        assert run.state.is_completed(), run.state
        [progress] = client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[run.id]),
            type=ArtifactFilterType(any_=["progress"])))
    assert progress.data == 100.0
    assert progress.description == "3 jeux de données de catalog.yaml"
