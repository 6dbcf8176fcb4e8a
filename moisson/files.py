"""Read one file a data officer hands in (CSV, XLSX, ODS…) as the text frame the gate checks."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from moisson.connectors.base import DatasetDescriptor, Extract, RowFinding
from moisson.connectors.sources.spreadsheet import SpreadsheetSource
from moisson.quality.gate import read_text_table


@dataclass
class TextFile:
    """A file read as text, with what the reading noticed.

    Attributes:
        frame: Every column as text, nulls for empty cells.
        first_row: Row number, in the file, of the first data row.
        row_gaps: Rows of the file left out (blank rows, repeated headers), as `Extract.row_gaps` says.
        notes: What the reader did (renamed duplicate labels, skipped title rows…).
        findings: Rows out of shape (extra or missing cells, blank rows, repeated headers), as
            `Extract.findings` says.
    """

    frame: pd.DataFrame
    first_row: int
    row_gaps: tuple[tuple[int, int], ...]
    notes: list[str]
    findings: tuple[RowFinding, ...] = ()


@contextmanager
def extracted(path: Path, *, sheet: str | None = None) -> Iterator[Extract]:
    """The extract of `path`: a Parquet file of text columns in a temporary folder, which the gate reads by chunks.

    The file is read the way the spreadsheet source does in the pipeline (magic bytes, encoding, delimiter).

    Raises:
        NotFoundError: No such file.
        RejectedError: The file cannot be read as a table.
    """
    source = SpreadsheetSource(SpreadsheetSource.Config(root=path.resolve().parent))
    locator = {"path": path.name} | ({"sheet": sheet} if sheet else {})
    with tempfile.TemporaryDirectory() as tmp:
        yield source.extract(DatasetDescriptor(id="file", locator=locator), Path(tmp))


def read_file(path: Path, *, sheet: str | None = None) -> TextFile:
    """Read the whole of `path` as the spreadsheet source does (see `extracted`).

    Raises:
        NotFoundError: No such file.
        RejectedError: The file cannot be read as a table.
    """
    with extracted(path, sheet=sheet) as extract:
        frame, _ = read_text_table(extract.path)
    return TextFile(frame=frame, first_row=extract.first_row, row_gaps=extract.row_gaps,
                    notes=list(extract.notes), findings=extract.findings)
