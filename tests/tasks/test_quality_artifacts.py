"""The quality artifact links the run's HTML report and its Great Expectations results."""

from __future__ import annotations

from pathlib import Path

import pytest
from prefect import flow
from prefect.artifacts import Artifact

from moisson.flows.artifacts import quality_artifacts
from moisson.quality.gate import check_table
from moisson.quality.policy import QualityPolicy
from tests.data import make_schema, write_extract


@pytest.mark.usefixtures("prefect_server")
def test_markdown_links_report_and_gx_results(tmp_path: Path) -> None:
    data = write_extract(tmp_path / "extract.parquet", {"n": ["1", "x"]})
    result = check_table(data, dataset_id="gx-links", schema=make_schema([{"name": "n", "type": "integer"}]),
                         policy=QualityPolicy(lang="en"), out_dir=tmp_path / "run")
    assert result.gx_results is not None and result.gx_results.is_file()
    assert "Great Expectations results" in result.report_html.read_text(encoding="utf-8")

    @flow
    def publish_artifacts() -> None:
        quality_artifacts("gx-links", result)

    publish_artifacts()
    markdown = Artifact.get("quality-gx-links").data
    assert f"]({result.report_html.as_uri()})" in markdown
    assert f"Great Expectations results: [gx_results.json]({result.gx_results.as_uri()})" in markdown
