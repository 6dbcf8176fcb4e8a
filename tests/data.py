"""Test data, in one place: the repository, the reference files beside it, and tables built in code."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from moisson.quality.schema import TableSchemaRef

REPO = Path(__file__).resolve().parents[1]
#: Real files written by others (SCDL schemas and examples, ISO 19139 records, messy spreadsheets).
REFERENCE = REPO.parent / "shared" / "reference"
SCDL = REFERENCE / "scdl"
ISO = REFERENCE / "iso19139"
#: The ISO 19139 record the generated CSW catalogs are made from.
TEMPLATE = ISO / "owslib" / "csw_geobretagne_mdmetadata.xml"


def reference(path: Path) -> Path:
    """`path` under the reference folder, or skip the test naming what is missing."""
    if not path.exists():
        pytest.skip(f"reference data not found at {path.resolve()} (../shared/reference next to the repository)")
    return path


def make_schema(fields: list[dict[str, Any]], **extra: Any) -> TableSchemaRef:
    """A Table Schema built in code."""
    return TableSchemaRef(descriptor={"fields": fields, **extra}, name="test", version="1", source="test")


def text_frame(columns: dict[str, list[str | None]]) -> pd.DataFrame:
    """A frame of text columns, as extracts are."""
    return pd.DataFrame({k: pd.Series(v, dtype="string") for k, v in columns.items()})


def write_extract(path: Path, columns: dict[str, list[str | None]]) -> Path:
    """An extract's Parquet file with these text columns."""
    text_frame(columns).to_parquet(path, index=False)
    return path


def read_reference_csv(path: Path) -> pd.DataFrame:
    """A reference CSV with every cell as text and empty cells as nulls."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    return frame.replace("", None)


def salles_catalog(folder: Path, *, schema: str | None = None) -> Path:
    """A catalog publishing `folder/salles.csv` (dataset `salles`) to a local portal in `folder/portal`."""
    with_schema = f", schema: {schema}" if schema else ""
    path = folder / "catalog.yaml"
    path.write_text(textwrap.dedent(f"""\
        version: 1
        defaults: {{targets: [portail], metadata: {{license: lov2, title: Salles, description: Les salles}}}}
        sources: {{tableurs: {{connector: spreadsheet, config: {{root: .}}}}}}
        targets: {{portail: {{connector: local, config: {{path: ./portal, harvestable: false}}}}}}
        datasets:
          - {{id: salles, source: tableurs, locator: {{path: salles.csv}}{with_schema}}}
        """), encoding="utf-8")
    return path
