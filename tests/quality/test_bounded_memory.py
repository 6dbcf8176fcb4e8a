"""`moisson validate` of a large CSV fits in a memory limit the whole table checked at once does not fit in.

The child process gets RLIMIT_DATA (heap and private mappings; RLIMIT_AS would count the address space
pyarrow's allocator reserves without using it). The limit is sized between the two peaks measured on this
file (800,000 rows, 170 MB), as RLIMIT_DATA counts them: 600-650 MB read chunk by chunk, over 900 MB in one
chunk (RSS: about 350 and 800 MB).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.harness import SCHEMA, generate
from moisson.quality.gate import CHUNK_ROWS_VARIABLE
from tests.data import reference

ROWS = 800_000
LIMIT_BYTES = 760 * 2**20


@pytest.fixture(scope="module")
def large_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("large") / "subventions.csv"
    generate(path, ROWS)
    return path


def validate(path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`moisson validate --json` in a fresh process whose data segment is capped at `LIMIT_BYTES`."""

    def capped() -> None:
        resource.setrlimit(resource.RLIMIT_DATA, (LIMIT_BYTES, LIMIT_BYTES))

    return subprocess.run([str(Path(sys.executable).parent / "moisson"), "validate", str(path), "--schema",
                           str(reference(SCHEMA)), "--json"], capture_output=True, text=True, preexec_fn=capped,
                          env={k: v for k, v in os.environ.items() if k != CHUNK_ROWS_VARIABLE} | env, timeout=300)


def test_a_large_csv_is_validated_within_a_memory_limit(large_csv):
    done = validate(large_csv)
    assert done.returncode == 1, done.stderr[-2000:]  # invalid: the file holds injected errors
    report = json.loads(done.stdout)
    assert report["rows"] == ROWS and report["error_count"] > 0


def test_the_same_file_in_one_chunk_exceeds_the_limit(large_csv):
    # The limit bites: checked as one chunk, the same file does not fit.
    done = validate(large_csv, **{CHUNK_ROWS_VARIABLE: str(10 * ROWS)})
    assert done.returncode != 0
    with pytest.raises(json.JSONDecodeError):
        json.loads(done.stdout)
