"""CSV files of checked rows: made once per publication, sent as the same bytes by every target.

The checked table holds text cells in the Table Schema's own representation (see `moisson.quality.layout`), which
are written unchanged; typed cells (a table built by hand) are written as Table Schema reads them back.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from moisson.core.lazy import lazy

# Imported by the local target, which `moisson check` loads for its `Config`: Arrow only when a file is written.
if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
else:
    np, pa, pc, pq = lazy("numpy"), lazy("pyarrow"), lazy("pyarrow.compute"), lazy("pyarrow.parquet")

#: Rows read from Parquet at a time, so a large table never sits whole in memory (a batch's lines, made by Arrow
#: kernels, take a few times its cells: 16,384 rows of 18 columns hold about 20 MB).
BATCH_ROWS = 16_384


def published_csv(data: Path) -> Path:
    """Where the CSV of the checked table `data` is made once, beside it, before any target sends it."""
    return data.with_suffix(".csv")


def write_csv(data: Path, dest: Path, dates: frozenset[str] = frozenset()) -> None:
    """Put the CSV of the checked table `data` at `dest`.

    When the publication's CSV was already made (and read back) beside `data`, `dest` gets its very bytes: every
    target sends the file that was verified. On the same file system `dest` is a hard link to it (a portal gets a
    file of hundreds of megabytes without copying it; that file is never written again, see `fresh`), else a copy.

    Args:
        data: Parquet file of the checked rows.
        dest: CSV file to write.
        dates: Columns that the Table Schema types as `date`, written without a time part when typed.
    """
    made = published_csv(data)
    if not made.is_file():
        render_csv(data, dest, dates)
        return
    try:
        os.link(made, dest)
    except OSError:  # another file system, one without links, or `dest` already there
        shutil.copyfile(made, dest)


def fresh(path: Path) -> Path:
    """`path` gone, so that what is written there next is a new file: an older one may be linked from a portal."""
    path.unlink(missing_ok=True)
    return path


def render_csv(data: Path, dest: Path, dates: frozenset[str] = frozenset(), *,
               written: Callable[[pa.RecordBatch, memoryview], None] | None = None) -> None:
    """Write the Parquet rows as UTF-8, comma-separated CSV with a header row, batch by batch.

    The bytes are those of Python's `csv.writer` (minimal quoting, line feeds), made with Arrow kernels
    instead of cell by cell.

    Args:
        data: Parquet file of the checked rows.
        dest: CSV file to write.
        dates: Columns that the Table Schema types as `date`, written without a time part when typed.
        written: Called with each batch and the very bytes written for its rows, as they are written.
    """
    parquet = pq.ParquetFile(data, pre_buffer=False)  # pre-buffered column chunks stay until the file closes
    names = parquet.schema_arrow.names
    header = io.StringIO()
    csv.writer(header, lineterminator="\n").writerow(names)
    with dest.open("wb") as out:
        out.write(header.getvalue().encode("utf-8"))
        for batch in parquet.iter_batches(batch_size=BATCH_ROWS):
            if batch.num_rows:
                lines = _lines(batch, dates)
                out.write(lines)
                if written:
                    written(batch, lines)


def _lines(batch: pa.RecordBatch, dates: frozenset[str]) -> memoryview:
    """The CSV lines of a batch, as one buffer."""
    cells = [_quoted(_texts(batch.column(i), name in dates)) for i, name in enumerate(batch.schema.names)]
    if len(cells) == 1:
        # csv.writer quotes a row made of one empty field, or it would read back as no row.
        cells[0] = pc.if_else(pc.equal(cells[0], ""), _text('""'), cells[0])
    rows = pc.binary_join_element_wise(*cells, _text(",")) if len(cells) > 1 else cells[0]
    lines = pc.binary_join_element_wise(rows, _text(""), _text("\n"))
    _, offsets, values = lines.buffers()
    ends = np.frombuffer(offsets, dtype=np.int64)[lines.offset:lines.offset + len(lines) + 1]
    return memoryview(values)[ends[0]:ends[-1]]


def _texts(column: pa.Array, as_date: bool) -> pa.Array:
    """A column's cells as text, nulls as empty: text as it is, typed values through `cell_text`."""
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return pc.fill_null(column.cast(pa.large_string()), "")
    return pa.array([cell_text(value, as_date) for value in column.to_pylist()], pa.large_string())


def _quoted(texts: pa.Array) -> pa.Array:
    """Quote the cells holding a comma, a quote or a line feed (quotes doubled), as csv.writer's minimal quoting."""
    # Most columns hold none of these bytes anywhere: one look at the whole buffer spares the regex.
    data = np.frombuffer(texts.buffers()[2] or b"", dtype=np.uint8)
    if not ((data == ord(",")) | (data == ord('"')) | (data == ord("\n"))).any():
        return texts
    needs = pc.match_substring_regex(texts, '[,"\n]')
    quoted = pc.binary_join_element_wise(_text('"'), pc.replace_substring(texts, '"', '""'), _text('"'), _text(""))
    return pc.if_else(needs, quoted, texts)


def _text(value: str) -> pa.Scalar:
    return pa.scalar(value, pa.large_string())


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
