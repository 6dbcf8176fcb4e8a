"""The digest of a checked table's rows: streamed in small batches, and the same digest as every earlier release.

A digest that changed would make every published dataset look changed, and republish it, on the next run.
"""

from __future__ import annotations

import datetime
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


#: The digests of `mixed()` and of two rows without columns, as moisson computed them before text was hashed from Arrow.
PINNED_MIXED, PINNED_NO_COLUMN = "6c0da48049b792b7", "3d064658789ce1c9"


def mixed() -> pa.Table:
    """Text, a geometry's bytes, numbers, booleans and dates, with nulls: whatever a checked table may hold."""
    n = 500
    return pa.table({
        "nom": pa.array([f"Rue {i}" if i % 7 else None for i in range(n)], pa.large_string()),
        "geometrie": pa.array([bytes([1, i % 256, 0]) if i % 11 else None for i in range(n)], pa.binary()),
        "effectif": pa.array([i if i % 3 else None for i in range(n)], pa.int64()),
        "taux": pa.array([i / 7 for i in range(n)], pa.float64()),
        "ouvert": pa.array([i % 2 == 0 for i in range(n)], pa.bool_()),
        "date": pa.array([datetime.date(2024, 1, 1) + datetime.timedelta(days=i) for i in range(n)], pa.date32()),
    })


def test_every_kind_of_column_keeps_its_digest() -> None:
    rows = digest.RowsDigest(mixed().schema)
    rows.add(mixed())
    assert rows.hexdigest()[:16] == PINNED_MIXED
    empty = digest.RowsDigest(pa.schema([]))
    empty.add(pa.table({"a": [1, 2]}).drop(["a"]))
    assert empty.hexdigest()[:16] == PINNED_NO_COLUMN


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
