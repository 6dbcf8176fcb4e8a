"""`moisson run` of a large CSV to the local portal fits in a memory limit the table read whole does not fit in.

Every step (extract, quality gate, Great Expectations, round trip, portal files) reads the table a chunk at a
time, so a run's memory follows the chunk, not the file. The child gets RLIMIT_DATA (heap and private
mappings). Measured on this file (800,000 rows, 166 MiB), as RLIMIT_DATA counts them: the chunked run needs
between 700 and 850 MB; with the whole table as one chunk it fails at 1,200 MB and passes at 1,400 MB.
The limit lies between.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.harness import generate, write_catalog
from moisson.quality.gate import CHUNK_ROWS_VARIABLE
from tests.peers.process import run_moisson

ROWS = 800_000
LIMIT_BYTES = 1000 * 2**20


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A catalog publishing the generated SCDL subsidies file of `ROWS` rows to a local portal."""
    work = tmp_path_factory.mktemp("run-large")
    (work / "data").mkdir()
    generate(work / "data" / "subventions.csv", ROWS)
    return write_catalog(work, work / "data", {"subventions": "subventions.csv"})


def run(catalog: Path, home: Path, **env: str) -> dict:
    """`moisson run subventions --json` in a fresh process under `LIMIT_BYTES`: the dataset's outcome."""
    done = run_moisson("run", "subventions", "--catalog", str(catalog), "--json", timeout=600, data_limit=LIMIT_BYTES,
                       env={"MOISSON_HOME": str(home), CHUNK_ROWS_VARIABLE: None, **env})
    assert done.stdout, done.stderr[-3000:]
    return json.loads(done.stdout)["datasets"][0]


def test_a_large_csv_is_published_within_a_memory_limit(large, tmp_path):
    outcome = run(large, tmp_path / "home")
    assert outcome["status"] == "published", outcome
    assert outcome["rows"] == ROWS
    with (large.parent / "portal" / "subventions" / "subventions.csv").open(encoding="utf-8") as csv:
        assert sum(1 for _ in csv) == ROWS + 1


def test_the_same_run_in_one_chunk_fails_in_french_and_publishes_nothing(large, tmp_path):
    # The limit bites: with the whole table as one chunk, the same run runs out of memory. It says so in French,
    # naming the dataset and what to do, and leaves the portal as it was (every file, size and date).
    before = portal_files(large.parent / "portal")
    outcome = run(large, tmp_path / "home", **{CHUNK_ROWS_VARIABLE: str(10 * ROWS)})
    assert outcome["status"] == "failed"
    assert outcome["error"].startswith("[subventions] mémoire insuffisante"), outcome["error"]
    assert "--concurrency" in outcome["error"]
    assert portal_files(large.parent / "portal") == before


def portal_files(portal: Path) -> list[tuple[str, int, int]]:
    """Every file of the portal with its size and modification time."""
    return sorted((str(p.relative_to(portal)), p.stat().st_size, p.stat().st_mtime_ns)
                  for p in portal.rglob("*") if p.is_file() and p.name != ".moisson.lock")
