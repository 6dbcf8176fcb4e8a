"""Recipe errors are catalog errors naming the file, the line and the key path; `moisson check` finds static ones."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from moisson.catalog.model import load_catalog
from moisson.cli import app
from moisson.core.errors import CatalogError
from moisson.prepare.catalog_file import checked_recipe
from moisson.prepare.recipe import Recipe, check_recipe

CATALOG = """\
version: 1
defaults:
  organization: {name: Commune de Test, siret: "21590350100017"}
sources:
  mem:
    connector: tests.fakes.connectors:MemorySource
    config: {folder: data}
datasets:
  - id: subventions
    source: mem
    prepare:
      fields:
        nomAttribuant: {const: "{organization.name}"}
        montant: {from: "Montant accordé (€)", parse: {decimal: ","}}
        dateConvention: {from: Date, parse: {date: "%d/%m/%Y"}}
        notificationUE: {from: "Aide UE ?", map: {Oui: oui, Non: non}, unmapped: error}
      rows: {drop_if_empty: [nomBeneficiaire], unique: [referenceDecision]}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "catalog.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_the_issue_example_loads(tmp_path):
    ds = load_catalog(write(tmp_path, CATALOG)).dataset("subventions")
    assert ds.prepare.fields["notificationUE"].map == {"Oui": "oui", "Non": "non"}
    assert ds.prepare.on_failure == "block"


@pytest.mark.parametrize(("old", "new", "line", "path", "words"), [
    ('{from: Date, parse: {date: "%d/%m/%Y"}}', '{from: Date, rename: Date}', 15,
     "datasets[0].prepare.fields.dateConvention.rename", "clé inconnue"),
    ('parse: {date: "%d/%m/%Y"}', 'parse: {date: "dd/mm/yyyy"}', 15,
     "datasets[0].prepare.fields.dateConvention.parse.date", "strptime"),
    ('parse: {date: "%d/%m/%Y"}', 'parse: {date: "%d/%q/%Y"}', 15,
     "datasets[0].prepare.fields.dateConvention.parse.date", "%q"),
    ('{const: "{organization.name}"}', '{const: x, from: y}', 13,
     "datasets[0].prepare.fields.nomAttribuant", "une seule origine"),
    ('unmapped: error', 'unmapped: drop', 16, "datasets[0].prepare.fields.notificationUE.unmapped", "error"),
    ('{from: Date, parse: {date: "%d/%m/%Y"}}', '{from: Date, extract: "(unclosed"}', 15,
     "datasets[0].prepare.fields.dateConvention.extract", "RE2"),
    ('{Oui: oui, Non: non}', '{yes: oui, no: non}', 16, "datasets[0].prepare.fields.notificationUE.map",
     "guillemets"),
])
def test_static_recipe_errors_name_line_and_key(tmp_path, old, new, line, path, words):
    bad = write(tmp_path, CATALOG.replace(old, new))
    with pytest.raises(CatalogError) as caught:
        load_catalog(bad)
    assert (caught.value.line, caught.value.path) == (line, path), str(caught.value)
    assert words in caught.value.message
    result = CliRunner().invoke(app, ["check", "--catalog", str(bad)])
    assert result.exit_code == 2 and f"{bad}:{line}" in result.output.replace("\n", "")


def test_unknown_schema_field_names_its_line(tmp_path):
    path = write(tmp_path, CATALOG.replace("montant:", "montantTotal:"))
    recipe = load_catalog(path).dataset("subventions").prepare
    with pytest.raises(CatalogError) as caught:
        checked_recipe(recipe, ["nomAttribuant", "montant", "dateConvention", "notificationUE", "nomBeneficiaire",
                                "referenceDecision"], catalog=path, dataset_id="subventions")
    assert (caught.value.line, caught.value.path) == (14, "datasets[0].prepare.fields.montantTotal")
    assert "'montantTotal' n'est pas un champ du schéma" in caught.value.message


def test_unknown_source_column_and_row_fields_and_placeholders():
    recipe = Recipe.model_validate({"fields": {"a": {"from": "Nom"}, "b": {"concat": ["X", 4]},
                                               "c": {"const": "{organization.iban}"}},
                                    "rows": {"unique": ["z"], "filter": [{"column": "Etat", "in": ["1"]}]}})
    problems = {p.path: p.message for p in check_recipe(recipe, ["a", "b", "c"], columns=["Nom", "X"])}
    assert set(problems) == {("fields", "b", "concat"), ("fields", "c", "const"), ("rows", "unique", 0),
                             ("rows", "filter", 0, "column")}
    assert "aucune à la position 4" in problems[("fields", "b", "concat")]
    assert "'Etat'" in problems[("rows", "filter", 0, "column")]
