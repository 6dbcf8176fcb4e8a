"""The real Validata 0.12.5 (PyPI `validata-table`), run from its own venv (`scripts/peer-validata`), for parity tests.

Validata pins its own frictionless (5.21.0), Flask and others, so it never enters moisson's venv: a batch of files
is validated by one subprocess of `.peers/validata/bin/python` (or `VALIDATA_PYTHON`) running `run_validata.py`,
which calls Validata's Python API the way its web API does for an uploaded file, with
``ignore_header_case=False``, and prints one JSON line per file. Its import takes ~0.7 s, so batch the files.
This module is stdlib only.

Facts checked against 0.12.5 (pinned in `tests/peers/test_validata_peer.py`):

- Row numbers (``row``) count CSV records with the header as row 1: the first data row is row 2, a blank line is
  a record (a ``blank-row`` error with its own number), so for a plain CSV the row is the file's line number,
  until a quoted cell spans lines. Header-level errors (``missing-label``) and schema-level ones
  (``check-error``) have no row.
- ``NaN`` (and ``INF``) in a ``number`` field is valid (Table Schema allows it).
- ``05/12/2016`` in a ``date`` field (no ``format``) is a ``type-error``, title "Format de date incorrect",
  message "La forme attendue est `2016-12-05` (`default`)". An ISO-shaped but impossible date (``2016-13-45``)
  gets another message: "La date doit être écrite sous la forme `default`".
- ``1 200`` in a ``number`` field (no ``groupChar``) is a ``type-error``, title "Format de nombre incorrect",
  message "La valeur ne doit comporter que des chiffres et le point comme séparateur décimal". ``99 786,57``
  gets "Le séparateur décimal à utiliser est le point («&#160;99 786.57&#160;»)", an HTML entity left verbatim.
- A wrong boolean (``oui``) is a ``type-error`` "Valeur booléenne incorrecte".
- Columns are matched by name. An extra column and a missing *optional* column are only *warnings* ("Colonne
  surnuméraire : ...", "Colonne manquante : ..."): the file stays valid. A missing *required* column is a
  ``missing-label`` error (field set, row None). Disordered columns are a warning. Header case matters: ``ID``
  for ``id`` is an extra column plus a missing one.
- A short row gives ``missing-cell`` on the first absent column, a long one ``extra-cell`` with field ``""``.
- A file it cannot read is one error: ``format-error`` (unsupported suffix: only .csv .tsv .ods .xls .xlsx) or
  ``source-error`` (e.g. "contenu vide").
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
from pathlib import Path
from typing import Any, NotRequired, TypedDict

REPO = Path(__file__).resolve().parents[2]
RUNNER = Path(__file__).with_name("run_validata.py")
STARTUP_TIMEOUT = 60.0
PER_FILE_TIMEOUT = 30.0


class ValidataError(TypedDict):
    """One error as Validata reports it (see `run_validata.py`)."""

    row: int | None
    field: str | None
    type: str
    title: str
    message: str
    cell: NotRequired[Any]


class ValidataResult(TypedDict):
    """Validata's verdict on one file."""

    file: str
    valid: bool
    error_count: int
    errors: list[ValidataError]
    warnings: list[str]
    rows: int | None


class ValidataPeerError(RuntimeError):
    """The Validata subprocess failed, timed out or answered something unexpected."""


def validata_python() -> Path:
    """Interpreter of Validata's own venv: `VALIDATA_PYTHON`, else `.peers/validata/bin/python`."""
    return Path(os.environ.get("VALIDATA_PYTHON") or REPO / ".peers" / "validata" / "bin" / "python")


@functools.cache
def available() -> bool:
    """Whether the Validata venv exists and holds `validata_core` (found without importing it)."""
    python = validata_python()
    if not python.exists():
        return False
    probe = "import importlib.util, sys; sys.exit(importlib.util.find_spec('validata_core') is None)"
    try:
        return subprocess.run([str(python), "-c", probe], capture_output=True, timeout=STARTUP_TIMEOUT).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def validate_pairs(pairs: list[tuple[Path, Path]], *, timeout: float | None = None) -> list[ValidataResult]:
    """Validate each `(schema, file)` pair, all in one Validata process (`run_validata.py --pairs`).

    Unlike `validate`, an exception inside Validata on one file does not stop the batch: that file gets one
    error of type ``crash``. Raises `ValidataPeerError` as `validate` does.
    """
    if not pairs:
        return []
    lines = [f"{Path(schema).resolve()}\t{Path(file).resolve()}\n" for schema, file in pairs]
    if any(line.count("\n") > 1 or line.count("\t") > 1 for line in lines):
        raise ValueError("paths with a newline or a tab cannot be passed to run_validata.py")
    limit = timeout if timeout is not None else STARTUP_TIMEOUT + PER_FILE_TIMEOUT * len(pairs)
    return _run([str(validata_python()), str(RUNNER), "--pairs"], "".join(lines),
                [line.split("\t")[1].rstrip("\n") for line in lines], limit, "pairs")


def validate(schema: Path, files: list[Path], *, timeout: float | None = None) -> list[ValidataResult]:
    """Validate `files` against the local Table Schema `schema` (JSON or YAML) in one Validata process.

    Args:
        schema: Schema file.
        files: CSV (or .tsv/.xls/.xlsx/.ods) files; Validata picks the format from the suffix.
        timeout: Seconds for the whole batch; default 60 s plus 30 s a file.

    Returns:
        One result per file, in the order given.

    Raises:
        ValidataPeerError: Validata is not installed, or its process failed, timed out or gave a wrong count of
            results (the message includes its stderr).
    """
    if not files:
        return []
    names = [str(Path(f).resolve()) for f in files]
    if any("\n" in name for name in names):
        raise ValueError("file names with a newline cannot be passed to run_validata.py")
    limit = timeout if timeout is not None else STARTUP_TIMEOUT + PER_FILE_TIMEOUT * len(files)
    command = [str(validata_python()), str(RUNNER), str(Path(schema).resolve())]
    return _run(command, "".join(f"{n}\n" for n in names), names, limit, f"schema {schema}")


def _run(command: list[str], stdin: str, names: list[str], limit: float, label: str) -> list[ValidataResult]:
    """Run the Validata runner; one result per name in `names`, checked."""
    python = validata_python()
    if not python.exists():
        raise ValidataPeerError(f"Validata is not installed ({python} missing): run scripts/peer-validata")
    try:
        done = subprocess.run(command, input=stdin, capture_output=True, text=True, encoding="utf-8", timeout=limit)
    except subprocess.TimeoutExpired as exc:
        stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else exc.stderr or ""
        raise ValidataPeerError(f"Validata timed out after {limit:.0f} s on {len(names)} file(s); stderr:\n"
                                f"{stderr[-4000:]}") from exc
    if done.returncode != 0:
        raise ValidataPeerError(f"Validata exited with {done.returncode} ({label}); stderr:\n"
                                f"{done.stderr[-4000:]}")
    try:
        results: list[ValidataResult] = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise ValidataPeerError(f"Validata printed something that is not JSON ({exc}); stdout:\n"
                                f"{done.stdout[-2000:]}\nstderr:\n{done.stderr[-2000:]}") from exc
    if [r["file"] for r in results] != names:
        raise ValidataPeerError(f"Validata answered for {len(results)} file(s) instead of {len(names)}; stderr:\n"
                                f"{done.stderr[-4000:]}")
    if "network access attempted" in done.stderr:
        raise ValidataPeerError(f"Validata tried to reach the network; stderr:\n{done.stderr[-4000:]}")
    return results


def positions(result: ValidataResult) -> list[tuple[int | None, str | None, str]]:
    """The (row, field, type) of each error, in Validata's order: what parity tests compare."""
    return [(e["row"], e["field"], e["type"]) for e in result["errors"]]
