"""Validata parity: moisson finds the errors `frictionless` (the library, in-process) finds, on the same cells.

Both read the same file; frictionless matches columns by name (`Detector(schema_sync=True)`, as Validata
does) with its error limit lifted. Errors compare on (row, field, type); the Validata `custom_checks`,
which plain frictionless ignores, are left out of the comparison and tested in test_checks/test_custom.
Each legitimate difference is listed below with its reason.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from frictionless import Detector, Resource, Schema
from stdnum.fr import siren, siret

from moisson.files import read_file
from moisson.quality.gate import report_frame
from moisson.quality.schema import TableSchemaRef
from tests.data import SCDL

Key = tuple[int | None, str | None, str]
NO_LIMIT = 10**9


def frictionless_errors(path: Path, descriptor: dict[str, Any]) -> set[Key]:
    """(row, field, type) of every error frictionless reports, matching columns by name."""
    resource = Resource(path.name, basepath=str(path.parent), schema=Schema.from_descriptor(descriptor),
                        detector=Detector(schema_sync=True))
    report = resource.validate(limit_errors=NO_LIMIT)
    errors = [*report.errors, *(e for task in report.tasks for e in task.errors)]
    return {(getattr(e, "row_number", None), getattr(e, "field_name", None), e.type) for e in errors}


def moisson_errors(path: Path, descriptor: dict[str, Any]) -> tuple[set[Key], set[Key]]:
    """Our errors on the file: (schema errors, custom-check errors)."""
    schema = TableSchemaRef(descriptor=descriptor, name=None, version=None, source=str(path))
    read = read_file(path)
    report = report_frame(read.frame, schema, first_row=read.first_row)
    custom = {c.get("name") for c in schema.custom_checks}
    keys = {(i.row, i.field, i.type): i.rule in custom for i in report.errors}
    return {k for k, c in keys.items() if not c}, {k for k, c in keys.items() if c}


def examples() -> list[Any]:
    """Every CSV example next to a tabular SCDL schema."""
    if not SCDL.is_dir():
        return [pytest.param(None, None, marks=pytest.mark.skip(reason=f"reference data not found at {SCDL}"))]
    found = []
    for schema_path in sorted(SCDL.glob("*/schema*.json")):
        descriptor = json.loads(schema_path.read_text(encoding="utf-8"))
        if "fields" not in descriptor:
            continue  # amenagements-cyclables, DECP: JSON Schemas of nested documents, not tables.
        for csv in sorted(schema_path.parent.rglob("*.csv")):
            found.append(pytest.param(schema_path, csv, id=str(csv.relative_to(SCDL))))
    return found


SUBVENTIONS_CELLS = {
    # quality.md §2: French dates are rewritten as ISO (and noted) before casting, so the published
    # file conforms; frictionless, which has no normalisation step, calls the raw text a type error.
    "removed": {(5, "dateConvention", "type-error")},
    "added": set(),
}
# (added: only moisson reports it, removed: only frictionless does)
DIFFERENCES: dict[str, dict[str, set[Key]]] = {
    "subventions/exemples/exemple_invalide_erreurs_cellules.csv": SUBVENTIONS_CELLS,
    "subventions/exemples/exemple_invalide_erreurs_colonnes.csv": SUBVENTIONS_CELLS,
    # frictionless stops at the repeated `notificationUE` label ("matching fields by name requires unique
    # labels") and checks no cell; moisson names the duplicate and checks the rest of the file.
    "subventions/exemple-duplicate-column.csv": {
        "removed": {(None, None, "error")},
        "added": {(None, "notificationUE", "duplicate-label")},
    },
}


def custom_oracle(path: Path, descriptor: dict[str, Any], theirs: set[Key]) -> set[Key]:
    """The custom-check errors python-stdnum and plain reading predict (SIRET/SIREN, one-of-required).

    A cell frictionless already reports (pattern) gets no second message.
    """
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding_errors="replace")
    validators = {"french-siret-value": siret.is_valid, "french-siren-value": siren.is_valid}
    found: set[Key] = set()
    for check in descriptor.get("custom_checks", []):
        name, params = check["name"], check.get("params", {})
        if name in validators and params["column"] in frame:
            for pos, text in enumerate(frame[params["column"]]):
                key = (pos + 2, params["column"], name)
                if text and not validators[name](text) and (pos + 2, params["column"], "constraint-error") \
                        not in theirs:
                    found.add(key)
        elif name == "one-of-required":
            first, second = params["column1"], params["column2"]
            for pos in range(len(frame)):
                if not frame[first].iat[pos] and not frame.get(second, frame[first]).iat[pos]:
                    found.add((pos + 2, first, name))
        else:
            assert name == "french_gps_coordinates", f"no oracle for {name}: write one"
    return found


@pytest.mark.filterwarnings("ignore:The --schema-sync option is deprecated")
@pytest.mark.parametrize(("schema_path", "csv"), examples())
def test_reference_example_same_errors_as_frictionless(schema_path: Path, csv: Path) -> None:
    descriptor = json.loads(schema_path.read_text(encoding="utf-8"))
    name = str(csv.relative_to(SCDL))
    theirs = frictionless_errors(csv, descriptor)
    ours, custom = moisson_errors(csv, descriptor)
    expected = DIFFERENCES.get(name, {"added": set(), "removed": set()})
    assert ours - theirs == expected["added"]
    assert theirs - ours == expected["removed"]
    if "valide" in csv.name and "invalide" not in csv.name:
        assert theirs == set() and ours == set() and custom == set()
    assert custom == custom_oracle(csv, descriptor, theirs)


def rule_case(fields: list[dict[str, Any]], header: str, *rows: str, **extra: Any) -> Any:
    return {"fields": fields, **extra}, "\n".join([header, *rows]) + "\n"


def field(name: str, type_: str = "string", **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, **extra}


# One generated file per rule: valid cells and cells breaking the rule, in a real CSV file.
RULE_CASES = {
    "required": rule_case([field("id"), field("nom", constraints={"required": True})],
                          "id,nom", "1,a", "2,", "3,c"),
    "unique": rule_case([field("code", "integer", constraints={"unique": True})],
                        "code", "1", "2", "1", "01", ""),
    "enum": rule_case([field("nature", constraints={"enum": ["aide en numéraire", "aide en nature"]}),
                       field("n", "integer", constraints={"enum": [1, 2]})],
                      "nature,n", "aide en nature,1", "Aide en nature,3", "aide,2"),
    "pattern": rule_case([field("cp", constraints={"pattern": "[0-9]{5}"}),
                          field("siret", constraints={"pattern": "^\\d{14}$"})],
                         "cp,siret", "38000,21380185500015", "3800,2138018550001", "380000,x"),
    "minimum-maximum": rule_case([field("p", "number", constraints={"minimum": 0, "maximum": 1}),
                                  field("n", "integer", constraints={"minimum": 10, "maximum": 20}),
                                  field("d", "date", constraints={"minimum": "2020-01-01"})],
                                 "p,n,d", "0.5,10,2020-01-01", "1.5,9,2019-12-31", "-0.1,21,2021-06-01"),
    "minLength-maxLength": rule_case([field("s", constraints={"minLength": 2, "maxLength": 4})],
                                     "s", "ab", "a", "abcde", "abcd"),
    "integer": rule_case([field("n", "integer")], "n", "1", "-2", "1.5", "12.0", "abc", "+3", " 4"),
    "number": rule_case([field("x", "number")], "x", "1.5", "-2", "1e3", "abc", "1.2.3", "NaN", ".5"),
    "number-decimalChar": rule_case([field("x", "number", decimalChar=",")], "x", '"1,5"', "2", "abc"),
    "date": rule_case([field("d", "date")], "d", "2024-02-29", "2023-02-29", "2024-13-01", "20240101", "x"),
    "date-format": rule_case([field("d", "date", format="%d/%m/%Y")], "d", "31/12/2023", "2023-12-31",
                             "31/02/2024"),
    "datetime": rule_case([field("t", "datetime")], "t", "2024-01-05T10:00:00", "2024-01-05T10:00:00Z",
                          "2024-01-05", "2024-01-05T25:00:00"),
    "year": rule_case([field("a", "year")], "a", "2024", "24", "abcd", "2024.0"),
    "boolean": rule_case([field("b", "boolean")], "b", "true", "False", "1", "oui", "yes", "0"),
    "boolean-values": rule_case([field("b", "boolean", trueValues=["oui"], falseValues=["non"])],
                                "b", "oui", "non", "Oui", "true"),
    "missing-label": rule_case([field("a"), field("b", constraints={"required": True}), field("c")],
                               "a,c", "1,3"),
    # An extra column is no error when matching by name; a positional match would shift `b` onto `z`.
    "extra-label": rule_case([field("a"), field("b", "integer")], "a,z,b", "1,x,2", "1,y,oops"),
    "reordered-labels": rule_case([field("a", "integer"), field("b"), field("c", "integer")],
                                  "c,a,b", "1,2,x", "y,3,z"),
    "blank-row": rule_case([field("a"), field("b", "integer")], "a,b", "x,1", ",", "y,2"),
    "primary-key": rule_case([field("commune"), field("n", "integer")], "commune,n", "38185,1", "38185,2",
                             "38185,1", "38000,1", primaryKey=["commune", "n"]),
}
# Where moisson knowingly differs from plain frictionless on these files (added, removed).
DROPPED_BLANK_ROW = "the spreadsheet source drops blank rows (noted in the extract) before the gate sees them"
RULE_DIFFERENCES: dict[str, tuple[set[Key], set[Key], str]] = {
    "unique": (set(), {(6, None, "blank-row")}, DROPPED_BLANK_ROW),
    "blank-row": (set(), {(3, None, "blank-row")}, DROPPED_BLANK_ROW),
    # The spec allows NaN/INF for numbers; in a harvested file they are export artefacts, not values.
    "number": ({(7, "x", "type-error")}, set(), "NaN is refused as a number"),
}


@pytest.mark.filterwarnings("ignore:The --schema-sync option is deprecated")
@pytest.mark.parametrize("case", RULE_CASES)
def test_generated_rule_same_errors_as_frictionless(case: str, tmp_path: Path) -> None:
    descriptor, text = RULE_CASES[case]
    path = tmp_path / f"{case}.csv"
    path.write_text(text, encoding="utf-8")
    theirs = frictionless_errors(path, descriptor)
    ours, _ = moisson_errors(path, descriptor)
    assert theirs, "each generated file breaks its rule at least once"
    added, removed, _reason = RULE_DIFFERENCES.get(case, (set(), set(), ""))
    assert (ours - theirs, theirs - ours) == (added, removed)
