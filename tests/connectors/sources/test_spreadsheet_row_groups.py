"""The extract's row groups, written by a background thread while the next rows are read."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pyarrow.parquet as pq
import pytest

from moisson.connectors import tabular as tabular_io
from moisson.connectors.base import DatasetDescriptor
from moisson.connectors.sources.spreadsheet import SpreadsheetSource
from moisson.core.errors import UnavailableError


def extract(root: Path, name: str) -> Path:
    source = SpreadsheetSource(SpreadsheetSource.Config(root=root))
    return source.extract(DatasetDescriptor(id="jeu-test", locator={"path": name}), root / "out").path


def test_row_groups_keep_the_file_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tabular_io, "CHUNK_ROWS", 5)
    monkeypatch.setattr(tabular_io, "BLOCK_BYTES", 64)  # many blocks, so many row groups in flight one after another
    lines = ["n;texte"] + [f"{i};ligne {i}" for i in range(300)]
    (tmp_path / "f.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    path = extract(tmp_path, "f.csv")
    assert pq.read_table(path).to_pydict() == {"n": [str(i) for i in range(300)],
                                               "texte": [f"ligne {i}" for i in range(300)]}
    assert pq.ParquetFile(path).metadata.num_row_groups >= 20


@pytest.mark.parametrize("name", ["f.xlsx", "f.csv"])
def test_a_failed_row_group_write_is_said_to_be_the_disks_not_the_files(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch,
                                                                        name: str) -> None:
    monkeypatch.setattr(tabular_io, "CHUNK_ROWS", 5)
    if name.endswith(".xlsx"):
        book = openpyxl.Workbook()
        book.active.append(["n", "texte"])
        for i in range(30):
            book.active.append([i, f"ligne {i}"])
        book.save(tmp_path / name)
    else:
        (tmp_path / name).write_text("n;texte\n" + "".join(f"{i};ligne {i}\n" for i in range(30)), encoding="utf-8")

    def full(*_: object, **__: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pq.ParquetWriter, "write_table", full)
    with pytest.raises(UnavailableError, match=rf"l'extrait de .*{name} ne peut pas être écrit .*No space left on "
                                               "device.*libérez de la place") as raised:
        extract(tmp_path, name)
    assert raised.value.dataset_id == "jeu-test"
    assert "gzip" not in str(raised.value)
    assert not list((tmp_path / "out").iterdir())  # neither the extract nor its temporary file
