"""The last quality verdict of each dataset, reused when nothing it depends on changed.

A nightly run of an unchanged catalog extracts the same bytes every night: checking them again (personal-data
scan, casts, Great Expectations, the reports) would give the same verdict. The quality task keys each check by a
digest of everything `check_table` reads: the extract's bytes, every argument but the output folder (Table
Schema, policy with the salt's digest, metadata, the source's row numbers and findings, the geocoder's
communes), and the code and libraries that decide (moisson's quality and core packages, moisson's, pandas',
pyarrow's, numpy's and Great Expectations' versions). `reports/<id>/last-check.json` keeps the key of the
dataset's last check and the run folder holding its result (`result.pickle`), its reports and `clean.parquet`;
a run whose key matches and whose files are all there takes that result instead of checking again. Any change
of one input, a missing file or an unreadable pointer means a fresh check.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import pickle
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, SecretStr

import moisson.core
import moisson.quality
from moisson.quality.gate import QualityResult

POINTER = "last-check.json"
RESULT = "result.pickle"
#: Libraries whose behaviour the verdict depends on (casts, Parquet, expectations).
LIBRARIES = ("moisson", "pandas", "pyarrow", "numpy", "great_expectations")


def check_key(data: Path, arguments: dict[str, Any]) -> str:
    """The digest of one check: the extract's bytes, `check_table`'s other arguments, the code that checks."""
    with data.open("rb") as handle:
        content = hashlib.file_digest(handle, "sha256").hexdigest()
    payload = json.dumps({"data": content, "arguments": arguments, "code": code_digest()}, sort_keys=True,
                         default=_plain, ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


def reused(folder: Path, key: str) -> QualityResult | None:
    """The result of the dataset's last check if it had this key and its files are still there, else None.

    Args:
        folder: The dataset's reports folder (`reports/<id>`), holding one folder per run.
        key: `check_key` of the check about to run.
    """
    try:
        pointer = json.loads((folder / POINTER).read_text(encoding="utf-8"))
        if pointer.get("key") != key:
            return None
        with (folder / pointer["run"] / RESULT).open("rb") as handle:
            # Only files moisson wrote under MOISSON_HOME, with this very code (the key holds its digest).
            result = pickle.load(handle)
    except (OSError, ValueError, KeyError, TypeError, pickle.UnpicklingError, AttributeError, EOFError):
        return None
    if not isinstance(result, QualityResult):
        return None
    files = [result.clean_path, result.report_json, result.report_html, result.gx_results]
    return result if all(f is None or f.is_file() for f in files) else None


def remember(folder: Path, run: Path, key: str, result: QualityResult) -> None:
    """Keep `result` in its run folder and point the dataset's last check at it (each file replaced whole)."""
    _replace(run / RESULT, pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
    _replace(folder / POINTER, json.dumps({"key": key, "run": run.name}).encode())


def _replace(path: Path, content: bytes) -> None:
    # Concurrent runs of one dataset (two processes) each write whole files; the last rename wins.
    part = path.with_name(f".{path.name}.{os.getpid()}.{id(content)}")
    part.write_bytes(content)
    part.replace(path)


@functools.cache
def code_digest() -> str:
    """Digest of the quality and core packages' files and of the libraries' versions (once per process)."""
    digest = hashlib.sha256()
    for package in (moisson.quality, moisson.core):
        root = Path(package.__file__).parent
        for path in sorted(root.rglob("*.py")):
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    for name in LIBRARIES:
        try:
            digest.update(f"{name}=={version(name)}".encode())
        except PackageNotFoundError:
            digest.update(f"{name} absent".encode())
    return digest.hexdigest()


def _plain(value: Any) -> Any:
    """JSON form of what `check_table` is given (pydantic models, dataclasses, arrays, secrets as digests)."""
    if isinstance(value, SecretStr):
        # A new salt hashes the same cells differently: its digest is part of the key, never the salt itself.
        return {"secret": hashlib.sha256(value.get_secret_value().encode()).hexdigest()}
    if isinstance(value, BaseModel):
        return value.model_dump(mode="python")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    if isinstance(value, Path):
        return str(value)
    # Anything else by its repr: a repr that changes from run to run only costs a fresh check.
    return repr(value)
