"""Recipes applied to small extracts: each operation, the row rules with their counts and row numbers, replay."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from moisson.prepare.apply import kept_row_numbers, prepare_table
from moisson.prepare.recipe import Recipe, header_fingerprint
from tests.data import make_schema, write_extract

SCHEMA = make_schema([
    {"name": "nom", "type": "string", "constraints": {"required": True}},
    {"name": "siret", "type": "string"},
    {"name": "montant", "type": "number"},
    {"name": "date", "type": "date"},
    {"name": "ue", "type": "boolean", "trueValues": ["oui"], "falseValues": ["non"]},
    {"name": "theme", "type": "string", "constraints": {"enum": ["Sport", "Culture"]}},
    {"name": "cp", "type": "string"},
    {"name": "voie", "type": "string"},
    {"name": "objet", "type": "string"},
])
SOURCE = {
    "Nom": ["  Club A ", "Club B", "", "Club D", "Club B"],
    "Montant (€)": ["1 200,50", "3,5", "7", "10", "4\u00a0000"],
    "Date": ["05/12/2016", "31/01/2020", "bad", None, "01/02/2021"],
    "Aide UE ?": ["Oui", "Non", "Oui", "Non", "Non"],
    "Type": ["Gymnase", "Musée", "Stade", "Gymnase", "Piscine"],
    "Adresse": ["12 rue A", "3 bd B", "", "7", "5 allée C"],
    "Objet": ["Fonct.", None, "Invest.", "Fonct.", "Fonct."],
    "Précisions": ["2024", "projet", None, "", "2025"],
    "Actif": ["Oui", "Oui", "Oui", "Non", "Oui"],
}


def run(tmp_path: Path, recipe: dict, source: dict | None = None, **kwargs):
    path = write_extract(tmp_path / "extract.parquet", source or SOURCE)
    result = prepare_table(path, Recipe.model_validate(recipe), SCHEMA, tmp_path / "out.parquet",
                           context={"organization": {"name": "Commune X", "siret": "21590350100017"}}, **kwargs)
    return result, pd.read_parquet(result.path)


def report(result, field: str):
    return next(r for r in result.rules if r.field == field)


def test_every_field_operation(tmp_path):
    result, out = run(tmp_path, {"fields": {
        "nom": {"from": "Nom", "parse": {"trim": True, "case": "upper"}},
        "siret": {"const": "{organization.siret}"},
        "montant": {"from": 1, "parse": {"decimal": ",", "group": " "}},
        "date": {"from": "Date", "parse": {"date": "%d/%m/%Y"}},
        "ue": {"from": "Aide UE ?", "parse": {"true": ["Oui"], "false": ["Non"]}},
        "theme": {"from": "Type", "map": {"Gymnase": "Sport", "Stade": "Sport", "Musée": "Culture"},
                  "unmapped": "keep"},
        "cp": {"from": "Adresse", "split": {"sep": " ", "index": 0}},
        "voie": {"from": "Adresse", "extract": r"^\d+\s+(.+)$", "default": "inconnue"},
        "objet": {"concat": ["Objet", "Précisions"], "sep": " — "},
    }, "keep_unmapped": False})
    assert list(out.columns) == [f.name for f in SCHEMA.fields]
    assert out["nom"].tolist() == ["CLUB A", "CLUB B", "", "CLUB D", "CLUB B"]
    assert set(out["siret"]) == {"21590350100017"}
    assert out["montant"].tolist() == ["1200.50", "3.5", "7", "10", "4000"]
    # A date that does not follow the format is kept as found, for the quality gate to name with its row.
    assert out["date"].tolist()[:3] == ["2016-12-05", "2020-01-31", "bad"]
    assert pd.isna(out["date"][3])
    assert out["ue"].tolist() == ["oui", "non", "oui", "non", "non"]
    assert out["theme"].tolist() == ["Sport", "Culture", "Sport", "Sport", "Piscine"]
    assert out["cp"].tolist()[:2] == ["12", "3"]
    assert out["voie"].tolist() == ["rue A", "bd B", "inconnue", "inconnue", "allée C"]
    assert out["objet"].tolist() == ["Fonct. — 2024", "projet", "Invest.", "Fonct.", "Fonct. — 2025"]
    theme = report(result, "theme")
    assert theme.unknown_values == {"Piscine": 1}
    assert theme.cells_changed == 4
    assert report(result, "date").sample[0] == ("05/12/2016", "2016-12-05")
    assert any("Piscine" in w for w in result.warnings)
    assert any("'Actif'" in w and "non publiée" in w for w in result.warnings), "a left-out column is said"
    assert not result.blocked


def test_an_unknown_value_under_unmapped_error_blocks_and_is_named(tmp_path):
    result, out = run(tmp_path, {"fields": {"nom": {"from": "Nom"},
                                            "theme": {"from": "Type", "map": {"Gymnase": "Sport"}}}})
    assert result.blocked
    assert "Musée" in result.errors[0] and "Stade" in result.errors[0]
    assert report(result, "theme").unknown_values == {"Musée": 1, "Stade": 1, "Piscine": 1}
    assert out["theme"].tolist()[1] == "Musée", "an unknown value is kept as found, never emptied silently"


def test_unmapped_empty_empties_and_says_so(tmp_path):
    result, out = run(tmp_path, {"fields": {"theme": {"from": "Type", "map": {"Gymnase": "Sport"},
                                                      "unmapped": "empty"}}})
    assert not result.blocked
    assert out["theme"].isna().sum() == 3
    assert any("vidées" in w for w in result.warnings)


def test_row_rules_count_what_they_drop_and_keep_file_row_numbers(tmp_path):
    result, out = run(tmp_path, {"fields": {"nom": {"from": "Nom", "parse": {"trim": True}},
                                            "montant": {"from": "Montant (€)"}},
                                 "rows": {"filter": [{"column": "Actif", "in": ["Oui"]}],
                                          "drop_if_empty": ["nom"], "unique": ["nom"]}},
                      first_row=4, row_gaps=((2, 3),))
    assert out["nom"].tolist() == ["Club A", "Club B"]
    assert out["montant"].tolist() == ["1 200,50", "4\u00a0000"], "unique keeps the last row of a key"
    counts = {r.rule.split()[0]: (r.rows_in, r.rows_out) for r in result.rules if r.field is None}
    assert counts == {"filter": (5, 4), "drop_if_empty": (4, 3), "unique": (3, 2)}
    # Rows 0 and 4 of the extract stay: file rows 4 and 4 + 4 + 3 skipped = 11.
    assert (result.first_row, result.row_gaps) == (4, ((1, 6),))
    assert any("1 ligne(s) en double" in w for w in result.warnings)


def test_kept_row_numbers_follow_the_file():
    assert kept_row_numbers(np.array([0, 1, 2]), 2, ()) == (2, ())
    assert kept_row_numbers(np.array([1, 3]), 2, ()) == (3, ((1, 1),))
    assert kept_row_numbers(np.array([0, 2]), 2, ((1, 2),)) == (2, ((1, 3),))


def test_a_column_gone_blocks_naming_the_rules_and_applies_the_others(tmp_path):
    source = {k: v for k, v in SOURCE.items() if k != "Type"}
    recipe = {"fields": {"nom": {"from": "Nom"}, "theme": {"from": "Type", "map": {"Gymnase": "Sport"}}},
              "header": header_fingerprint(list(SOURCE))}
    result, out = run(tmp_path, recipe, source)
    assert result.blocked
    assert any("'theme'" in e and "'Type'" in e for e in result.errors)
    assert any("en-tête de la source a changé" in w for w in result.warnings)
    assert out["nom"].tolist()[1] == "Club B", "the other rules still ran"
    assert out["theme"].isna().all(), "an optional field whose rule cannot run stays in the layout, empty"

    warned, _ = run(tmp_path, {**recipe, "on_failure": "warn"}, source)
    assert not warned.blocked and warned.errors


def test_positions_are_not_trusted_once_the_header_changed(tmp_path):
    reordered = dict(reversed(list(SOURCE.items())))
    recipe = {"fields": {"nom": {"from": 0}}, "header": header_fingerprint(list(SOURCE))}
    result, _ = run(tmp_path, recipe, reordered)
    assert result.blocked and "position" in result.errors[0]
    same, out = run(tmp_path, recipe)
    assert not same.errors and out["nom"][1] == "Club B"


def test_same_named_columns_are_taken_as_is(tmp_path):
    _, out = run(tmp_path, {"fields": {"nom": {"from": "Nom"}}}, {**SOURCE, "cp": ["1"] * 5})
    assert out["cp"].tolist() == ["1"] * 5


def test_a_missing_placeholder_value_is_an_error(tmp_path):
    result, _ = run(tmp_path, {"fields": {"siret": {"const": "{organization.insee}"}}})
    assert result.blocked and "defaults.organization" in result.errors[0]


@pytest.mark.parametrize("rows", [0, 3])
def test_keep_unmapped_publishes_the_other_columns(tmp_path, rows):
    source = {k: v[:rows] for k, v in SOURCE.items()}
    result, out = run(tmp_path, {"fields": {"nom": {"from": "Nom"}}, "keep_unmapped": True}, source)
    assert "Actif" in out.columns and len(out) == rows
    assert list(out.columns)[:len(SCHEMA.fields)] == [f.name for f in SCHEMA.fields], "the schema's layout first"
    assert result.warnings == ["champs facultatifs que la source n'a pas, publiés vides : siret, montant, date, ue, "
                               "theme, cp, voie, objet"]
