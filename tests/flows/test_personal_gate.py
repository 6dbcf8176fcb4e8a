"""A personal e-mail column blocks publication with a clear message; `drop` in the catalog publishes without it."""

from __future__ import annotations

import textwrap

import pyarrow.parquet as pq
import pytest

from moisson.flows.harvest import run_datasets
from tests.fakes.connectors import MemoryTarget

pytestmark = pytest.mark.usefixtures("prefect_server")

CATALOG = """\
    version: 1
    defaults: {{targets: [mem], metadata: {{license: lov2, title: Inscriptions au club}}}}
    sources:
      rows:
        connector: "tests.fakes.connectors:MemorySource"
        config:
          rows: [{{club: Judo, courriel: contact@judo-lys.fr}}, {{club: Tennis, courriel: anne.roy@gmail.com}}]
    targets:
      mem: {{connector: "tests.fakes.connectors:MemoryTarget"}}
    datasets:
      - id: inscriptions
        source: rows
        {quality}
    """


def catalog(tmp_path, quality: str) -> str:
    path = tmp_path / "catalog.yaml"
    path.write_text(textwrap.dedent(CATALOG.format(quality=quality)), encoding="utf-8")
    return str(path)


def test_personal_email_blocks_then_drop_publishes_without_the_column(tmp_path, moisson_home):
    MemoryTarget.published.clear()
    # on_failure: warn does not let personal data through: only the catalog's personal_data can.
    [blocked] = run_datasets(["inscriptions"], catalog=catalog(tmp_path, "quality: {on_failure: warn}"))
    assert blocked.status == "blocked"
    [error] = [e for e in blocked.quality.first_errors if e["type"] == "personal-data"]
    assert error["field"] == "courriel" and error["rule"] == "email"
    assert "3" in error["message"] and "personal_data: {courriel: drop}" in error["message"]
    assert "anne.roy" not in error["message"]
    assert "inscriptions" not in MemoryTarget.published

    [published] = run_datasets(["inscriptions"],
                               catalog=catalog(tmp_path, "quality: {personal_data: {courriel: drop}}"))
    assert published.status == "published", published
    sent = pq.read_table(MemoryTarget.published["inscriptions"].data)
    assert sent.column_names == ["club"]
    assert sent.num_rows == 2
