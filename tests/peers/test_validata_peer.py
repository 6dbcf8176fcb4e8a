"""The real Validata peer (`validata_peer.py`): what Validata 0.12.5 says about valid and broken files.

These pin the facts a parity test relies on (row numbering, error types, which column problems are only
warnings, French-formatted values). Each fixture validates all its files in one Validata process.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.peers.validata_peer import ValidataPeerError, ValidataResult, available, positions, validate

pytestmark = pytest.mark.skipif(not available(), reason="Validata is not installed: run scripts/peer-validata")

REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference"
SUBVENTIONS = REFERENCE / "scdl" / "subventions"
needs_reference = pytest.mark.skipif(not (SUBVENTIONS / "schema.json").exists(),
                                     reason=f"SCDL reference data not found under {REFERENCE}")

SCHEMA = {
    "fields": [
        {"name": "id", "type": "integer", "constraints": {"required": True}},
        {"name": "actif", "type": "boolean"},
        {"name": "date", "type": "date"},
        {"name": "montant", "type": "number"},
        {"name": "nom", "type": "string"},
    ]
}
HEADER = "id,actif,date,montant,nom\n"
SYNTHETIC = {
    "types.csv": HEADER + "1,true,2016-12-05,12.5,a\n2,oui,2016-12-05,1,b\n3,false,2016-02-30,2,c\n",
    "french.csv": HEADER + "1,true,2016-12-05,NaN,a\n2,true,05/12/2016,1,b\n3,false,2016-12-05,1 200,c\n"
                           "4,false,2016-12-05,INF,d\n",
    "extra.csv": "id,actif,date,montant,nom,commentaire\n1,true,2016-12-05,1,a,z\n",
    "missing_optional.csv": "id,actif,date,nom\n1,true,2016-12-05,a\n",
    "missing_required.csv": "actif,date,montant,nom\ntrue,2016-12-05,1,a\n",
    "disordered.csv": "nom,id,actif,date,montant\na,1,true,2016-12-05,1\n",
    "header_case.csv": "ID,actif,date,montant,nom\n1,true,2016-12-05,1,a\n",
    "ragged.csv": HEADER + "1,true,2016-12-05,1\n2,true,2016-12-05,1,b,surplus\n",
    # line 3 blank, lines 5-6 one record (quoted newline), line 7 a bad boolean, line 8 blank cells
    "rows.csv": HEADER + '1,true,2016-12-05,1,a\n\n2,x,2016-12-05,1,b\n3,true,2016-12-05,1,"deux\nlignes"\n'
                         "4,y,2016-12-05,1,c\n,,,,\n",
    "notes.txt": "not a table\n",
}
YAML_SCHEMA = """fields:
  - name: id
    type: integer
  - name: actif
    type: boolean
"""


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ValidataResult]:
    folder = tmp_path_factory.mktemp("validata-synthetic")
    schema = folder / "schema.json"
    schema.write_text(json.dumps(SCHEMA), encoding="utf-8")
    files = []
    for name, text in SYNTHETIC.items():
        (folder / name).write_text(text, encoding="utf-8")
        files.append(folder / name)
    results = validate(schema, files)
    return {Path(r["file"]).name: r for r in results}


def _rewrite(source: Path, target: Path, change) -> Path:
    """Copy a CSV file through `change(rows)`, which edits the list of rows (header first) in place."""
    with source.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    change(rows)
    with target.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)
    return target


def _set(rows: list[list[str]], row: int, column: str, value: str) -> None:
    """Set a cell; `row` is Validata's row number (header = 1)."""
    rows[row - 1][rows[0].index(column)] = value


def _drop_column(rows: list[list[str]], column: str) -> None:
    index = rows[0].index(column)
    for row in rows:
        del row[index]


@pytest.fixture(scope="module")
def scdl(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ValidataResult]:
    if not (SUBVENTIONS / "schema.json").exists():
        pytest.skip(f"SCDL reference data not found under {REFERENCE}")
    folder = tmp_path_factory.mktemp("validata-scdl")
    valid = SUBVENTIONS / "exemples" / "exemple_valide.csv"

    def types(rows: list[list[str]]) -> None:
        _set(rows, 3, "notificationUE", "peut-être")
        _set(rows, 5, "dateConvention", "2015-02-30")

    def structure(rows: list[list[str]]) -> None:
        _drop_column(rows, "nomBeneficiaire")  # required
        for i, row in enumerate(rows):
            row.append("commentaire" if i == 0 else "rien")

    def french(rows: list[list[str]]) -> None:
        _set(rows, 2, "montant", "NaN")
        _set(rows, 3, "dateConvention", "05/12/2016")
        _set(rows, 4, "montant", "1 200")

    files = [
        valid,
        _rewrite(valid, folder / "types.csv", types),
        _rewrite(valid, folder / "structure.csv", structure),
        _rewrite(valid, folder / "french.csv", french),
    ]
    results = validate(SUBVENTIONS / "schema.json", files)
    return {Path(r["file"]).name: r for r in results}


# (a) valid reference examples


@needs_reference
def test_scdl_valid_example_is_valid(scdl: dict[str, ValidataResult]) -> None:
    result = scdl["exemple_valide.csv"]
    with (SUBVENTIONS / "exemples" / "exemple_valide.csv").open(encoding="utf-8", newline="") as f:
        data_rows = sum(1 for _ in csv.reader(f)) - 1
    assert result["valid"] is True
    assert (result["error_count"], result["errors"], result["rows"]) == (0, [], data_rows)
    # the schema's custom_checks use the old name `french-siret-value`: accepted, with a warning each
    assert result["warnings"] and all("french-siret-value" in w and "déprécié" in w for w in result["warnings"])


@needs_reference
@pytest.mark.parametrize("name", sorted(p.name for p in (REFERENCE / "scdl").glob("futurocite-wallonie-*")))
def test_other_scdl_valid_examples_are_valid(name: str) -> None:
    folder = REFERENCE / "scdl" / name
    [result] = validate(folder / "schema.json", [folder / "exemple-valide.csv"])
    assert result["valid"] is True, result["errors"][:5]


@needs_reference
def test_unknown_custom_check_name_makes_every_file_invalid() -> None:
    folder = REFERENCE / "scdl" / "stationnement-cyclable"
    [result] = validate(folder / "schema.json", [folder / "exemple-valide.csv"])
    assert positions(result) == [(None, None, "check-error")]
    assert result["errors"][0]["title"] == "Custom Check Inconnu"
    assert "french_gps_coordinates" in result["errors"][0]["message"]


# (b) cell errors: row, field, type


def test_wrong_boolean_and_wrong_date(synthetic: dict[str, ValidataResult]) -> None:
    result = synthetic["types.csv"]
    assert result["valid"] is False
    assert positions(result) == [(3, "actif", "type-error"), (4, "date", "type-error")]
    assert [e["cell"] for e in result["errors"]] == ["oui", "2016-02-30"]
    assert result["errors"][0]["title"] == "Valeur booléenne incorrecte"
    assert result["errors"][1]["title"] == "Format de date incorrect"
    assert result["error_count"] == 2 and result["rows"] == 3


@needs_reference
def test_scdl_wrong_boolean_and_wrong_date(scdl: dict[str, ValidataResult]) -> None:
    assert positions(scdl["types.csv"]) == [(3, "notificationUE", "type-error"), (5, "dateConvention", "type-error")]


def test_row_numbers_count_records_with_the_header_as_row_1(synthetic: dict[str, ValidataResult]) -> None:
    result = synthetic["rows.csv"]
    # the bad boolean `y` is on file line 8 but record 7: the quoted newline made one record of lines 5-6
    assert positions(result) == [(3, None, "blank-row"), (4, "actif", "type-error"), (6, "actif", "type-error"),
                                 (7, None, "blank-row")]
    assert result["rows"] == 6  # blank rows included


# (c) structure


def test_extra_column_is_only_a_warning(synthetic: dict[str, ValidataResult]) -> None:
    result = synthetic["extra.csv"]
    assert result["valid"] is True and result["errors"] == []
    assert result["warnings"] == ["Colonne surnuméraire : Retirez la colonne `commentaire` non définie dans le schéma."]


def test_missing_required_column_is_a_missing_label_error(synthetic: dict[str, ValidataResult]) -> None:
    result = synthetic["missing_required.csv"]
    assert positions(result) == [(None, "id", "missing-label")]
    assert result["errors"][0]["message"] == "La colonne obligatoire `id` est manquante"


def test_missing_optional_column_is_only_a_warning(synthetic: dict[str, ValidataResult]) -> None:
    result = synthetic["missing_optional.csv"]
    assert result["valid"] is True
    assert result["warnings"] == ["Colonne manquante : Ajoutez la colonne manquante `montant`."]


def test_disordered_columns_are_matched_by_name(synthetic: dict[str, ValidataResult]) -> None:
    result = synthetic["disordered.csv"]
    assert result["valid"] is True
    assert [w.split(" :")[0] for w in result["warnings"]] == ["Colonnes désordonnées"]


def test_header_case_is_not_ignored(synthetic: dict[str, ValidataResult]) -> None:
    result = synthetic["header_case.csv"]
    assert positions(result) == [(None, "id", "missing-label")]
    assert result["warnings"] == ["Colonne surnuméraire : Retirez la colonne `ID` non définie dans le schéma."]


@needs_reference
def test_scdl_missing_required_and_extra_column(scdl: dict[str, ValidataResult]) -> None:
    result = scdl["structure.csv"]
    assert positions(result)[0] == (None, "nomBeneficiaire", "missing-label")
    assert not [e for e in result["errors"] if e["field"] == "commentaire"]
    assert "Colonne surnuméraire : Retirez la colonne `commentaire` non définie dans le schéma." in result["warnings"]


def test_ragged_rows(synthetic: dict[str, ValidataResult]) -> None:
    assert positions(synthetic["ragged.csv"]) == [(2, "nom", "missing-cell"), (3, "", "extra-cell")]


def test_unreadable_file_is_one_error(synthetic: dict[str, ValidataResult]) -> None:
    result = synthetic["notes.txt"]
    assert positions(result) == [(None, None, "format-error")] and result["rows"] is None


# (d) NaN, French dates and numbers


def test_french_values(synthetic: dict[str, ValidataResult]) -> None:
    result = synthetic["french.csv"]
    # NaN (row 2) and INF (row 5) are numbers; 05/12/2016 and `1 200` are type errors
    assert positions(result) == [(3, "date", "type-error"), (4, "montant", "type-error")]
    date, number = result["errors"]
    assert (date["cell"], date["title"], date["message"]) == (
        "05/12/2016", "Format de date incorrect", "La forme attendue est `2016-12-05` (`default`)")
    assert (number["cell"], number["title"], number["message"]) == (
        "1 200", "Format de nombre incorrect",
        "La valeur ne doit comporter que des chiffres et le point comme séparateur décimal")


@needs_reference
def test_scdl_french_values(scdl: dict[str, ValidataResult]) -> None:
    assert positions(scdl["french.csv"]) == [(3, "dateConvention", "type-error"), (4, "montant", "type-error")]


# the wrapper itself


def test_yaml_schema(tmp_path: Path) -> None:
    (tmp_path / "schema.yaml").write_text(YAML_SCHEMA, encoding="utf-8")
    (tmp_path / "data.csv").write_text("id,actif\n1,true\nx,1\n", encoding="utf-8")
    [result] = validate(tmp_path / "schema.yaml", [tmp_path / "data.csv"])
    assert positions(result) == [(3, "id", "type-error")]


def test_no_files_starts_no_process() -> None:
    assert validate(Path("/nonexistent/schema.json"), []) == []


def test_failure_reports_stderr(tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text("id\n1\n", encoding="utf-8")
    with pytest.raises(ValidataPeerError, match="FileNotFoundError"):
        validate(tmp_path / "missing-schema.json", [tmp_path / "data.csv"])
