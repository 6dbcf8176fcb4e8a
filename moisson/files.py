"""Read one file a data officer hands in (CSV, XLSX, ODS…) as the extract the gate checks, chunk by chunk."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from moisson.connectors.base import DatasetDescriptor, Extract
from moisson.connectors.sources.spreadsheet import SpreadsheetSource


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

