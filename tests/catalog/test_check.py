"""`moisson check` finds what would fail at run time, offline, with the file, line and key path of each problem."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from moisson.cli import app
from tests.data import REPO

HEAD = """version: 1
sources:
  tableurs: {connector: spreadsheet, config: {root: .}}
targets:
  portail: {connector: local, config: {path: ./portal, harvestable: false}}
datasets:
"""


def check(tmp_path: Path, datasets: str) -> tuple[int, str]:
    path = tmp_path / "catalog.yaml"
    path.write_text(HEAD + datasets, encoding="utf-8")
    result = CliRunner().invoke(app, ["check", "--catalog", str(path)], env={"COLUMNS": "400"})
    return result.exit_code, " ".join(result.output.split())


def test_the_bundled_catalog_checks_ok():
    result = CliRunner().invoke(app, ["check", "--catalog", str(REPO / "deployments" / "catalog.yaml")])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output


def test_unknown_keys_are_errors_with_a_suggestion(tmp_path):
    code, out = check(tmp_path, "  - {id: salles, source: tableurs, locator: {path: s.csv, sheeet: 1}}\n")
    assert code == 2
    assert "catalog.yaml:7 : datasets[0].locator.sheeet : clé inconnue (vouliez-vous dire 'sheet' ?)" in out
    code, out = check(tmp_path, "  - {id: salles, source: tableurs, locator: {path: s.csv}, frequence: monthly}\n")
    assert "datasets[0].frequence : clé inconnue (vouliez-vous dire 'frequency' ?)" in out


def test_vocabulary_typos_get_the_id_they_stand_for(tmp_path):
    code, out = check(tmp_path, "  - {id: salles, source: tableurs, locator: {path: s.csv}, frequency: mensuel}\n")
    assert code == 2 and "fréquence de mise à jour inconnue 'mensuel' (vouliez-vous dire 'monthly' ?)" in out
    code, out = check(tmp_path, "  - {id: salles, source: tableurs, locator: {path: s.csv},\n"
                                "     metadata: {license: Licence Ouverte}}\n")
    assert code == 2 and "licence inconnue 'Licence Ouverte' (vouliez-vous dire 'lov2' ?)" in out


def test_missing_files_sheets_and_misspelt_schemas_are_all_reported(tmp_path):
    (tmp_path / "equip.xlsx").write_bytes((REPO / "deployments" / "demo" / "equipements-publics.xlsx").read_bytes())
    code, out = check(tmp_path, "  - {id: salles, source: tableurs, locator: {path: salles.csv}}\n"
                                "  - id: equip\n    source: tableurs\n    locator: {path: equip.xlsx, sheet: Feuil9}\n"
                                "    schema: scdl/equipement@0.1.5\n")
    assert code == 2
    assert "catalog.yaml:7 : datasets[0].locator : salles.csv n'existe pas" in out
    assert "catalog.yaml:10 : datasets[1].locator : equip.xlsx n'a pas de feuille 'Feuil9'" in out
    assert "catalog.yaml:11 : datasets[1].schema :" in out and "vouliez-vous dire 'scdl/equipements' ?" in out
    assert "téléchargement impossible" not in out
