"""Validata parity: moisson and the real Validata (validata-table 0.12.5, `tests/peers/validata_peer.py`) judge the
same files alike.

Cases: every SCDL reference example, one generated file per rule (each cell type, format and constraint; each
structure problem: missing, extra, reordered, duplicate columns, blank, ragged and repeated rows; French dates and
numbers) and one per custom check name Validata knows. On each, moisson reads the file as `moisson validate` does
and checks it with normalisation off (Validata's rules: a file is judged as found). Both must give the same verdict
and the same (row, field, error type) of every error, but for the differences listed in `DIFFERENCES` with their
reason. With normalisation on, moisson may fix French forms, but never calls plainly valid a file Validata refuses.

All the files of one schema go to Validata in one process; the processes run two at a time.
"""

from __future__ import annotations

import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from moisson.files import extracted
from moisson.quality.gate import report_frame
from moisson.quality.report import QualityReport
from moisson.quality.schema import TableSchemaRef
from tests.data import SCDL
from tests.peers import validata_peer

Key = tuple[int | None, str | None, str]

pytestmark = pytest.mark.skipif(not validata_peer.available(),
                                reason="Validata is not installed: run scripts/peer-validata")


@dataclass(frozen=True)
class Case:
    """One file and its schema."""

    id: str
    schema: dict[str, Any]
    path: Path | None = None  # a reference file; else `text` is written to `<id>.csv`
    text: str = ""


def field(name: str, type_: str = "string", **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, **extra}


def generated(case_id: str, fields: list[dict[str, Any]], *lines: str, **extra: Any) -> Case:
    return Case(case_id, {"fields": fields, **extra}, text="\n".join(lines) + "\n")


def reference_cases() -> list[Case]:
    """Every example file next to a tabular SCDL schema (the templates and lookup tables beside them are not)."""
    found = []
    for schema_path in sorted(SCDL.glob("*/schema*.json")):
        descriptor = json.loads(schema_path.read_text(encoding="utf-8"))
        if "fields" not in descriptor:
            continue  # amenagements-cyclables, DECP: JSON Schemas of nested documents, not tables.
        for data in sorted(p for p in schema_path.parent.rglob("exemple*") if p.suffix in (".csv", ".xlsx")):
            found.append(Case(str(data.relative_to(SCDL)), descriptor, path=data))
    return found


CELLS = [
    generated("required", [field("id"), field("nom", constraints={"required": True})], "id,nom", "1,a", "2,", "3,c"),
    generated("unique", [field("code", "integer", constraints={"unique": True})], "code", "1", "2", "1", "01", "3"),
    generated("enum", [field("nature", constraints={"enum": ["aide en numéraire", "aide en nature"]}),
                       field("n", "integer", constraints={"enum": [1, 2]})],
              "nature,n", "aide en nature,1", "Aide en nature,3", "aide,2"),
    generated("pattern", [field("cp", constraints={"pattern": "[0-9]{5}"}),
                          field("siret", constraints={"pattern": "^\\d{14}$"})],
              "cp,siret", "38000,21380185500015", "3800,2138018550001", "380000,x"),
    generated("minimum-maximum", [field("p", "number", constraints={"minimum": 0, "maximum": 1}),
                                  field("n", "integer", constraints={"minimum": 10, "maximum": 20}),
                                  field("d", "date", constraints={"minimum": "2020-01-01"})],
              "p,n,d", "0.5,10,2020-01-01", "1.5,9,2019-12-31", "-0.1,21,2021-06-01"),
    generated("exclusive-bounds", [field("x", "number", constraints={"exclusiveMinimum": 0, "exclusiveMaximum": 10})],
              "x", "5", "0", "10", "10.5"),
    generated("minLength-maxLength", [field("s", constraints={"minLength": 2, "maxLength": 4})],
              "s", "ab", "a", "abcde", "abcd"),
    generated("integer", [field("n", "integer")], "n", "1", "-2", "1.5", "12.0", "abc", "+3", "007"),
    generated("number", [field("x", "number")], "x", "1.5", "-2", "1e3", "abc", "1.2.3", ".5", "NaN", "INF", "-INF"),
    generated("number-decimalChar", [field("x", "number", decimalChar=",")], "x", '"1,5"', "2", "abc"),
    generated("number-groupChar", [field("x", "number", groupChar=" ")], "x", "1 200", "12", '"1,5"'),
    generated("date", [field("d", "date")], "d", "2024-02-29", "2023-02-29", "2024-13-01", "20240101", "x"),
    generated("date-format", [field("d", "date", format="%d/%m/%Y")], "d", "31/12/2023", "2023-12-31",
              "31/02/2024"),
    generated("datetime", [field("t", "datetime")], "t", "2024-01-05T10:00:00", "2024-01-05T10:00:00Z",
              "2024-01-05", "2024-01-05T25:00:00"),
    generated("time", [field("t", "time")], "t", "14:08:32", "25:00:00", "14h08"),
    generated("year", [field("a", "year")], "a", "2024", "24", "abcd", "2024.0"),
    generated("yearmonth", [field("m", "yearmonth")], "m", "2024-01", "2024-13", "janvier"),
    generated("boolean", [field("b", "boolean")], "b", "true", "False", "1", "oui", "yes", "0"),
    generated("boolean-values", [field("b", "boolean", trueValues=["oui"], falseValues=["non"])],
              "b", "oui", "non", "Oui", "true"),
    generated("email-uri-uuid", [field("e", format="email"), field("u", format="uri"), field("i", format="uuid")],
              "e,u,i", "info@mail.be,https://www.grenoble.fr,0b9a6d55-b8d2-4a02-9dd4-0e0a9a6a59a8",
              "info@mail,www.grenoble.fr,1234"),
    generated("geopoint", [field("p", "geopoint"), field("q", "geopoint", format="array")],
              "p,q", '"5.71, 45.19","[5.71, 45.19]"', '"[5.71, 45.19]","5.71, 45.19"', '"200, 2","[1, 2, 3]"'),
    generated("array-object", [field("a", "array"), field("o", "object")],
              "a,o", '"[""x""]","{""k"": 1}"', 'x,"[1]"'),
    generated("primary-key", [field("commune"), field("n", "integer")], "commune,n", "38185,1", "38185,2",
              "38185,1", "38000,1", primaryKey=["commune", "n"]),
    generated("missing-values", [field("n", "integer"), field("s")], "n,s", "NA,x", "-,", "1,NA",
              missingValues=["", "NA"]),
]
FRENCH = [
    generated("french-dates", [field("d", "date")], "d", "05/12/2016", "2016-12-05", "31/02/2016"),
    generated("french-numbers", [field("x", "number"), field("n", "integer")],
              "x,n", '"1 200",1', '"99 786,57","1 200"', "3.5,4"),
]
STRUCTURE = [
    generated("missing-required-column", [field("a"), field("b", constraints={"required": True}), field("c")],
              "a,c", "1,3"),
    generated("missing-optional-column", [field("a"), field("b"), field("c", "integer")], "a,c", "1,3", "2,x"),
    generated("extra-column", [field("a"), field("b", "integer")], "a,z,b", "1,x,2", "1,y,oops"),
    generated("reordered-columns", [field("a", "integer"), field("b"), field("c", "integer")],
              "c,a,b", "1,2,x", "y,3,z"),
    generated("duplicate-column", [field("a"), field("b", "integer")], "a,b,b", "1,2,3", "x,y,4"),
    generated("header-case", [field("id", "integer"), field("nom")], "ID,nom", "1,a"),
    generated("blank-row", [field("a"), field("b", "integer")], "a,b", "x,1", ",", "y,2"),
    generated("empty-line", [field("a"), field("b", "integer")], "a,b", "x,1", "", "y,z"),
    generated("ragged-short", [field("a"), field("b"), field("c", "integer")], "a,b,c", "1,2,3", "4,5", "6,7,8"),
    generated("ragged-long", [field("a"), field("b", "integer")], "a,b", "1,2", "3,4,surplus", "5,6"),
    generated("repeated-header", [field("a"), field("b", "integer")], "a,b", "x,1", "a,b", "y,2"),
    generated("quoted-newline", [field("a"), field("b", "integer")], "a,b", '"deux\nlignes",1', "x,y"),
]
CUSTOM_TABLE = {"siret": ["21380185500015", "21380185500016", ""],
                "siren": ["213801855", "213801856", ""],
                "code": ["38000", "99999", ""], "insee": ["38185", "38999", ""], "dep": ["Isère", "Isere", ""],
                "num_dep": ["38", "999", ""], "region": ["Bretagne", "Bretagn", ""], "code_region": ["53", "99", ""],
                "commune": ["Grenoble", "Grenobl", ""], "canton": ["Grenoble-1", "Nulle-part", ""],
                "fantoir": ["380185A001", "XXXX", ""], "pays": ["France", "Francia", ""],
                "iso2": ["FR", "XX", ""], "iso3": ["FRA", "XXX", ""],
                "acte": ["Urbanisme/Permis de construire", "Urbanisme - Divers", ""],
                "tel": ["04 76 76 36 36", "12", ""], "horaires": ["Mo-Fr 08:30-12:00", "lundi matin", ""],
                "annee": ["2023/2024", "2024/2023", ""], "a": ["1", "5", ""], "b": ["2", "", ""],
                "total": ["3", "6", ""], "gps": ["[2.35, 48.85]", "[48.85, 2.35]", "[13.4, 52.5]"]}
COG = {"cog": "2024"}
CUSTOM_PARAMS = {
    "siret": ("siret", {}), "siren": ("siren", {}), "french-siret-value": ("siret", {}),
    "french-siren-value": ("siren", {}), "code-postal": ("code", {}), "code-commune-insee": ("insee", COG),
    "departement": ("dep", COG), "numero-departement": ("num_dep", COG), "region": ("region", COG),
    "code-region": ("code_region", COG), "commune": ("commune", COG), "canton": ("canton", COG),
    "code-fantoir": ("fantoir", {}), "pays": ("pays", COG), "code-pays-iso2": ("iso2", COG),
    "code-pays-iso3": ("iso3", COG), "nomenclature-acte": ("acte", {}), "nomenclature-actes-value": ("acte", {}),
    "phone-number-value": ("tel", {}), "opening-hours-value": ("horaires", {}),
    "year-interval-value": ("annee", {}), "french-gps-coordinates": ("gps", {}),
    "french_gps_coordinates": ("gps", {}), "coordonnees-gps-francaises": ("gps", {}),
    "one-of-required": ("b", {"column1": "b", "column2": "siret"}),
    "cohesive-columns-value": ("a", {"othercolumns": ["b"]}),
    "compare-columns-value": ("a", {"op": "<", "column2": "total"}),
    "sum-columns-value": ("total", {"columns": ["a", "b"]}),
    "commune-without-cog": ("commune", {}),
    "no-such-check": ("a", {}),
}


def custom_case(name: str) -> Case:
    column, params = CUSTOM_PARAMS[name]
    check = {"name": "commune" if name == "commune-without-cog" else name, "params": {"column": column, **params}}
    fields = [field(c, "geopoint", format="array") if c == "gps" else
              field(c, "integer") if c in ("a", "b", "total") else field(c) for c in CUSTOM_TABLE]
    rows = [",".join(f'"{v}"' if "," in v else v for v in row) for row in zip(*CUSTOM_TABLE.values(), strict=True)]
    return generated(f"custom-{name}", fields, ",".join(CUSTOM_TABLE), *rows, custom_checks=[check])


FIELD_CHECK = generated("custom-field-customCheck", [field("cp", customCheck="code-postal"),
                                                     field("c", customCheck={"name": "commune", "cog": "2024"})],
                        "cp,c", "38000,Grenoble", "99999,Grenobl")
CASES = [*reference_cases(), *CELLS, *FRENCH, *STRUCTURE, *(custom_case(n) for n in CUSTOM_PARAMS), FIELD_CHECK]

UNKNOWN_IS_A_WARNING = ("Validata refuses a schema naming a custom check it does not know (check-error); moisson "
                        "warns and checks the rest, as the issue asks: an unknown check is never silence")
VALIDATA_CRASHES = ("Validata 0.12.5 hands frformat's CoordonneesGPSFrancaises one value where it takes two and "
                    "stops with an internal error, checking nothing; moisson checks the points")
FRENCH_GPS_UNDERSCORE = ("moisson accepts `french_gps_coordinates` (so spelt in published schemas such as "
                         "stationnement-cyclable) with a warning; Validata does not know the name")
DUPLICATE_LABELS = ("Validata stops at a repeated column name (frictionless: 'matching fields by name requires "
                    "unique labels', an internal error) and checks no cell; moisson names the duplicate, checks the "
                    "first copy and the rest of the file")
EXCLUSIVE_BOUNDS = ("Validata's frictionless 5.21 refuses exclusiveMinimum/exclusiveMaximum in a schema without "
                    "a Table Schema v2 profile (field-error, no cell checked); moisson applies them")
REPEATED_HEADER = ("the reader finds a repeated header row (a repeated-header error on its row when not normalising; "
                   "left out and reported as a normalisation otherwise); Validata reads it as data, so its cells "
                   "are type errors where the column is not text")
# case id → (only moisson reports, only Validata reports, reason).
DIFFERENCES: dict[str, tuple[set[Key], set[Key], str]] = {
    "custom-no-such-check": (set(), {(None, None, "check-error")}, UNKNOWN_IS_A_WARNING),
    "custom-coordonnees-gps-francaises": (
        {(3, "gps", "custom-check-error"), (4, "gps", "custom-check-error")}, {(None, None, "error")},
        VALIDATA_CRASHES),
    "custom-french_gps_coordinates": (
        {(3, "gps", "reversed-french-gps-coordinates"), (4, "gps", "french-gps-coordinates")},
        {(None, None, "check-error")}, FRENCH_GPS_UNDERSCORE),
    "stationnement-cyclable/exemple-valide.csv": (set(), {(None, None, "check-error")}, FRENCH_GPS_UNDERSCORE),
    "subventions/exemple-duplicate-column.csv": ({(None, "notificationUE", "duplicate-label")},
                                                 {(None, None, "error")}, DUPLICATE_LABELS),
    "duplicate-column": ({(None, "b", "duplicate-label"), (3, "b", "type-error")}, {(None, None, "error")},
                         DUPLICATE_LABELS),
    "exclusive-bounds": ({(3, "x", "constraint-error"), (4, "x", "constraint-error"), (5, "x", "constraint-error")},
                         {(None, None, "field-error")}, EXCLUSIVE_BOUNDS),
    "repeated-header": ({(3, None, "repeated-header")}, {(3, "b", "type-error")}, REPEATED_HEADER),
}


# Where moisson calls valid a file Validata refuses: the schema names a check Validata does not know (the file is
# not at fault; moisson warns). Every other verdict is the same.
LENIENT_VERDICTS = {"custom-no-such-check": UNKNOWN_IS_A_WARNING,
                    "stationnement-cyclable/exemple-valide.csv": FRENCH_GPS_UNDERSCORE}


@pytest.fixture(scope="module")
def validata(tmp_path_factory: pytest.TempPathFactory) -> dict[str, validata_peer.ValidataResult]:
    """Validata's result for every case: two Validata processes (one per core), each importing Validata once."""
    folder = tmp_path_factory.mktemp("validata-parity")
    schemas: dict[str, Path] = {}
    pairs = []
    for case in CASES:
        text = json.dumps(case.schema, ensure_ascii=False, sort_keys=True)
        if text not in schemas:
            schemas[text] = folder / f"schema-{len(schemas)}.json"
            schemas[text].write_text(text, encoding="utf-8")
        pairs.append((schemas[text], case_path(case, folder)))
    halves = [pairs[: len(pairs) // 2], pairs[len(pairs) // 2:]]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = [r for half in pool.map(validata_peer.validate_pairs, halves) for r in half]
    return {case.id: result for case, result in zip(CASES, results, strict=True)}


def case_path(case: Case, folder: Path) -> Path:
    if case.path is not None:
        return case.path
    path = folder / f"{case.id}.csv"
    if not path.exists():
        path.write_text(case.text, encoding="utf-8")
    return path


def moisson_report(case: Case, folder: Path, *, normalise: bool) -> QualityReport:
    # As `moisson validate` reads it: the spreadsheet source's extract, checked chunk by chunk.
    schema = TableSchemaRef(descriptor=case.schema, name=None, version=None, source=case.id)
    with extracted(case_path(case, folder)) as read:
        return report_frame(read.path, schema, first_row=read.first_row, row_gaps=read.row_gaps, lang="en",
                            normalise=normalise, cap=10**9, findings=read.findings)


def keys(report: QualityReport) -> Counter[Key]:
    return Counter((i.row, i.field, i.type) for i in report.errors)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_same_verdict_and_errors_as_validata(case: Case, validata: dict, tmp_path: Path) -> None:
    theirs = validata[case.id]
    found = Counter(validata_peer.positions(theirs))
    strict = moisson_report(case, tmp_path, normalise=False)
    ours = keys(strict)
    added, removed, _reason = DIFFERENCES.get(case.id, (set(), set(), ""))
    assert (set(ours - found), set(found - ours)) == (added, removed), theirs["errors"]
    assert strict.error_count == sum(ours.values())
    assert strict.success == (not ours)
    assert strict.success == theirs["valid"] or case.id in LENIENT_VERDICTS
    # Normalising may fix French forms, never hide that Validata refuses the file as found.
    lenient = moisson_report(case, tmp_path, normalise=True)
    if theirs["valid"] or case.id in LENIENT_VERDICTS:
        assert lenient.verdict == "valid"
    else:
        assert lenient.verdict != "valid"
    # It only takes errors away, each one by rewriting the cell.
    left = keys(lenient)
    assert not left - ours
    assert sum(n.count for n in lenient.normalised) >= sum((ours - left).values())


def test_every_generated_case_shows_validata_something(validata: dict) -> None:
    # A case Validata finds nothing in would test nothing: each one breaks its rule (an error or a warning).
    silent = [c.id for c in [*CELLS, *FRENCH, *STRUCTURE] if validata[c.id]["valid"] and not validata[c.id]["warnings"]]
    assert silent == []


def test_french_forms_are_normalised_where_validata_refuses_them(validata: dict, tmp_path: Path) -> None:
    for case in FRENCH:
        refused = {(e["row"], e["field"]) for e in validata[case.id]["errors"] if e["type"] == "type-error"}
        lenient = moisson_report(case, tmp_path, normalise=True)
        rewritten = sum(n.count for n in lenient.normalised)
        left = {(i.row, i.field) for i in lenient.errors}
        assert rewritten == len(refused - left) > 0, case.id
        assert lenient.verdict == ("valid_after_normalisation" if not left else "invalid")
