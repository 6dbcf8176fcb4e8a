"""The temporary Prefect server of a run without `PREFECT_API_URL` is moisson's: its SQLite writers take turns."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from prefect.server.api.server import SubprocessASGIServer

from benchmarks.harness import write_catalog
from moisson.flows.server import FACTORY, TemporaryServer, use_temporary_server
from tests.data import REPO
from tests.peers.process import free_port, wait_for

#: Tiny datasets a catalog run harvests, 4 at a time: enough for Prefect's own server to answer some with 503.
DATASETS = 8
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


def tiny_catalog(folder: Path) -> Path:
    """A catalog of `DATASETS` one-row CSV datasets published to a local portal in `folder`."""
    (folder / "data").mkdir(parents=True)
    files = {}
    for n in range(DATASETS):
        (folder / "data" / f"t{n}.csv").write_text(f"code;nom\n{n};Lieu {n}\n", encoding="utf-8")
        files[f"jeu-{n}"] = f"t{n}.csv"
    return write_catalog(folder, folder / "data", files, schema=None)


def run_all(catalog: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`moisson run --all --json` in its own process; the Prefect API is only the one `env` names, if any."""
    environment = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"} | {
        "MOISSON_HOME": str(catalog.parent / "home"), "PREFECT_LOGGING_LEVEL": "INFO", **env}
    done = subprocess.run([sys.executable, "-m", "moisson.cli", "run", "--all", "--catalog", str(catalog), "--json"],
                          capture_output=True, text=True, env=environment, timeout=600, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    assert [d["status"] for d in json.loads(done.stdout)["datasets"]] == ["published"] * DATASETS
    return done


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def test_a_catalog_run_without_an_api_gets_no_busy_answer(tmp_path):
    # Eight tiny datasets four at a time on the temporary server: Prefect's own answered 503 to some of their slot
    # acquisitions and flow run creations (each then sent again 2 s later); moisson's answers every one.
    done = run_all(tiny_catalog(tmp_path), PREFECT_HOME=str(tmp_path / "prefect"),
                   PREFECT_API_LOG_RETRYABLE_ERRORS="true")
    assert "Starting temporary server" in done.stderr
    assert "Encountered retryable exception" not in done.stderr


def test_moisson_server_serves_the_ui_and_answers_concurrent_runs_without_503(tmp_path):
    # The long-running server of `moisson serve` on SQLite: Prefect's `server start`, same writers taking turns.
    port = free_port()
    log = tmp_path / "server.log"
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_API_LOG_RETRYABLE_ERRORS": "true",
           "PREFECT_SERVER_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{tmp_path / 'prefect.db'}"}
    env.pop("PREFECT_API_URL", None)
    with log.open("w") as out:
        server = subprocess.Popen([sys.executable, "-m", "moisson.cli", "server", "--host", "127.0.0.1", "--port",
                                   str(port)], stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(f"{base}/api/health"), "moisson server", 180, log)
        assert "<html" in httpx.get(f"{base}/", timeout=10).text  # the UI, as `prefect server start` serves it
        run_all(tiny_catalog(tmp_path / "runs"), PREFECT_API_URL=f"{base}/api")
    finally:
        server.terminate()
        server.wait(timeout=60)
    assert "Encountered retryable exception" not in log.read_text()


def test_moisson_server_refuses_the_modes_that_start_prefects_own_server():
    done = subprocess.run([sys.executable, "-m", "moisson.cli", "server", "--background"], capture_output=True,
                          text=True, cwd=REPO, timeout=120)
    assert done.returncode == 2
    assert "ne prend pas --background" in done.stderr


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
