"""What `moisson run` shows a data officer: a French table, French logs, no log lines nobody can act on."""

from __future__ import annotations

import json
import logging
import textwrap

import pytest
from typer.testing import CliRunner

from moisson.cli import app
from moisson.console import THREAD_TIMEOUT_WARNING, quiet_logs

pytestmark = pytest.mark.usefixtures("prefect_server")


class Kept(logging.Handler):
    """Every record that reaches its logger's handlers (after the logger's filters)."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def kept_task_logs():
    logger, handler = logging.getLogger("prefect.task_runs"), Kept()
    logger.addHandler(handler)
    yield handler.records
    logger.removeHandler(handler)


def test_run_prints_a_french_table_and_logs_without_the_thread_timeout_warning(tmp_path, moisson_home,
                                                                               kept_task_logs):
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(textwrap.dedent("""\
        version: 1
        defaults: {targets: [mem], metadata: {license: lov2}}
        sources:
          good: {connector: "tests.fakes.connectors:MemorySource", config: {rows: [{a: "1"}, {a: "2"}]}}
        targets:
          mem: {connector: "tests.fakes.connectors:MemoryTarget"}
        datasets:
          - {id: mots, source: good, metadata: {title: Mots}}
        """), encoding="utf-8")
    human = CliRunner().invoke(app, ["run", "mots", "--catalog", str(catalog), "--force"])
    assert human.exit_code == 0, human.output
    for words in ("jeu de données", "état", "lignes", "cibles", "publié", "mem : créé"):
        assert words in human.output, (words, human.output)
    messages = [r.getMessage() for r in kept_task_logs]
    assert "mots : 2 lignes extraites de la source good" in messages, messages
    # Without `quiet_logs` each task with a timeout (extract, publish) logs this warning from its worker thread.
    assert not [m for m in messages if m.startswith(THREAD_TIMEOUT_WARNING.split("%s")[0])], messages

    machine = CliRunner().invoke(app, ["run", "mots", "--catalog", str(catalog), "--json", "--force"])
    outcome = json.loads(machine.stdout)["datasets"][0]
    assert outcome["status"] == "published" and outcome["targets"]["mem"]["status"] in ("created", "updated")


def test_great_expectations_docs_site_info_is_dropped_even_after_its_module_sets_info():
    quiet_logs()
    import great_expectations.data_context.types.base  # noqa: F401  (sets its logger to INFO on import)

    logger, handler = logging.getLogger("great_expectations.data_context.types.base"), Kept()
    logger.addHandler(handler)
    try:
        logger.info("Created temporary directory '/tmp/x' for ephemeral docs site")
        logger.warning("a real problem")
    finally:
        logger.removeHandler(handler)
    assert [r.getMessage() for r in handler.records] == ["a real problem"]
