"""Shared fixtures: a Prefect test server for the whole session, quiet telemetry, isolated var/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")



@pytest.fixture(scope="session")
def prefect_server():
    """A real Prefect API on a temporary SQLite database (prefect_test_harness), the server `moisson run` starts."""
    from unittest import mock

    from prefect.logging.configuration import ensure_logging_setup
    from prefect.testing.utilities import prefect_test_harness

    from moisson.flows.server import TemporaryServer

    # Prefect's handlers keep the stream of the moment they are made: pytest's, never one a test swaps in
    # for a while (CliRunner, capsys) and closes, into which every later flow of the session would log.
    ensure_logging_setup()
    # The harness on moisson's temporary server (SQLite writers taking turns), as a run without an API gets it.
    with mock.patch("prefect.testing.utilities.SubprocessASGIServer", TemporaryServer), \
            prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def moisson_home(tmp_path, monkeypatch) -> Path:
    """A private MOISSON_HOME (state store, reports, caches) for one test."""
    home = tmp_path / "var"
    monkeypatch.setenv("MOISSON_HOME", str(home))
    monkeypatch.delenv("MOISSON_STATE_URL", raising=False)
    return home


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under `scripts/test` (MOISSON_NO_SKIP=1) a skipped test fails the run: CI has every prerequisite."""
    if os.environ.get("MOISSON_NO_SKIP") != "1" or exitstatus != 0:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped:
        reasons = sorted({str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else str(report.longrepr)
                          for report in skipped})
        print(f"\n{len(skipped)} test(s) skipped under MOISSON_NO_SKIP=1, which fails the run:", *reasons, sep="\n  ")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
