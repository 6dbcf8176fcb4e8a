"""Reported rows are the file's rows, even after the source left out blank rows and repeated headers."""

from __future__ import annotations

import json
from pathlib import Path

from moisson.files import extracted
from moisson.quality.gate import report_frame
from moisson.quality.schema import load_schema

SCHEMA = {
    "fields": [
        {"name": "id", "type": "integer", "constraints": {"required": True}},
        {"name": "capacite", "type": "integer", "constraints": {"minimum": 0}},
    ]
}


def _errors(tmp_path: Path, text: str) -> list[tuple[int | None, str | None]]:
    (tmp_path / "schema.json").write_text(json.dumps(SCHEMA), encoding="utf-8")
    (tmp_path / "t.csv").write_text(text, encoding="utf-8")
    schema = load_schema("schema.json", schemas_dir=tmp_path, cache_dir=tmp_path / "cache")
    with extracted(tmp_path / "t.csv") as read:  # as `moisson validate` reads it
        report = report_frame(read.path, schema, first_row=read.first_row, row_gaps=read.row_gaps)
    return [(i.row, i.field) for i in report.errors]


def test_rows_after_blank_and_repeated_header_keep_their_file_numbers(tmp_path: Path) -> None:
    lines = ["id;capacite", "1;-1", "", "2;x", "id;capacite", ";;", "3;4", "4;-5"]
    assert _errors(tmp_path, "\n".join(lines) + "\n") == [(2, "capacite"), (4, "capacite"), (8, "capacite")]


def test_title_rows_above_the_header_shift_every_row(tmp_path: Path) -> None:
    lines = ["Commune de Moisson-sur-Lys;", "", "id;capacite", "1;2", "2;-3"]
    assert _errors(tmp_path, "\n".join(lines) + "\n") == [(5, "capacite")]
