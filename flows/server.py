"""The temporary Prefect server a run starts when no API is set: Prefect's own, its SQLite writers taking turns.

Prefect's server begins its SQLite transactions DEFERRED. One that reads, then writes (a concurrency slot taken, a
flow run created) fails at once when another connection committed in between: SQLite's "busy snapshot", which no
busy timeout waits out. The server answers 503 and Prefect's client sends the request again about 2 s later, so
four datasets run at once spend most of their time waiting (an unchanged 20-dataset catalog: 14-16 such answers,
2.7 s a dataset). Begun IMMEDIATE, a transaction takes the write lock first and waits its turn for it, which lasts
milliseconds. `moisson run` launches that server itself as it begins (`temporary_api`); `use_temporary_server`
makes it the one Prefect starts for a process that did not (a Python caller of `run_datasets`); a server the user
runs (`PREFECT_API_URL`) is left as it is.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import prefect
from prefect.server.api.server import SubprocessASGIServer
from prefect.settings import get_current_settings

from moisson.flows.temporary_api import SERVER_ENV

#: The app uvicorn builds in the server's process.
FACTORY = f"{__name__}:create_app"


class TemporaryServer(SubprocessASGIServer):
    """Prefect's temporary server, started on `create_app` instead of Prefect's own factory."""

    def _run_uvicorn_command(self) -> subprocess.Popen[Any]:
        # As Prefect starts its temporary server (no UI, ephemeral, the settings of this process), on our factory.
        return subprocess.Popen(
            args=[sys.executable, "-m", "uvicorn", "--app-dir", str(prefect.__module_path__.parent), "--factory",
                  FACTORY, "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "error",
                  "--lifespan", "on"],
            env={**os.environ, **SERVER_ENV, **get_current_settings().to_environment_variables(exclude_unset=True)})


def use_temporary_server() -> None:
    """Have Prefect start a `TemporaryServer` when this process needs an API and none is set.

    Prefect keeps its temporary server under the key None of `SubprocessASGIServer._instances` (its test harness
    puts its own there the same way); one already made, started or not, is kept.
    """
    if None not in SubprocessASGIServer._instances:
        TemporaryServer()  # `__new__` files it under its port, None, in that dict (a class attribute of Prefect's)


def create_app() -> Any:
    """The factory uvicorn calls: Prefect's server app, every SQLite transaction begun IMMEDIATE."""
    from prefect.server.api.server import create_app as prefect_app

    immediate_sqlite_transactions()
    return prefect_app()


def immediate_sqlite_transactions() -> None:
    """Make this process's Prefect server begin every SQLite transaction IMMEDIATE (with the write lock)."""
    from prefect.server.database.configurations import AioSqliteConfiguration

    AioSqliteConfiguration.begin_transaction = _immediate(AioSqliteConfiguration.begin_transaction)


def _immediate(begin: Callable[..., Any]) -> Callable[..., Any]:
    """`begin_transaction` as if every caller asked for the write lock (`with_for_update`, BEGIN IMMEDIATE)."""

    def begin_transaction(self: Any, session: Any, with_for_update: bool = False) -> Any:
        return begin(self, session, with_for_update=True)

    return begin_transaction
