"""The digest of a table's rows and columns, which tells whether a publication changed.

Not the digest of a file's bytes, which embed writer details: the column names and types, then each row's own
hash in order, so that it does not depend on how the rows are cut into batches or row groups. The quality
check computes it while it writes the checked table (`quality.gate`); the flow compares it with the one the
state store kept from the last publication.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

#: Rows hashed at a time: other columns than text become pandas objects, about ten times bigger than in Arrow.
HASH_ROWS = 16_384
# Text columns stay Arrow: pandas hashes them from a dictionary encoding, to the values objects give
# (`tests/core/test_digest.py` pins them), 15 % faster at 1,000,000 rows.
ARROW_TEXT = {kind: pd.ArrowDtype(kind) for kind in (pa.string(), pa.large_string())}


class RowsDigest:
    """sha256 of a table fed a part at a time (`add`), in row order, as the Parquet file written from it reads back.

    Args:
        schema: The table's Arrow schema, as written (its pandas metadata tells how the rows are read back).
    """

    def __init__(self, schema: pa.Schema) -> None:
        self._sha = hashlib.sha256(json.dumps([f"{f.name}:{f.type}" for f in schema]).encode())

    def add(self, rows: pa.Table | pa.RecordBatch) -> None:
        """Hash the next rows."""
        for batch in rows.to_batches(max_chunksize=HASH_ROWS) if isinstance(rows, pa.Table) else [rows]:
            frame = batch.to_pandas(types_mapper=ARROW_TEXT.get)
            self._sha.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())

    def hexdigest(self) -> str:
        """The digest of every row added so far."""
        return self._sha.hexdigest()


def parquet_digest(path: Path) -> str:
    """`RowsDigest` of a Parquet file, read a few rows at a time."""
    parquet = pq.ParquetFile(path, pre_buffer=False)  # pre-buffered column chunks stay until the file closes
    digest = RowsDigest(parquet.schema_arrow)
    for batch in parquet.iter_batches(batch_size=HASH_ROWS):
        digest.add(batch)
    return digest.hexdigest()
