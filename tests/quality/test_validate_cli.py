"""`moisson validate FILE --schema REF [--lang] [--json] [--no-normalise]`: verdicts, counts, warnings."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from moisson.cli import app

EXAMPLES = "subventions/exemples"


def run(*args: str):
    return CliRunner().invoke(app, ["validate", *args])


def write_schema(path: Path, fields: list[dict]) -> str:
    path.write_text(json.dumps({"fields": fields}), encoding="utf-8")
    return str(path)


def test_invalid_file_in_both_languages(scdl: Path, moisson_home: Path) -> None:
    args = [str(scdl / EXAMPLES / "exemple_invalide_erreurs_cellules.csv"), "--schema",
            str(scdl / "subventions" / "schema.json"), "--json"]
    english, french = run(*args, "--lang", "en"), run(*args)
    assert english.exit_code == french.exit_code == 1
    en, fr = json.loads(english.stdout), json.loads(french.stdout)
    assert set(en) == {"verdict", "rows", "error_count", "errors", "warnings", "normalised"}
    assert en["verdict"] == "invalid" and en["rows"] == 29 and en["error_count"] == len(en["errors"])
    assert set(en["errors"][0]) == {"row", "key", "field", "type", "message", "rule", "value"}
    # Same findings, different words.
    assert [(e["row"], e["field"], e["type"]) for e in en["errors"]] == \
        [(e["row"], e["field"], e["type"]) for e in fr["errors"]]
    first_en, first_fr = en["errors"][0]["message"], fr["errors"][0]["message"]
    assert first_en == "row 2, field pourcentageSubvention: 100 is above the maximum 1"
    assert first_fr == "ligne 2, champ pourcentageSubvention: 100 est supérieur au maximum 1"
    # The French dates of this file were rewritten: said, with an example, even though the file is invalid.
    assert {"field": "dateConvention", "count": 1, "example_from": "05/12/2016", "example_to": "2016-12-05"} \
        in en["normalised"]


def test_valid_file_and_bad_language(scdl: Path, moisson_home: Path) -> None:
    args = [str(scdl / EXAMPLES / "exemple_valide.csv"), "--schema", str(scdl / "subventions" / "schema.json")]
    result = run(*args)
    assert result.exit_code == 0 and "lignes, valide\n" in result.stdout
    assert json.loads(run(*args, "--json").stdout)["verdict"] == "valid"
    refused = run(*args, "--lang", "de")
    assert refused.exit_code == 2 and "--lang doit valoir fr ou en" in refused.stderr


def test_text_output_names_the_error_type_and_warnings(scdl: Path, moisson_home: Path) -> None:
    result = run(str(scdl / EXAMPLES / "exemple_invalide_erreurs_cellules.csv"), "--schema",
                 str(scdl / "subventions" / "schema.json"))
    assert result.exit_code == 1
    assert "29 lignes, 64 erreurs" in result.stdout
    assert "[constraint-error] ligne 2, champ" in result.stdout and "[custom-check-error]" in result.stdout
    assert "! le contrôle personnalisé 'french-siret-value' est déprécié" in result.stdout


def test_french_forms_are_valid_after_normalisation_only(tmp_path: Path, moisson_home: Path) -> None:
    schema = write_schema(tmp_path / "schema.json", [{"name": "d", "type": "date"}, {"name": "x", "type": "number"}])
    data = tmp_path / "data.csv"
    data.write_text('d,x\n05/12/2016,"1 200"\n2016-12-06,"99 786,57"\n2016-12-07,3\n', encoding="utf-8")
    fixed = run(str(data), "--schema", schema, "--json")
    assert fixed.exit_code == 0
    report = json.loads(fixed.stdout)
    assert report["verdict"] == "valid_after_normalisation" and report["errors"] == []
    assert report["normalised"] == [
        {"field": "d", "count": 1, "example_from": "05/12/2016", "example_to": "2016-12-05"},
        {"field": "x", "count": 2, "example_from": "1 200", "example_to": "1200"}]
    text = run(str(data), "--schema", schema, "--lang", "en")
    assert "3 rows, valid after normalising 3 cells (validata.fr would refuse the file as is" in text.stdout
    assert ", valid\n" not in text.stdout
    strict = run(str(data), "--schema", schema, "--no-normalise", "--json")
    assert strict.exit_code == 1
    found = json.loads(strict.stdout)
    assert found["verdict"] == "invalid" and found["normalised"] == []
    assert [(e["row"], e["field"], e["type"]) for e in found["errors"]] == [
        (2, "d", "type-error"), (2, "x", "type-error"), (3, "x", "type-error")]


def test_error_count_is_the_true_total_beyond_the_listed_errors(tmp_path: Path, moisson_home: Path) -> None:
    schema = write_schema(tmp_path / "schema.json", [{"name": "n", "type": "integer"}])
    data = tmp_path / "data.csv"
    data.write_text("n\n" + "x\n" * 2500, encoding="utf-8")
    report = json.loads(run(str(data), "--schema", schema, "--json").stdout)
    assert report["error_count"] == 2500 and 0 < len(report["errors"]) < 2500
    assert "2500 erreurs" in run(str(data), "--schema", schema).stdout


def test_missing_optional_column_is_a_warning(tmp_path: Path, moisson_home: Path) -> None:
    schema = write_schema(tmp_path / "schema.json", [{"name": "a", "type": "string"},
                                                     {"name": "commentaire", "type": "string"}])
    data = tmp_path / "data.csv"
    data.write_text("a\nx\n", encoding="utf-8")
    result = run(str(data), "--schema", schema, "--json", "--lang", "en")
    report = json.loads(result.stdout)
    assert result.exit_code == 0 and report["verdict"] == "valid"
    assert [(w["field"], w["type"], w["message"]) for w in report["warnings"]] == [
        ("commentaire", "missing-label", "optional column 'commentaire' is missing")]
    assert "! la colonne facultative 'commentaire' manque" in run(str(data), "--schema", schema).stdout


def test_the_verdict_agrees_with_one_row_and_one_error(tmp_path: Path, moisson_home: Path) -> None:
    schema = write_schema(tmp_path / "schema.json", [{"name": "n", "type": "integer"}])
    (tmp_path / "un.csv").write_text("n\n1\n", encoding="utf-8")
    (tmp_path / "faux.csv").write_text("n\nx\n", encoding="utf-8")
    french = run(str(tmp_path / "un.csv"), "--schema", schema).stdout
    assert french.startswith(f"{tmp_path / 'un.csv'} : 1 ligne, valide\n")
    english = run(str(tmp_path / "faux.csv"), "--schema", schema, "--lang", "en").stdout
    assert english.startswith(f"{tmp_path / 'faux.csv'}: 1 row, 1 error\n")
