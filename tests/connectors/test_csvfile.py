"""The CSV every target sends: text cells written as they are, made once and copied byte for byte."""

from __future__ import annotations

import csv
import datetime as dt
import errno
import io
import random

import pandas as pd
import pytest

from moisson.connectors import csvfile
from moisson.connectors.csvfile import fresh, published_csv, render_csv, write_csv
from tests.data import write_extract


def test_text_cells_are_written_as_they_are(tmp_path):
    data = write_extract(tmp_path / "clean.parquet", {"notificationUE": ["non", None], "montant": ["13760", "1.0"],
                                                      "coordonneesxy": ["[5.71,45.19]\n", " a, b "]})
    render_csv(data, tmp_path / "out.csv")
    assert (tmp_path / "out.csv").read_text(encoding="utf-8") == (
        'notificationUE,montant,coordonneesxy\nnon,13760,"[5.71,45.19]\n"\n,1.0," a, b "\n')


def test_typed_cells_are_written_as_table_schema_reads_them(tmp_path):
    data = tmp_path / "typed.parquet"
    pd.DataFrame({"n": [120.0, 1.5], "b": [True, False], "d": [dt.datetime(2024, 1, 5), dt.datetime(2024, 1, 5, 10)],
                  "x": [2.0, float("-inf")]}).to_parquet(data, index=False)
    render_csv(data, tmp_path / "out.csv", frozenset({"d"}))
    assert (tmp_path / "out.csv").read_text(encoding="utf-8").splitlines() == [
        "n,b,d,x", "120,true,2024-01-05,2", "1.5,false,2024-01-05T10:00:00,-INF"]


def test_a_target_copies_the_csv_made_for_the_publication(tmp_path):
    data = write_extract(tmp_path / "clean.parquet", {"a": ["1"]})
    write_csv(data, tmp_path / "first.csv")
    assert (tmp_path / "first.csv").read_bytes() == b"a\n1\n"
    published_csv(data).write_bytes(b"a\n1\n")  # the round trip wrote and checked this one
    before = published_csv(data).stat()
    write_csv(data, tmp_path / "sent.csv")
    assert (tmp_path / "sent.csv").read_bytes() == b"a\n1\n"
    assert published_csv(data).stat().st_mtime_ns == before.st_mtime_ns


def test_a_target_gets_the_verified_file_itself_without_a_copy(tmp_path):
    data = write_extract(tmp_path / "clean.parquet", {"a": ["1"]})
    published_csv(data).write_bytes(b"a\n1\n")
    write_csv(data, tmp_path / "portal.csv")
    assert (tmp_path / "portal.csv").stat().st_ino == published_csv(data).stat().st_ino
    fresh(published_csv(data)).write_bytes(b"a\n2\n")  # the next publication's file, made at the same place
    assert (tmp_path / "portal.csv").read_bytes() == b"a\n1\n"


def test_a_target_on_another_file_system_gets_a_copy(tmp_path, monkeypatch):
    def cross_device(source, dest):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    data = write_extract(tmp_path / "clean.parquet", {"a": ["1"]})
    published_csv(data).write_bytes(b"a\n1\n")
    monkeypatch.setattr(csvfile.os, "link", cross_device)
    write_csv(data, tmp_path / "portal.csv")
    assert (tmp_path / "portal.csv").read_bytes() == b"a\n1\n"
    assert (tmp_path / "portal.csv").stat().st_ino != published_csv(data).stat().st_ino


def _python_csv(columns: dict[str, list[str | None]]) -> bytes:
    """What csv.writer (the writer these bytes were first made with) writes for these text columns."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(zip(*[["" if v is None else v for v in values] for values in columns.values()], strict=True))
    return out.getvalue().encode("utf-8")


@pytest.mark.parametrize("width", [1, 3])
def test_the_arrow_writer_writes_the_bytes_of_csv_writer(tmp_path, monkeypatch, width):
    monkeypatch.setattr(csvfile, "BATCH_ROWS", 7)  # several batches, one of them short
    rng = random.Random(width)
    alphabet = ['a', 'é', ' ', ',', '"', '\n', '\r', '\t', ';', "'", '#', '€', '']
    columns = {f"c,{i}" if i else "col": [None if rng.random() < 0.1 else
                                          "".join(rng.choices(alphabet, k=rng.randrange(0, 5))) for _ in range(40)]
               for i in range(width)}
    columns[next(iter(columns))][:3] = ["", None, '""']
    data = write_extract(tmp_path / "clean.parquet", columns)
    render_csv(data, tmp_path / "out.csv")
    assert (tmp_path / "out.csv").read_bytes() == _python_csv(columns)


def test_an_empty_table_is_its_header(tmp_path):
    data = write_extract(tmp_path / "clean.parquet", {"a": [], "b": []})
    render_csv(data, tmp_path / "out.csv")
    assert (tmp_path / "out.csv").read_bytes() == b"a,b\n"
