"""Everything the session's Prefect test server stored (states, logs, artifacts, events), as one text to grep."""

from __future__ import annotations

import sqlite3


def prefect_database_text() -> str:
    """Every row of every table of the test server's SQLite database."""
    from prefect.settings import PREFECT_API_DATABASE_CONNECTION_URL

    path = PREFECT_API_DATABASE_CONNECTION_URL.value().split("///", 1)[1]
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return "\n".join(str(row) for table in tables for row in db.execute(f'SELECT * FROM "{table}"'))
