"""Normalisation is visible (JSON, HTML, the Prefect artifact's Markdown) and chosen (the catalog's `normalise`)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from moisson.quality.gate import check_table
from moisson.quality.policy import QualityPolicy
from tests.data import make_schema, write_extract

SCHEMA = make_schema([{"name": "date", "type": "date"}, {"name": "montant", "type": "number"},
                      {"name": "code", "type": "string"}])
COLUMNS = {"date": ["05/12/2016", "2016-12-06", "31/01/2017"], "montant": ["1 200", "99 786,57", "3"],
           "code": ["01 234", "05/12/2016", "x"]}


def checked(tmp_path: Path, **policy: object):
    data = write_extract(tmp_path / "extract.parquet", COLUMNS)
    return check_table(data, dataset_id="subventions", schema=SCHEMA, policy=QualityPolicy(**policy),
                       out_dir=tmp_path / "out")


def test_rewritten_cells_are_reported_per_column_with_examples(tmp_path: Path) -> None:
    result = checked(tmp_path, lang="en")
    assert result.success and result.verdict == "valid_after_normalisation"
    expected = [{"field": "date", "count": 2, "example_from": "05/12/2016", "example_to": "2016-12-05"},
                {"field": "montant", "count": 2, "example_from": "1 200", "example_to": "1200"}]
    saved = json.loads(result.report_json.read_text(encoding="utf-8"))
    assert saved["verdict"] == "valid_after_normalisation" and saved["normalised"] == expected
    markdown = result.to_markdown()
    assert "### Normalised cells" in markdown and "| montant | 2 | 1 200 | 1200 |" in markdown
    assert "no error after normalising 4 cells" in markdown
    page = result.report_html.read_text(encoding="utf-8")
    assert "<h2>Normalised cells</h2>" in page and "<td>05/12/2016</td><td>2016-12-05</td>" in page
    # The published table holds the fixed values; text columns keep their exact text.
    clean = pd.read_parquet(result.clean_path)
    assert [float(v) for v in clean["montant"]] == [1200.0, 99786.57, 3.0] and clean["code"].tolist()[1] == "05/12/2016"


def test_normalisation_off_makes_french_forms_errors_as_in_validata(tmp_path: Path) -> None:
    result = checked(tmp_path, normalise=False)
    assert not result.success and result.verdict == "invalid" and result.normalised == []
    assert {(i.row, i.field, i.type) for i in result.errors} == {
        (2, "date", "type-error"), (4, "date", "type-error"), (2, "montant", "type-error"),
        (3, "montant", "type-error")}
    assert "normalis" not in result.to_markdown()


def test_blank_rows_the_reader_left_out_are_listed_in_every_report(tmp_path: Path) -> None:
    from moisson.connectors.base import RowFinding

    data = write_extract(tmp_path / "extract.parquet", COLUMNS)
    result = check_table(data, dataset_id="subventions", schema=SCHEMA, policy=QualityPolicy(lang="en"),
                         out_dir=tmp_path / "out", findings=[RowFinding("blank-row", (3,), 1)])
    assert any(n.field is None for n in result.normalised)
    assert "<h2>Normalised cells</h2>" in result.report_html.read_text(encoding="utf-8")
    assert "| — | 1 |" in result.to_markdown()
