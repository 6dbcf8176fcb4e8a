"""A source that never answers does not hold a run forever: its extract task has a budget from its `timeout`."""

from __future__ import annotations

import textwrap

import pytest

from moisson.flows.harvest import run_datasets

pytestmark = pytest.mark.usefixtures("prefect_server")


def test_a_stuck_extraction_fails_the_dataset_naming_the_setting(tmp_path, moisson_home):
    catalog = tmp_path / "catalog.yaml"
    # The gate file never appears: the source waits (up to 300 s) as a stuck peer would.
    catalog.write_text(textwrap.dedent(f"""\
        version: 1
        defaults: {{targets: [mem], metadata: {{license: lov2, title: T, description: D}}}}
        sources:
          lent: {{connector: "tests.fakes.connectors:MemorySource",
                  config: {{rows: [{{a: "1"}}], gate: "{tmp_path / 'never'}", timeout: 0.2}}}}
        targets: {{mem: {{connector: "tests.fakes.connectors:MemoryTarget"}}}}
        datasets:
          - {{id: bloque, source: lent}}
        """), encoding="utf-8")
    [outcome] = run_datasets(["bloque"], catalog=str(catalog))
    assert outcome.status == "failed"
    assert "a dépassé son temps (2 s)" in outcome.error and "relevez `timeout` de la source lent" in outcome.error
