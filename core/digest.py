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

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

#: Rows hashed at a time: other columns than text become pandas objects, about ten times bigger than in Arrow.
HASH_ROWS = 16_384
#: The text types: hashed from Arrow (`_text_hashes`), and left Arrow when a batch's other columns become pandas.
ARROW_TEXT = {kind: pd.ArrowDtype(kind) for kind in (pa.string(), pa.large_string())}
#: The hash pandas gives a null text.
NULL_HASH = np.iinfo(np.uint64).max


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
            self._sha.update(_row_hashes(batch).tobytes())

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


def _row_hashes(batch: pa.RecordBatch) -> np.ndarray:
    """Each row's 64-bit hash, as `pandas.util.hash_pandas_object(frame, index=False)` gives it.

    Columns are combined as pandas combines them (`combine_hash_arrays` of `pandas.core.util.hashing`). pandas
    hashes text through Python strings, then their UTF-8 bytes (most of a digest's time, and it holds the
    interpreter lock the checks need): the distinct texts are hashed here from Arrow's bytes directly, to the same
    values.
    """
    frame = None
    combined = np.full(batch.num_rows, 0x345678, dtype=np.uint64)
    factor = np.uint64(1000003)
    for i, field in enumerate(batch.schema):  # uint64 arithmetic wraps around, as in pandas
        if field.type in ARROW_TEXT:
            hashes = _text_hashes(batch.column(i))
        else:
            frame = batch.to_pandas(types_mapper=ARROW_TEXT.get) if frame is None else frame
            hashes = pd.util.hash_pandas_object(frame.iloc[:, i], index=False).to_numpy()
        combined ^= hashes
        combined *= factor
        factor += np.uint64(82520 + 2 * (batch.num_columns - i))
    return combined + np.uint64(97531)


def _text_hashes(column: pa.Array) -> np.ndarray:
    """The hashes pandas gives a text column's cells, each distinct text hashed once from its bytes."""
    encoded = pc.dictionary_encode(column)
    hashed = pd.util.hash_array(encoded.dictionary.cast(pa.large_binary()).to_numpy(zero_copy_only=False),
                                categorize=False)
    hashes = hashed.take(encoded.indices.fill_null(0).to_numpy()) if len(hashed) else np.zeros(len(column),
                                                                                                 np.uint64)
    hashes[encoded.indices.is_null().to_numpy(zero_copy_only=False)] = NULL_HASH
    return hashes
