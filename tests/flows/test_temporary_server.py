"""The temporary Prefect server of a run without `PREFECT_API_URL` is moisson's: its SQLite writers take turns."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from prefect.server.api.server import SubprocessASGIServer

from benchmarks.harness import write_catalog
from moisson.flows.server import FACTORY, TemporaryServer, use_temporary_server
from tests.data import REPO

#: In a fresh process: a Prefect server transaction is begun, reads, and another connection asks for the write lock.
LOCK_PROBE = """
import asyncio, sqlite3, sys
import sqlalchemy as sa
from prefect.server.database import provide_database_interface
from moisson.flows.server import immediate_sqlite_transactions
if sys.argv[2] == "moisson":
    immediate_sqlite_transactions()

async def probe():
    async with provide_database_interface().session_context(begin_transaction=True) as session:
        await session.execute(sa.text("SELECT 1"))
        other = sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:
            return "locked"
        other.execute("ROLLBACK")
        return "free"

print(asyncio.run(probe()))
"""


@pytest.fixture
def no_temporary_server(monkeypatch):
    """Prefect's registry of temporary servers, empty for the test."""
    monkeypatch.setattr(SubprocessASGIServer, "_instances", {})


def test_prefect_starts_a_temporary_server_of_moissons(no_temporary_server, monkeypatch):
    use_temporary_server()
    server = SubprocessASGIServer()  # what Prefect's clients call when no API is set
    assert type(server) is TemporaryServer
    started = []
    monkeypatch.setattr(subprocess, "Popen", lambda args, env: started.append((args, env)))
    server.port = 8123
    server._run_uvicorn_command()
    [(args, env)] = started
    assert args[args.index("--factory") + 1] == FACTORY and args[args.index("--port") + 1] == "8123"
    assert env["PREFECT__SERVER_EPHEMERAL"] == "1" and env["PREFECT_UI_ENABLED"] == "0"


def test_a_catalog_run_without_an_api_gets_no_busy_answer(tmp_path):
    # Eight tiny datasets four at a time on the temporary server: Prefect's own answered 503 to some of their slot
    # acquisitions and flow run creations (each then sent again 2 s later); moisson's answers every one.
    (tmp_path / "data").mkdir()
    files = {}
    for n in range(8):
        (tmp_path / "data" / f"t{n}.csv").write_text(f"code;nom\n{n};Lieu {n}\n", encoding="utf-8")
        files[f"jeu-{n}"] = f"t{n}.csv"
    catalog = write_catalog(tmp_path, tmp_path / "data", files, schema=None)
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"} | {
        "PREFECT_HOME": str(tmp_path / "prefect"), "MOISSON_HOME": str(tmp_path / "home"),
        "PREFECT_API_LOG_RETRYABLE_ERRORS": "true", "PREFECT_LOGGING_LEVEL": "INFO"}
    done = subprocess.run([sys.executable, "-m", "moisson.cli", "run", "--all", "--catalog", str(catalog), "--json"],
                          capture_output=True, text=True, env=env, timeout=600, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    assert [d["status"] for d in json.loads(done.stdout)["datasets"]] == ["published"] * 8
    assert "Starting temporary server" in done.stderr
    assert "Encountered retryable exception" not in done.stderr


def test_a_temporary_server_already_made_is_kept(no_temporary_server):
    made = SubprocessASGIServer()
    use_temporary_server()
    assert SubprocessASGIServer() is made


@pytest.mark.parametrize(("server", "expected"), [("prefect", "free"), ("moisson", "locked")])
def test_a_server_transaction_takes_the_write_lock_before_it_reads(tmp_path, server, expected):
    # Prefect's own transaction (DEFERRED) holds no lock after a read, so a write after another connection's commit
    # fails at once (SQLite's busy snapshot: the 503 answers); moisson's holds the write lock from its first statement.
    database = tmp_path / "prefect.db"
    done = subprocess.run([sys.executable, "-c", LOCK_PROBE, str(database), server], capture_output=True, text=True,
                          env={**os.environ, "PREFECT_SERVER_DATABASE_CONNECTION_URL":
                               f"sqlite+aiosqlite:///{database}"}, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == [expected]
