"""`clean.parquet`, the table to publish, written chunk by chunk with its rows' digest while the next is checked."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from moisson.core.digest import RowsDigest


class CleanTable:
    """Writes the published cells to Parquet and computes their `RowsDigest`, in a thread, one chunk at a time.

    Arrow encodes and compresses a row group without the GIL, and the digest is mostly numpy: both run while the
    gate checks the next chunk, so one chunk at most waits in memory. Use it as a context manager.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._digest: str | None = None
        self._writer: pq.ParquetWriter | None = None
        self._rows: RowsDigest | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clean-table")
        self._writing: Future[None] | None = None

    @property
    def digest(self) -> str:
        """The digest of the rows written, once the table is closed."""
        if self._digest is None:
            raise RuntimeError("the clean table is not written yet")
        return self._digest

    def __enter__(self) -> CleanTable:
        return self

    def add(self, published: pd.DataFrame) -> None:
        """Append a chunk (the file is opened with the first chunk's columns)."""
        table = pa.Table.from_pandas(published, preserve_index=False)
        if self._writer is None:
            # A column null in the first chunk is text all the same (as every published column but the geometry).
            schema = pa.schema([f.with_type(pa.string()) if pa.types.is_null(f.type) else f for f in table.schema],
                               metadata=table.schema.metadata)
            self._writer, self._rows = pq.ParquetWriter(self.path, schema), RowsDigest(schema)
        table = table.cast(self._writer.schema)
        self._wait()
        self._writing = self._pool.submit(_write, self._writer, self._rows, table)

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        try:
            self._wait()
        finally:
            self._pool.shutdown()
            if self._writer is not None:
                self._writer.close()
        if kind is None and self._rows is not None:
            self._digest = self._rows.hexdigest()

    def _wait(self) -> None:
        """Wait for the chunk being written; its error (a full disk) is raised here."""
        if self._writing is not None:
            writing, self._writing = self._writing, None
            writing.result()


def _write(writer: pq.ParquetWriter, rows: RowsDigest, table: pa.Table) -> None:
    writer.write_table(table)
    rows.add(table)
