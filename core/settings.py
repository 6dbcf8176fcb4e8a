"""Where moisson keeps its working files, from the environment with plain defaults.

`MOISSON_HOME` (default `./var`): run directories, schema cache, reports, state file.
`MOISSON_STATE_URL`: SQLAlchemy URL of the state store (default: SQLite in MOISSON_HOME).
"""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """The working directory of moisson (created on first use)."""
    path = Path(os.environ.get("MOISSON_HOME", "var")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def state_url() -> str:
    """SQLAlchemy URL of the state store."""
    return os.environ.get("MOISSON_STATE_URL") or f"sqlite:///{home() / 'state.db'}"


def cache_dir() -> Path:
    """Cache of remote schemas."""
    path = home() / "cache"
    path.mkdir(parents=True, exist_ok=True)
    return path


def process_defaults() -> None:
    """Settings moisson needs unless the user chose otherwise.

    Analytics of Prefect and Great Expectations off; a longer start-up wait for Prefect's
    ephemeral server, whose first start creates its database (over 20 s on a small machine).
    """
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")


def one_blas_thread() -> None:
    """One OpenBLAS thread unless the user chose otherwise, for a command that imports numpy to check tables.

    numpy starts an OpenBLAS worker per core when it is imported, and each spins a while waiting for work that the
    checks never give it (no matrix products): 0.1 s of CPU on two cores, more on bigger machines, before the first
    row is read. OpenBLAS reads the variable once, when numpy loads it: call this before numpy is imported.
    """
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
