"""`moisson validate FILE --schema REF [--lang] [--json]` on the official subventions examples."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from moisson.cli import app

EXAMPLES = "subventions/exemples"


def run(*args: str):
    return CliRunner().invoke(app, ["validate", *args])


def test_invalid_file_in_both_languages(scdl: Path, moisson_home: Path) -> None:
    args = [str(scdl / EXAMPLES / "exemple_invalide_erreurs_cellules.csv"), "--schema",
            str(scdl / "subventions" / "schema.json"), "--json"]
    english, french = run(*args, "--lang", "en"), run(*args)
    assert english.exit_code == french.exit_code == 1
    en, fr = json.loads(english.stdout), json.loads(french.stdout)
    assert set(en) == {"valid", "rows", "errors"} and en["valid"] is False and en["rows"] == 29
    assert set(en["errors"][0]) == {"row", "key", "field", "type", "message", "rule", "value"}
    # Same findings, different words.
    assert [(e["row"], e["field"], e["type"]) for e in en["errors"]] == \
        [(e["row"], e["field"], e["type"]) for e in fr["errors"]]
    first_en, first_fr = en["errors"][0]["message"], fr["errors"][0]["message"]
    assert first_en == "row 2, field pourcentageSubvention: 100 is above the maximum 1"
    assert first_fr == "ligne 2, champ pourcentageSubvention: 100 est supérieur au maximum 1"


def test_valid_file_and_bad_language(scdl: Path, moisson_home: Path) -> None:
    args = [str(scdl / EXAMPLES / "exemple_valide.csv"), "--schema", str(scdl / "subventions" / "schema.json")]
    result = run(*args)
    assert result.exit_code == 0 and "valid" in result.stdout
    refused = run(*args, "--lang", "de")
    assert refused.exit_code == 2 and "--lang must be one of fr, en" in refused.stderr


def test_text_output_names_the_error_type(scdl: Path, moisson_home: Path) -> None:
    result = run(str(scdl / EXAMPLES / "exemple_invalide_erreurs_cellules.csv"), "--schema",
                 str(scdl / "subventions" / "schema.json"))
    assert result.exit_code == 1
    assert "29 lignes, 63 erreurs" in result.stdout
    assert "[constraint-error] ligne 2, champ" in result.stdout and "[french-siret-value]" in result.stdout
