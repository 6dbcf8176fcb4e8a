"""The digest of a checked table's rows: streamed in small batches, and the same digest as every earlier release.

A digest that changed would make every published dataset look changed, and republish it, on the next run.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from moisson.core import digest

#: The digest of `table()` as moisson computed it with 100,000-row batches, before the batches were made small.
PINNED = "e6d7763762f6c37d"


def table() -> pa.Table:
    return pa.table({"nom": pa.array([f"Association n° {i}" if i % 5 else None for i in range(1000)], pa.string()),
                     "montant": pa.array([f"{i},50" for i in range(1000)], pa.string())})


@pytest.mark.parametrize("rows", [3, 16_384, 100_000])
def test_the_digest_does_not_depend_on_the_batches(rows: int, tmp_path: Path, monkeypatch) -> None:
    pq.write_table(table(), tmp_path / "t.parquet", row_group_size=100)
    monkeypatch.setattr(digest, "HASH_ROWS", rows)
    assert digest.parquet_digest(tmp_path / "t.parquet")[:16] == PINNED


@pytest.mark.parametrize("parts", [1, 7, 1000])
def test_rows_fed_in_parts_give_the_digest_of_the_file(parts: int, tmp_path: Path) -> None:
    rows = digest.RowsDigest(table().schema)
    for start in range(0, 1000, 1000 // parts):
        rows.add(table().slice(start, 1000 // parts))
    assert rows.hexdigest()[:16] == PINNED
