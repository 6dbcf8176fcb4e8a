"""Read one file a data officer hands in (CSV, XLSX, ODS…) as the text frame the gate checks."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from moisson.connectors.base import DatasetDescriptor, RowFinding
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


def read_file(path: Path, *, sheet: str | None = None) -> TextFile:
    """Read `path` the way the spreadsheet source does in the pipeline (magic bytes, encoding, delimiter).

    Raises:
        NotFoundError: No such file.
        RejectedError: The file cannot be read as a table.
    """
    source = SpreadsheetSource(SpreadsheetSource.Config(root=path.resolve().parent))
    locator = {"path": path.name} | ({"sheet": sheet} if sheet else {})
    with tempfile.TemporaryDirectory() as tmp:
        extract = source.extract(DatasetDescriptor(id="file", locator=locator), Path(tmp))
        frame, _ = read_text_table(extract.path)
    return TextFile(frame=frame, first_row=extract.first_row, row_gaps=extract.row_gaps,
                    notes=list(extract.notes), findings=extract.findings)
