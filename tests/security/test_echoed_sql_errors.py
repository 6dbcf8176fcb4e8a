"""A database that quotes the connection back in its error must not make the URL's secrets travel on.

`moisson run --all --json` (its own process) of two SQL sources on the real PostgreSQL of
127.0.0.1:5432: one URL carries a password and names a database that does not exist (the server
quotes the name), the other has its user and password swapped, a typo the server answers by quoting
the password as a role name. stdout, stderr, the JSON, every file the run wrote and the Prefect database (states,
logs, artifacts, events) must hold neither password, while the errors still say what is wrong.
"""

from __future__ import annotations

import json
import textwrap
import uuid
from pathlib import Path

import pytest

from tests.connectors.sources.test_sql import execute
from tests.peers.process import run_moisson, wait_for
from tests.security.prefect_db import prefect_database_text

pytestmark = pytest.mark.usefixtures("prefect_server")

ABSENT_PASSWORD, SWAPPED_PASSWORD = "PgS3cretAbsent2026", "PgS3cretSwapped2026"
HOST = "127.0.0.1:5432"


def write_catalog(folder: Path) -> Path:
    path = folder / "catalog.yaml"
    path.write_text(textwrap.dedent(f"""\
        version: 1
        defaults: {{targets: [portail], metadata: {{license: lov2}}}}
        sources:
          absente: {{connector: sql, config: {{url: {{env: TEST_SQL_ABSENT_URL}}, connect_timeout: 5}}}}
          inversee: {{connector: sql, config: {{url: {{env: TEST_SQL_SWAPPED_URL}}, connect_timeout: 5}}}}
        targets:
          portail: {{connector: local, config: {{path: {folder / "portal"}, title: Test, harvestable: false}}}}
        datasets:
          - {{id: sql-base-absente, source: absente, locator: {{table: voirie}}, metadata: {{title: Voirie}}}}
          - {{id: sql-role-inverse, source: inversee, locator: {{table: parcs}}, metadata: {{title: Parcs}}}}
        """), encoding="utf-8")
    return path


def test_no_password_leaves_moisson_through_a_database_error(tmp_path, moisson_home):
    execute("SELECT 1")  # the database is there: what fails below is the URL only
    events_before = prefect_database_text().count("moisson.dataset.failed")
    absent_database = f"moisson_absente_{uuid.uuid4().hex[:8]}"
    result = run_moisson("run", "--all", "--json", "--catalog", str(write_catalog(tmp_path)), env={
        "TEST_SQL_ABSENT_URL": f"postgresql+psycopg://postgres:{ABSENT_PASSWORD}@{HOST}/{absent_database}",
        "TEST_SQL_SWAPPED_URL": f"postgresql+psycopg://{SWAPPED_PASSWORD}:postgres@{HOST}/test"})
    assert result.returncode == 1, result.stderr[-3000:]
    errors = {o["id"]: o["error"] for o in json.loads(result.stdout)["datasets"] if o["status"] == "failed"}
    assert errors.keys() == {"sql-base-absente", "sql-role-inverse"}, result.stdout
    assert HOST in errors["sql-base-absente"] and "does not exist" in errors["sql-base-absente"]
    assert "a refusé les identifiants" in errors["sql-role-inverse"] and "does not exist" in errors["sql-role-inverse"]
    # Logs and events reach the server in batches: wait on this run's two failure events.
    database = wait_for(lambda: (text := prefect_database_text()).count("moisson.dataset.failed") >= events_before + 2
                        and text, "the run's events in the Prefect database", 120)
    # The state store, run folders, reports and portal: every file the run wrote.
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "catalog.yaml"]
    assert any(p.name.startswith("state.db") for p in written), "the run kept its state"
    stored = b"".join(p.read_bytes() for p in written)
    for secret in (ABSENT_PASSWORD, SWAPPED_PASSWORD):
        assert secret not in result.stdout, secret
        assert secret not in result.stderr, secret
        assert secret.encode() not in stored, secret
        assert secret not in database, secret
