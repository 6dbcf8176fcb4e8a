"""CSV files of checked rows, written the same way by every target that publishes a CSV."""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

#: Rows read from Parquet at a time, so a large table never sits whole in memory.
BATCH_ROWS = 10_000


def write_csv(data: Path, dest: Path, dates: frozenset[str] = frozenset()) -> None:
    """Write the Parquet rows as UTF-8, comma-separated CSV with a header row, batch by batch.

    Args:
        data: Parquet file of the checked, typed rows.
        dest: CSV file to write.
        dates: Columns that the Table Schema types as `date`, written without a time part.
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
    """Format one cell for the CSV as Table Schema reads it back (ISO dates, true/false, no `.0`)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        return repr(value) if math.isfinite(value) else ("INF" if value > 0 else "-INF")
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if as_date and value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)
