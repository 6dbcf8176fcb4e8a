"""Validate tabular files with the real Validata (`validata-table`), run by `.peers/validata/bin/python`.

Usage::

    run_validata.py SCHEMA_PATH CSV_PATH [CSV_PATH ...]
    run_validata.py SCHEMA_PATH < paths.txt        # no file argument: one path a line on stdin
    run_validata.py --pairs < pairs.txt            # "SCHEMA_PATH<TAB>CSV_PATH" a line: many schemas, one import

The schema is a local Table Schema file, JSON or YAML (by its suffix; YAML is parsed with the PyYAML that
Validata installs). It is loaded once and handed to Validata as a dict for every file, the way its web API
does for an uploaded file (`validata_api/api/route_handlers.py`)::

    resource = resource_service.from_file_content(name, content)
    report = validation_service.validate_resource(resource, schema_dict, False)  # ignore_header_case=False

The import (about 0.7 s) happens once for the whole batch. One JSON object a line is printed on stdout for each
file, in order: ``{"file", "valid", "error_count", "errors", "warnings", "rows"}`` (``rows``: data rows read,
blank ones included), each error being
``{"row", "field", "type", "title", "message"}`` plus ``"cell"`` when Validata names the offending value.
A file Validata cannot read at all (unsupported suffix, undecodable content, empty file) raises its
`TypedException`: it is reported as one error with no row and no field and the exception's type (e.g.
``format-error``, ``source-error``). Anything Validata would print goes to stderr.

Row numbers are Validata's (frictionless') ``rowNumber``: the number of the CSV *record*, the header being
record 1, so the first data row is row 2. Blank lines are records too (each one is a ``blank-row`` error and
keeps its number), so for a plain CSV file the row is the file's line number; it stops being one after a quoted
cell that spans lines (the record count then lags behind the line count). Errors about the whole table or the
header (``missing-label``, ``check-error``, ...) have ``row`` null; ``field`` is null for errors that concern no
single column (``blank-row``, ``table-dimensions``, ...) and the empty string for an ``extra-cell``.

Network: nothing is downloaded when the schema is a dict and the files are local. Checked by reading the code of
validata-table 0.12.5 / frictionless 5.21.0 / frformat 0.4.1 and by running with the guard below: frformat ships
its reference lists (communes, départements, pays, nomenclature des actes...) inside the package, the custom
checks are plain Python, the schema profile used by frictionless is bundled, and Validata only fetches when the
schema or the source is a string starting with ``http`` (`RemoteDescriptorReader` / `FrictionlessRemoteReader`,
which uses `requests`). The two ways to get a download are therefore a schema passed as a URL and a file passed
as a URL; this script passes neither. Note also that Validata's own local schema reader
(`LocalDescriptorReader`) only parses JSON, which is one more reason to load the schema here. As a safety net,
every socket connection and name resolution is refused in this process (`_forbid_network`): an attempt becomes
an error in the report instead of a hang, and is listed on stderr.
"""

from __future__ import annotations

import copy
import json
import socket
import sys
from pathlib import Path
from typing import Any

NETWORK_ATTEMPTS: list[str] = []


def _forbid_network() -> None:
    """Make every outgoing connection and DNS look-up fail at once, recording the attempt."""

    def refuse(what: str) -> OSError:
        NETWORK_ATTEMPTS.append(what)
        return OSError(f"network disabled in run_validata.py: {what}")

    def connect(self: socket.socket, address: Any) -> None:
        if self.family == socket.AF_UNIX:
            return _connect(self, address)
        raise refuse(f"connect {address!r}")

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        raise refuse(f"getaddrinfo {host!r}:{port!r}")

    _connect = socket.socket.connect
    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect  # type: ignore[method-assign, assignment]
    socket.getaddrinfo = getaddrinfo  # type: ignore[assignment]  (socket.create_connection and urllib3 use it)


def load_schema(path: Path) -> dict[str, Any]:
    """Read a local Table Schema, JSON or YAML by its suffix."""
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        return yaml.safe_load(text)
    return json.loads(text)


def _error(err: dict[str, Any]) -> dict[str, Any]:
    out = {
        "row": err.get("rowNumber"),
        "field": err.get("fieldName"),
        "type": err["type"],
        "title": err.get("title", ""),
        "message": err.get("message", ""),
    }
    if "cell" in err:
        out["cell"] = err["cell"]
    return out


def validate_file(schema: dict[str, Any], path: Path) -> dict[str, Any]:
    """Validate one file like Validata's web API does for an upload; returns the JSON-ready result."""
    from validata_core import resource_service, validation_service
    from validata_core.domain.types import TypedException

    try:
        resource = resource_service.from_file_content(path.name, path.read_bytes())
    except TypedException as exc:
        errors = [{"row": None, "field": None, "type": exc.type.value, "title": "", "message": str(exc)}]
        return {"file": str(path), "valid": False, "error_count": 1, "errors": errors, "warnings": [], "rows": None}
    report = validation_service.validate_resource(resource, copy.deepcopy(schema), False).to_dict()
    errors = [_error(e) for e in report["errors"]]
    return {
        "file": str(path),
        "valid": report["valid"],
        "error_count": len(errors),
        "errors": errors,
        "warnings": list(report["warnings"]),
        "rows": report["stats"]["rows"],
    }


def validate_pairs(lines: list[str], out: Any) -> None:
    """Validate each "schema<TAB>file" pair; an exception inside Validata is reported as a `crash` error."""
    schemas: dict[str, dict[str, Any]] = {}
    for line in lines:
        schema_path, name = line.rstrip("\n").split("\t")
        schema = schemas.setdefault(schema_path, load_schema(Path(schema_path)))
        try:
            result = validate_file(schema, Path(name))
        except Exception as exc:  # Validata's web API would answer 500: the batch goes on
            error = {"row": None, "field": None, "type": "crash", "title": type(exc).__name__, "message": str(exc)}
            result = {"file": name, "valid": False, "error_count": 1, "errors": [error], "warnings": [], "rows": None}
        out.write(json.dumps(result, ensure_ascii=False, default=str) + "\n")
        out.flush()


def main(argv: list[str]) -> int:
    """Validate every file given (or listed on stdin) against the schema; one JSON line per file."""
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    _forbid_network()
    pairs = argv == ["--pairs"]
    schema = {} if pairs else load_schema(Path(argv[0]))
    files = argv[1:] or [line.rstrip("\n") for line in sys.stdin if line.strip()]
    out, sys.stdout = sys.stdout, sys.stderr  # whatever Validata might print must not mix with the JSON lines
    import validata_core  # noqa: F401  (the slow import, once)

    if pairs:
        validate_pairs(files, out)
        files = []
    for name in files:
        out.write(json.dumps(validate_file(schema, Path(name)), ensure_ascii=False, default=str) + "\n")
        out.flush()
    if NETWORK_ATTEMPTS:
        print("run_validata.py: network access attempted: " + "; ".join(NETWORK_ATTEMPTS), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
