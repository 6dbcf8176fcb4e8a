"""`moisson check` and `moisson validate` start without importing what they do not use (issue 15 §2).

Each command runs as a user runs it, in a fresh interpreter; the modules it imported are read from
`sys.modules` when it exits. No timing here: the start-up seconds are measured by
benchmarks/startup_speed.py.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

from moisson.core.lazy import startup_imports
from tests.data import REPO

#: Runs `moisson ARGS…` (argv[2:]) and writes to argv[1] at exit the names of every imported module and the OpenBLAS
#: threads it asked numpy for.
RUNNER = """
import atexit, json, os, sys
out, sys.argv = sys.argv[1], ["moisson", *sys.argv[2:]]
atexit.register(lambda: open(out, "w").write(json.dumps({"modules": sorted(sys.modules),
                                                         "blas": os.environ.get("OPENBLAS_NUM_THREADS")})))
from moisson.cli import app
app()
"""
#: What the bundled catalog's check never needs: the data stack, the GIS and SQL libraries, HTTP, the orchestrator.
NOT_FOR_CHECK = ("pandas", "numpy", "pyarrow", "scipy", "sqlalchemy", "shapely", "pyproj", "rdflib", "markdown_it",
                 "requests", "prefect", "great_expectations", "frictionless")
#: What validating a local file with a known schema never needs (pandas and pyarrow read and check it).
NOT_FOR_VALIDATE = ("prefect", "great_expectations", "frictionless", "scipy", "sqlalchemy", "shapely", "pyproj",
                    "rdflib", "markdown_it", "requests")


def started(tmp_path: Path, *args: str, blas: str | None = None) -> tuple[int, set[str], str | None]:
    """Exit code of `moisson ARGS` in a fresh process, the top-level packages it imported, its OpenBLAS threads.

    Args:
        tmp_path: Where the process keeps its files.
        *args: The command line after `moisson`.
        blas: `OPENBLAS_NUM_THREADS` as the user set it (unset by default).
    """
    out = tmp_path / "modules.json"
    env = {**os.environ, "MOISSON_HOME": str(tmp_path / "home")}
    for name in ("MOISSON_CATALOG", "OPENBLAS_NUM_THREADS"):
        env.pop(name, None)
    if blas is not None:
        env["OPENBLAS_NUM_THREADS"] = blas
    done = subprocess.run([sys.executable, "-c", RUNNER, str(out), *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)
    assert out.exists(), done.stderr
    seen = json.loads(out.read_text())
    return done.returncode, {name.partition(".")[0] for name in seen["modules"]}, seen["blas"]


def test_check_of_the_bundled_catalog_imports_no_data_gis_http_or_prefect_library(tmp_path):
    # The first run has frictionless accept the catalog's schemas once; the runs after that remember them.
    assert started(tmp_path, "check")[0] == 0
    code, modules, _ = started(tmp_path, "check")
    assert code == 0
    assert "pydantic" in modules  # the runner saw the catalog being validated
    assert sorted(modules.intersection(NOT_FOR_CHECK)) == []


def small_file(tmp_path: Path) -> list[str]:
    """`validate FILE --schema SCHEMA` of a two-column, one-row CSV file and its schema."""
    data = tmp_path / "salles.csv"
    data.write_text("nom;places\nSalle des fêtes;120\n", encoding="utf-8")
    schema = tmp_path / "salles.schema.json"
    schema.write_text(json.dumps({"fields": [{"name": "nom", "type": "string"},
                                             {"name": "places", "type": "integer"}]}), encoding="utf-8")
    return ["validate", str(data), "--schema", str(schema)]


def test_validate_of_a_small_file_imports_neither_prefect_gx_nor_the_gis_and_http_libraries(tmp_path):
    # The first run has frictionless accept the new schema once; the runs after that remember it.
    assert started(tmp_path, *small_file(tmp_path))[0] == 0
    code, modules, _ = started(tmp_path, *small_file(tmp_path))
    assert code == 0
    assert "pandas" in modules  # the runner saw the file being checked
    assert sorted(modules.intersection(NOT_FOR_VALIDATE)) == []


def test_validate_asks_numpy_for_one_blas_thread_unless_the_user_chose_a_number(tmp_path):
    # numpy is imported after the command starts (the check test: `moisson.cli` imports no numpy), so it sees this.
    code, modules, blas = started(tmp_path, *small_file(tmp_path))
    assert (code, "numpy" in modules, blas) == (0, True, "1")
    assert started(tmp_path, *small_file(tmp_path), blas="2")[2] == "2"


def test_startup_imports_pause_the_collector_then_freeze_what_exists_and_restore_it_as_it_was():
    was = gc.isenabled()
    try:
        for enabled in (True, False):
            (gc.enable if enabled else gc.disable)()
            gc.unfreeze()
            with startup_imports():
                assert not gc.isenabled()
            assert gc.isenabled() is enabled
            assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        (gc.enable if was else gc.disable)()
