"""A REAL `prefect server start` for the session, on PostgreSQL when one is reachable.

It is the production set-up of the README: its own PREFECT_HOME, PostgreSQL through
asyncpg (a fresh database created here and dropped afterwards), the UI served on the same
port. Without PostgreSQL on 127.0.0.1:5432 it runs on SQLite and says so.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.data import REPO
from tests.peers.process import free_port

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
START_TIMEOUT = 180


@dataclass(frozen=True)
class PrefectApi:
    """A running server: its API URL, UI URL, environment for subprocesses, database, state store URL.

    `state_url` is moisson's state store on the same PostgreSQL database (None on SQLite).
    """

    url: str
    ui: str
    env: dict[str, str]
    database: str
    log: Path
    state_url: str | None


def _postgres_database() -> tuple[str, str] | None:
    """Create a fresh database; return (its name, its URL without driver), or None when PostgreSQL is absent."""
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as conn:
            name = f"moisson_prefect_{secrets.token_hex(4)}"
            conn.execute(f'CREATE DATABASE "{name}"')
    except Exception:
        return None
    return name, f"postgres@127.0.0.1:5432/{name}"


def _drop_database(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _drain_workers() -> None:
    """Send the logs and events still queued in this process while the server is up (as the test harness does)."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    with contextlib.suppress(RuntimeError):  # never started: nothing to send
        APILogWorker.instance().drain()
    EventsWorker.drain_all()


@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory) -> Iterator[PrefectApi]:
    """Start the server, wait for /api/health, point this process at it; stop and clean up after."""
    from prefect.logging.configuration import ensure_logging_setup
    from prefect.settings import PREFECT_API_URL, temporary_settings

    ensure_logging_setup()  # on pytest's streams, as in tests/conftest.py's prefect_server

    home = tmp_path_factory.mktemp("prefect-home")
    port = free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "DO_NOT_TRACK": "1", "PREFECT_API_URL": url, "PREFECT_SERVER_EPHEMERAL_ENABLED": "false",
           # The scheduler wakes every 60 s by default; tests should not wait that long to see runs.
           "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "3"}
    created = _postgres_database()
    if created:
        env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = f"postgresql+asyncpg://{created[1]}"
    else:
        env.pop("PREFECT_SERVER_DATABASE_CONNECTION_URL", None)
    log = home / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                                   "--port", str(port)], env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if server.poll() is not None:
                pytest.fail(f"prefect server exited with {server.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if requests.get(f"{url}/health", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"prefect server not up after {START_TIMEOUT}s:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        with temporary_settings(updates={PREFECT_API_URL: url}):
            yield PrefectApi(url=url, ui=f"http://127.0.0.1:{port}", env=env,
                             database="postgresql" if created else "sqlite", log=log,
                             state_url=f"postgresql+psycopg://{created[1]}" if created else None)
            _drain_workers()
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        if created:
            _drop_database(created[0])
