from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest
from stdnum import luhn
from stdnum.fr import siren, siret

from moisson.quality.cast import TEXT
from moisson.quality.checks import CAP, SeenKeys
from moisson.quality.custom import identifier_valid
from moisson.quality.gate import report_frame, validate_frame
from tests.data import make_schema, text_frame


def errors_of(fields: list[dict], columns: dict, **extra):
    return validate_frame(text_frame(columns), make_schema(fields, **extra), lang="en")


def only(issues, **expected):
    found = [i for i in issues if all(getattr(i, k) == v for k, v in expected.items())]
    assert len(found) == 1, (expected, issues)
    return found[0]


def test_integer_with_decimals_is_a_type_error_not_a_crash() -> None:
    issues = errors_of([{"name": "n", "type": "integer"}], {"n": ["1", "1.5", "12.0"]})
    assert [(i.row, i.type, i.value) for i in issues] == [(3, "type-error", "1.5"), (4, "type-error", "12.0")]
    assert issues[0].message == "row 3, field n: '1.5' is not a whole number"
    assert "remove the '.0'" in issues[1].message


def test_number_message_for_a_data_officer() -> None:
    issue = only(errors_of([{"name": "montant", "type": "number"}], {"montant": ["1", "12 OOO"]}))
    assert issue.message.startswith("row 3, field montant: '12 OOO' is not a number")
    assert "letter O" in issue.message


def test_boolean_with_the_field_values() -> None:
    field = {"name": "b", "type": "boolean", "trueValues": ["oui"], "falseValues": ["non"]}
    issues = errors_of([field], {"b": ["oui", "non", "Oui", "yes"]})
    assert [(i.row, i.value) for i in issues] == [(4, "Oui"), (5, "yes")]
    assert all("did you mean 'oui'?" in i.message for i in issues)


def test_pattern_is_anchored() -> None:
    field = {"name": "cp", "type": "string", "constraints": {"pattern": "[0-9]{5}"}}
    issues = errors_of([field], {"cp": ["12345", "123456", "a12345"]})
    assert [(i.row, i.rule, i.type) for i in issues] == [(3, "pattern", "constraint-error"),
                                                         (4, "pattern", "constraint-error")]


def test_required_enum_and_near_miss_hint() -> None:
    field = {"name": "nature", "type": "string",
             "constraints": {"required": True, "enum": ["aide en numéraire", "aide en nature"]}}
    values = ["aide en nature", None, "Aide en  numéraire ", "subvention"]
    issues = errors_of([{"name": "id", "type": "string"}, field], {"id": ["1", "2", "3", "4"], "nature": values})
    assert [(i.row, i.rule) for i in issues] == [(3, "required"), (4, "enum"), (5, "enum")]
    assert issues[0].message == "row 3, field nature: the value is missing; this field is required"
    assert "did you mean 'aide en numéraire'?" in issues[1].message
    assert "did you mean" not in issues[2].message


def test_bounds_and_lengths() -> None:
    fields = [{"name": "p", "type": "number", "constraints": {"minimum": 0.01, "maximum": 1}},
              {"name": "e", "type": "integer", "constraints": {"exclusiveMinimum": 0}},
              {"name": "s", "type": "string", "constraints": {"minLength": 2, "maxLength": 3}},
              {"name": "d", "type": "date", "constraints": {"minimum": "2020-01-01"}}]
    issues = errors_of(fields, {"p": ["0.5", "100", "0"], "e": ["1", "0", "2"], "s": ["ab", "abcd", "a"],
                                "d": ["2020-01-01", "2019-12-31", None]})
    assert {(i.row, i.field, i.rule) for i in issues} == {
        (3, "p", "maximum"), (4, "p", "minimum"), (3, "e", "exclusiveMinimum"),
        (3, "s", "maxLength"), (4, "s", "minLength"), (3, "d", "minimum")}
    assert only(issues, field="s", rule="maxLength").message == \
        "row 3, field s: 'abcd' has 4 characters, more than the 3 allowed"


def test_unique_names_the_first_row() -> None:
    field = {"name": "id", "type": "integer", "constraints": {"unique": True}}
    issues = errors_of([field], {"id": ["1", "2", "01", None, None]}, )
    issue = only(issues, type="unique-error")
    assert issue.row == 4 and "already appears at row 2" in issue.message


def test_primary_key_reported_with_its_key() -> None:
    fields = [{"name": "commune", "type": "string"}, {"name": "n", "type": "integer"}, {"name": "v", "type": "number"}]
    issues = errors_of(fields, {"commune": ["38185", "38185", "38185", None], "n": ["1", "2", "1", "3"],
                                "v": ["x", "1", "2", "3"]}, primaryKey=["commune", "n"])
    duplicate = only(issues, type="primary-key", row=4)
    assert duplicate.key == "38185 · 1" and "same as at row 2" in duplicate.message
    empty = only(issues, type="primary-key", row=5)
    assert "is empty" in empty.message
    assert only(issues, type="type-error").key == "38185 · 1"


def test_labels_missing_extra_reordered_duplicate() -> None:
    fields = [{"name": "id", "type": "string", "constraints": {"required": True}},
              {"name": "nomBeneficiaire", "type": "string", "constraints": {"required": True}},
              {"name": "montant", "type": "number"}, {"name": "commentaire", "type": "string"}]
    frame = pd.DataFrame([["3", "1", "x", "a", "b"]], columns=["montant", "id", "NOM_Beneficiaire", "id", "autre"])
    report = report_frame(frame, make_schema(fields), lang="en")
    assert {(i.field, i.type) for i in report.errors} == {("nomBeneficiaire", "missing-label"),
                                                          ("id", "duplicate-label")}
    missing = only(report.errors, type="missing-label")
    assert "column 'NOM_Beneficiaire' looks like it" in missing.message and missing.row is None
    assert {(w.field, w.type) for w in report.warnings} == {
        ("commentaire", "missing-label"), ("NOM_Beneficiaire", "extra-label"), ("autre", "extra-label")}
    assert any("matched by name" in n for n in report.notes)


def test_reordered_columns_are_checked_by_name() -> None:
    fields = [{"name": "a", "type": "integer"}, {"name": "b", "type": "string"}]
    report = report_frame(text_frame({"b": ["x"], "a": ["oops"]}), make_schema(fields), lang="en")
    assert [(i.field, i.value) for i in report.errors] == [("a", "oops")]
    assert report.notes == ["columns are in a different order from the schema: they were matched by name"]


def test_blank_rows_and_first_row() -> None:
    fields = [{"name": "a", "type": "integer", "constraints": {"required": True}}, {"name": "b", "type": "string"}]
    issues = validate_frame(text_frame({"a": ["1", None, "x"], "b": ["u", None, "v"]}), make_schema(fields),
                            first_row=10)
    assert [(i.row, i.type) for i in issues] == [(11, "blank-row"), (12, "type-error")]


def test_missing_values_follow_the_schema() -> None:
    fields = [{"name": "id", "type": "string"}, {"name": "n", "type": "integer"}]
    columns = {"id": ["1", "2", "3"], "n": ["NA", "-", ""]}
    assert [i.value for i in errors_of(fields, columns)] == ["NA", "-"]
    assert errors_of(fields, columns, missingValues=["", "NA", "-"]) == []


@pytest.mark.parametrize(("field", "value", "hint"), [
    ({"type": "string", "constraints": {"pattern": "^\\d{14}$"}}, "32402138500000.0",
     "looks like Excel turned this SIRET into a number (probably 32402138500000)"),
    ({"type": "string", "constraints": {"pattern": "^\\d{14}$"}}, "3,24021385E+13",
     "looks like Excel turned this SIRET into a number (probably 32402138500000)"),
    ({"type": "string", "constraints": {"pattern": "^\\d{5}$"}}, "1001", "a leading zero was probably lost (01001)"),
    ({"type": "date"}, "45291", "an Excel date serial number (45291 = 2023-12-31)"),
    ({"type": "date"}, "2024-02-30", "this day does not exist"),
    ({"type": "string", "constraints": {"pattern": "^\\d{14}$"}}, "216 000 000 00000", "without spaces"),
])
def test_excel_damage_is_named(field: dict, value: str, hint: str) -> None:
    issue = only(errors_of([{"name": "x", **field}], {"x": [value]}))
    assert hint in issue.message


def test_errors_are_capped_but_all_counted() -> None:
    n = CAP * 3
    report = report_frame(text_frame({"n": ["x"] * n, "m": ["y"] * n}),
                          make_schema([{"name": "n", "type": "integer"}, {"name": "m", "type": "number"}]))
    assert report.error_count == 2 * n
    assert len(report.errors) == 2 * CAP
    assert {(c.field, c.count) for c in report.counts} == {("n", n), ("m", n)}


def test_array_items_against_their_enum() -> None:
    field = {"name": "regime", "type": "array",
             "arrayItem": {"type": "string", "constraints": {"enum": ["végétarien", "sans porc "]}}}
    issues = errors_of([field], {"regime": ['["végétarien", "sans porc "]', '["sans porc"]', "végétarien", "[]"]})
    assert [(i.row, i.type, i.rule) for i in issues] == [(3, "constraint-error", "enum"), (4, "type-error", "type")]
    assert "item 'sans porc'" in issues[0].message and "did you mean 'sans porc '?" in issues[0].message


def test_seen_keys_give_the_first_row_across_chunks() -> None:
    seen = SeenKeys()
    first = seen.first_rows(pd.DataFrame({"k": ["a", "b", "a"]}), np.array([True, True, True]), 0)
    assert first.tolist() == [0, 1, 0]
    later = seen.first_rows(pd.DataFrame({"k": ["b", None, "c", "c"]}), np.array([True, False, True, True]), 3)
    assert later.tolist() == [1, 4, 5, 5]
    assert seen.counts.sum() == 6


def test_identifier_validity_matches_python_stdnum() -> None:
    rng = random.Random(7)
    samples = [str(rng.randrange(10**13, 10**14)) for _ in range(3000)]
    samples += [s[:13] + luhn.calc_check_digit(s[:13]) for s in samples[:500]]
    # La Poste: head office, a valid and an invalid establishment, with the spaces and dots stdnum drops.
    samples += ["35600000000048", "35600000049837", "35600000049838", "356 000 000 49837", "3560000004983.7",
                "2138018550001", "x", ""]
    got = identifier_valid(pd.Series(samples, dtype=TEXT), 14)
    expected = [siret.is_valid(s) for s in samples]
    assert got.tolist() == expected
    assert 0 < sum(expected[:3000]) < 3000 and sum(expected[-8:]) == 4
    sirens = [s[:9] for s in samples[:3500]] + ["356000000", "732 829 320", "123"]
    assert identifier_valid(pd.Series(sirens, dtype=TEXT), 9).tolist() == [siren.is_valid(s) for s in sirens]


def test_custom_checks() -> None:
    fields = [{"name": n, "type": t} for n, t in [
        ("siret", "string"), ("rna", "string"), ("annee", "string"), ("nom", "string"), ("pref", "date"),
        ("delib", "date"), ("reel", "integer"), ("pour", "integer"), ("contre", "integer"), ("matiere", "string"),
        ("xy", "geopoint")]]
    fields[-1]["format"] = "array"
    checks = [{"name": "french-siret-value", "params": {"column": "siret"}},
              {"name": "one-of-required", "params": {"column1": "siret", "column2": "rna"}},
              {"name": "year-interval-value", "params": {"column": "annee", "allow-year-only": "yes"}},
              {"name": "cohesive-columns-value", "params": {"column": "annee", "othercolumns": ["nom"]}},
              {"name": "compare-columns-value", "params": {"column": "pref", "op": ">=", "column2": "delib"}},
              {"name": "sum-columns-value", "params": {"column": "reel", "columns": ["pour", "contre"]}},
              {"name": "nomenclature-actes-value", "params": {"column": "matiere"}},
              {"name": "french_gps_coordinates", "params": {"column": "xy"}},
              {"name": "no-such-check", "params": {"column": "nom"}}]
    columns = {
        "siret": ["21380185500015", "21380185500016", None],
        "rna": [None, None, None],
        "annee": ["2023/2024", "2024/2023", "2024"],
        "nom": ["Budget principal", "Budget annexe", None],
        "pref": ["2024-01-10", "2024-01-01", None],
        "delib": ["2024-01-05", "2024-01-05", "2024-01-05"],
        "reel": ["10", "10", "5"], "pour": ["6", "5", "5"], "contre": ["4", "4", None],
        "matiere": ["Finances locales/Subventions", "finances LOCALES/Fiscalité", "Finances locales / Divers"],
        "xy": ["[5.7145, 45.1914]", "[45.1914, 5.7145]", "[12.49, 41.89]"],
    }
    report = report_frame(text_frame(columns), make_schema(fields, custom_checks=checks), lang="en")
    found = {(i.row, i.type, i.rule) for i in report.errors}
    assert found == {
        (3, "custom-check-error", "french-siret-value"), (4, "one-of-required", "one-of-required"),
        (3, "year-interval-value", "year-interval-value"), (4, "cohesive-columns-value", "cohesive-columns-value"),
        (3, "compare-columns-value", "compare-columns-value"), (3, "sum-columns-value", "sum-columns-value"),
        (4, "custom-check-error", "nomenclature-actes-value"),
        (3, "reversed-french-gps-coordinates", "french_gps_coordinates"),
        (4, "french-gps-coordinates", "french_gps_coordinates")}
    assert [w.message for w in report.warnings if w.type == "custom-check"] == [
        "custom check 'french-siret-value' is deprecated: write 'siret' in the schema (checked as 'siret')",
        "custom check 'nomenclature-actes-value' is deprecated: write 'nomenclature-acte' in the schema "
        "(checked as 'nomenclature-acte')",
        "custom check 'french_gps_coordinates' is spelt 'french-gps-coordinates': moisson ran it, but validata.fr "
        "does not know this name and refuses the file; fix the schema",
        "custom check 'no-such-check' of the schema is not supported: it was skipped"]


def test_custom_checks_skip_missing_columns() -> None:
    checks = [{"name": "french-siret-value", "params": {"column": "absent"}},
              {"name": "compare-columns-value", "params": {"column": "a", "op": "<", "column2": "absent"}}]
    assert errors_of([{"name": "a", "type": "integer"}], {"a": ["1"]}, custom_checks=checks) == []
