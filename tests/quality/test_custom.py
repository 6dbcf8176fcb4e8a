"""Every Validata custom check the reference SCDL schemas declare, on tables that break each one."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from moisson.quality.custom import CHECKS
from moisson.quality.gate import report_frame
from moisson.quality.schema import TableSchemaRef
from tests.data import text_frame


def reference_schema(scdl: Path, name: str) -> TableSchemaRef:
    descriptor = json.loads((scdl / name / "schema.json").read_text(encoding="utf-8"))
    return TableSchemaRef(descriptor=descriptor, name=f"scdl/{name}", version=None, source=name)


def test_every_declared_custom_check_is_implemented(scdl: Path) -> None:
    declared = {c["name"].replace("_", "-") for path in scdl.glob("*/schema*.json")
                for c in (json.loads(path.read_text(encoding="utf-8")).get("custom_checks") or [])}
    assert declared and declared <= set(CHECKS)


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
    assert {(i.row, i.type) for i in report.errors} == {
        (row, check) for row, check in enumerate(broken, start=3)}


def test_subventions_one_of_required_and_dae_siren(scdl: Path) -> None:
    subventions = reference_schema(scdl, "subventions")
    row = {f.name: f.example for f in subventions.fields}
    frame = pd.DataFrame([row, row | {"idBeneficiaire": None, "rnaBeneficiaire": None}], dtype="string")
    report = report_frame(frame, subventions)
    assert {(i.row, i.type) for i in report.errors} == {(3, "one-of-required")}
    dae = reference_schema(scdl, "dae")
    found = report_frame(text_frame({"expt_siren": ["356000000", "356000001", "12345678"]}), dae)
    assert {(i.row, i.type) for i in found.errors if i.field == "expt_siren"} == {
        (3, "french-siren-value"), (4, "french-siren-value")}


def test_stationnement_french_gps(scdl: Path) -> None:
    schema = reference_schema(scdl, "stationnement-cyclable")
    frame = text_frame({"coordonneesxy": ["[2.35, 48.85]", "[48.85, 2.35]", "[13.4, 52.5]"]})
    found = {(i.row, i.type) for i in report_frame(frame, schema).errors if i.field == "coordonneesxy"}
    assert found == {(3, "reversed-french-gps-coordinates"), (4, "french-gps-coordinates")}


def test_a_siret_failing_pattern_and_checksum_gets_one_message() -> None:
    fields = [{"name": "siret", "type": "string", "constraints": {"pattern": "^\\d{14}$"}}]
    checks = [{"name": "french-siret-value", "params": {"column": "siret"}}]
    schema = TableSchemaRef(descriptor={"fields": fields, "custom_checks": checks}, name=None, version=None,
                            source="test")
    report = report_frame(text_frame({"siret": ["32402138500000.0", "21860194600000", "21860194600013"]}),
                          schema, lang="en")
    assert [(i.row, i.type, i.rule) for i in report.errors] == [
        (2, "constraint-error", "pattern"), (3, "french-siret-value", "french-siret-value")]
    assert "Excel turned this SIRET into a number (probably 32402138500000)" in report.errors[0].message
    assert report.error_count == 2
