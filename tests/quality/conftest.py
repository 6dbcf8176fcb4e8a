"""Shared fixtures of the quality tests: reference files, schemas built in code, Parquet extracts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from moisson.quality.schema import TableSchemaRef

REFERENCE = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference"
SCDL = REFERENCE / "scdl"


@pytest.fixture
def scdl() -> Path:
    if not SCDL.is_dir():
        pytest.skip(f"reference data not found at {SCDL.resolve()} (../shared/reference next to the repository)")
    return SCDL


def make_schema(fields: list[dict[str, Any]], **extra: Any) -> TableSchemaRef:
    return TableSchemaRef(descriptor={"fields": fields, **extra}, name="test", version="1", source="test")


def text_frame(columns: dict[str, list[str | None]]) -> pd.DataFrame:
    return pd.DataFrame({k: pd.Series(v, dtype="string") for k, v in columns.items()})


def write_extract(path: Path, columns: dict[str, list[str | None]]) -> Path:
    text_frame(columns).to_parquet(path, index=False)
    return path


def read_reference_csv(path: Path) -> pd.DataFrame:
    """As the brief says: everything as text, empty cells become nulls."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    return frame.replace("", None)
