"""moisson runs Arrow on jemalloc: with pyarrow's default mimalloc, `moisson validate` of 1,000,000 rows spends
2.5 s of kernel time handing pages back and forth (1.0 s with jemalloc; benchmarks/validate_speed.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="pyarrow's Linux wheels carry jemalloc")

SHOW_POOL = "import moisson, pyarrow; print(pyarrow.default_memory_pool().backend_name)"


def _pool(**env: str) -> str:
    """The Arrow memory pool of a fresh interpreter that imports moisson before pyarrow."""
    clean = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"} | env
    done = subprocess.run([sys.executable, "-c", SHOW_POOL], env=clean, capture_output=True, text=True, check=True)
    assert done.stderr == ""
    return done.stdout.strip()


def test_moisson_chooses_jemalloc() -> None:
    assert _pool() == "jemalloc"


def test_a_pool_the_user_sets_is_kept() -> None:
    assert _pool(ARROW_DEFAULT_MEMORY_POOL="system") == "system"
