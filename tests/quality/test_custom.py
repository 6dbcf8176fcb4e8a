"""Every Validata custom check the reference SCDL schemas declare, on tables that break each one."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from moisson.quality.gate import report_frame
from moisson.quality.schema import TableSchemaRef
from tests.data import make_schema, text_frame

# Every name validata-table 0.12.5 knows: its own checks, frformat 0.4.1's formats, the deprecated names.
VALIDATA_CHECKS = [
    "cohesive-columns-value", "compare-columns-value", "french-gps-coordinates", "nomenclature-actes-value",
    "one-of-required", "opening-hours-value", "phone-number-value", "sum-columns-value", "year-interval-value",
    "canton", "code-commune-insee", "code-fantoir", "code-pays-iso2", "code-pays-iso3", "code-postal",
    "code-region", "commune", "coordonnees-gps-francaises", "departement", "nomenclature-acte",
    "numero-departement", "pays", "region", "siren", "siret", "french-siret-value", "french-siren-value",
]


def reference_schema(scdl: Path, name: str) -> TableSchemaRef:
    descriptor = json.loads((scdl / name / "schema.json").read_text(encoding="utf-8"))
    return TableSchemaRef(descriptor=descriptor, name=f"scdl/{name}", version=None, source=name)


def unknown_warnings(report) -> list[str]:
    return [w.message for w in report.warnings if "not supported" in w.message]


def test_every_check_validata_knows_is_implemented(scdl: Path) -> None:
    declared = {c["name"] for path in scdl.glob("*/schema*.json")
                for c in (json.loads(path.read_text(encoding="utf-8")).get("custom_checks") or [])}
    assert declared - {"french_gps_coordinates"} <= set(VALIDATA_CHECKS)
    fields = [{"name": "a", "type": "string"}, {"name": "b", "type": "string"}, {"name": "c", "type": "geopoint"}]
    for name in VALIDATA_CHECKS:
        column = "c" if "gps" in name else "a"
        params = {"column": column, "column1": "a", "column2": "b", "op": "==", "othercolumns": ["b"],
                  "columns": ["b"], "cog": "2024"}
        schema = make_schema(fields, custom_checks=[{"name": name, "params": params}])
        report = report_frame(text_frame({"a": ["1"], "b": ["1"], "c": ["2.35, 48.85"]}), schema, lang="en")
        assert unknown_warnings(report) == [], name
        assert all(i.type != "check-error" for i in report.errors), (name, report.errors)


def test_unknown_check_is_a_warning_naming_it() -> None:
    schema = make_schema([{"name": "a", "type": "string", "customCheck": "siret-du-voisin"}])
    report = report_frame(text_frame({"a": ["1"]}), schema)
    assert report.success
    assert [w.message for w in report.warnings] == [
        "le contrôle personnalisé 'siret-du-voisin' du schéma n'est pas pris en charge : il a été ignoré"]


def test_frformat_checks_declared_on_a_field_or_in_custom_checks() -> None:
    fields = [{"name": "cp", "type": "string", "customCheck": "code-postal"},
              {"name": "insee", "type": "string", "customCheck": {"name": "code-commune-insee", "cog": "2024"}},
              {"name": "dep", "type": "string"}, {"name": "tel", "type": "string"},
              {"name": "horaires", "type": "string"}]
    checks = [{"name": "departement", "params": {"column": "dep", "cog": "2024"}},
              {"name": "phone-number-value", "params": {"column": "tel"}},
              {"name": "opening-hours-value", "params": {"column": "horaires"}}]
    frame = text_frame({"cp": ["38000", "99999", "38000"], "insee": ["38185", "38999", None],
                        "dep": ["Isère", "Isere", "Isère"], "tel": ["04 76 76 36 36", "12", "+33 4 76 76 36 36"],
                        "horaires": ["Mo-Fr 08:30-12:00", "lundi matin", "24/7"]})
    report = report_frame(frame, make_schema(fields, custom_checks=checks), lang="en")
    assert {(i.row, i.field, i.type, i.rule) for i in report.errors} == {
        (3, "cp", "custom-check-error", "code-postal"), (3, "insee", "custom-check-error", "code-commune-insee"),
        (3, "dep", "custom-check-error", "departement"), (3, "tel", "phone-number-value", "phone-number-value"),
        (3, "horaires", "opening-hours-value", "opening-hours-value")}
    assert "row 3, field cp: '99999' is not a valid value of 'Code postal'" in [i.message for i in report.errors]


def test_frformat_check_without_its_required_parameter_is_an_error() -> None:
    schema = make_schema([{"name": "c", "type": "string"}],
                         custom_checks=[{"name": "commune", "params": {"column": "c"}}])
    report = report_frame(text_frame({"c": ["Grenoble"]}), schema, lang="en")
    assert [(i.type, i.message) for i in report.errors] == [
        ("check-error", "custom check 'commune' cannot run: required parameter 'cog' is missing; fix the schema")]


def test_deliberations_custom_checks_each_fail_once(scdl: Path) -> None:
    schema = reference_schema(scdl, "deliberations")
    valid = {f.name: f.example for f in schema.fields}
    # The schema's own examples break two of its checks: a stray quote and a prefecture date before the vote.
    valid |= {"DELIB_MATIERE_NOM": "Domaines de compétences par thèmes/Aménagement du territoire",
              "PREF_DATE": "2017-11-03"}
    broken = {
        "french-siret-value": {"COLL_SIRET": "21860194600014"},
        "year-interval-value": {"BUDGET_ANNEE": "2018/2017"},
        "cohesive-columns-value": {"BUDGET_NOM": None},
        "compare-columns-value": {"PREF_DATE": "2017-10-01"},
        "sum-columns-value": {"VOTE_ABSTENTION": "4", "VOTE_REEL": "40"},
        "nomenclature-actes-value": {"DELIB_MATIERE_NOM": "Urbanisme - Divers"},
    }
    rows = [valid] + [valid | change for change in broken.values()]
    report = report_frame(pd.DataFrame(rows, dtype="string"), schema, lang="en")
    assert {(i.row, i.rule) for i in report.errors} == {
        (row, check) for row, check in enumerate(broken, start=3)}


def test_subventions_one_of_required_and_dae_siren(scdl: Path) -> None:
    subventions = reference_schema(scdl, "subventions")
    row = {f.name: f.example for f in subventions.fields}
    frame = pd.DataFrame([row, row | {"idBeneficiaire": None, "rnaBeneficiaire": None}], dtype="string")
    report = report_frame(frame, subventions)
    assert {(i.row, i.type) for i in report.errors} == {(3, "one-of-required")}
    dae = reference_schema(scdl, "dae")
    found = report_frame(text_frame({"expt_siren": ["356000000", "356000001", "12345678"]}), dae)
    assert {(i.row, i.type, i.rule) for i in found.errors if i.field == "expt_siren"} == {
        (3, "custom-check-error", "french-siren-value"), (4, "custom-check-error", "french-siren-value")}


def test_stationnement_french_gps(scdl: Path) -> None:
    schema = reference_schema(scdl, "stationnement-cyclable")
    frame = text_frame({"coordonneesxy": ["[2.35, 48.85]", "[48.85, 2.35]", "[13.4, 52.5]"]})
    found = {(i.row, i.type) for i in report_frame(frame, schema).errors if i.field == "coordonneesxy"}
    assert found == {(3, "reversed-french-gps-coordinates"), (4, "french-gps-coordinates")}


def test_a_siret_failing_pattern_and_checksum_gets_both_messages_as_in_validata() -> None:
    fields = [{"name": "siret", "type": "string", "constraints": {"pattern": "^\\d{14}$"}}]
    checks = [{"name": "french-siret-value", "params": {"column": "siret"}}]
    schema = TableSchemaRef(descriptor={"fields": fields, "custom_checks": checks}, name=None, version=None,
                            source="test")
    report = report_frame(text_frame({"siret": ["32402138500000.0", "21860194600000", "21860194600013"]}),
                          schema, lang="en")
    assert [(i.row, i.type, i.rule) for i in report.errors] == [
        (2, "constraint-error", "pattern"), (2, "custom-check-error", "french-siret-value"),
        (3, "custom-check-error", "french-siret-value")]
    assert "Excel turned this SIRET into a number (probably 32402138500000)" in report.errors[0].message
    assert report.error_count == 3
