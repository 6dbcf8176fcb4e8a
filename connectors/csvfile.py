"""CSV files of checked rows: made once per publication, sent as the same bytes by every target.

The checked table holds text cells in the Table Schema's own representation (see `moisson.quality.layout`), which
are written unchanged; typed cells (a table built by hand) are written as Table Schema reads them back.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import shutil
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

#: Rows read from Parquet at a time, so a large table never sits whole in memory.
BATCH_ROWS = 10_000


def published_csv(data: Path) -> Path:
    """Where the CSV of the checked table `data` is made once, beside it, before any target sends it."""
    return data.with_suffix(".csv")


def write_csv(data: Path, dest: Path, dates: frozenset[str] = frozenset()) -> None:
    """Put the CSV of the checked table `data` at `dest`.

    When the publication's CSV was already made (and read back) beside `data`, `dest` gets a copy of its bytes:
    every target sends the very file that was verified.

    Args:
        data: Parquet file of the checked rows.
        dest: CSV file to write.
        dates: Columns that the Table Schema types as `date`, written without a time part when typed.
    """
    made = published_csv(data)
    if made.is_file():
        shutil.copyfile(made, dest)
    else:
        render_csv(data, dest, dates)


def render_csv(data: Path, dest: Path, dates: frozenset[str] = frozenset()) -> None:
    """Write the Parquet rows as UTF-8, comma-separated CSV with a header row, batch by batch.

    Args:
        data: Parquet file of the checked rows.
        dest: CSV file to write.
        dates: Columns that the Table Schema types as `date`, written without a time part when typed.
    """
    parquet = pq.ParquetFile(data)
    names = parquet.schema_arrow.names
    with dest.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(names)
        for batch in parquet.iter_batches(batch_size=BATCH_ROWS):
            columns = [[cell_text(value, name in dates) for value in batch.column(name).to_pylist()]
                       for name in names]
            writer.writerows(zip(*columns, strict=True))


def cell_text(value: Any, as_date: bool) -> str:
    """Format one cell for the CSV: text as it is; a typed value as Table Schema reads it (ISO dates, no `.0`)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if not math.isfinite(value):
            return "INF" if value > 0 else "-INF"
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if as_date and value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)
