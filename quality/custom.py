"""Validata `custom_checks` of SCDL schemas (ignored by plain frictionless), vectorised.

Behaviour follows validata-core: a check on missing columns is skipped (the `required`
constraint reports the column) and empty cells are skipped unless the check is about them.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from moisson.quality.cast import by_distinct, geopoints
from moisson.quality.checks import Issues
from moisson.quality.geography import in_boxes
from moisson.quality.hints import code_hint
from moisson.quality.schema import FieldSpec

LA_POSTE_SIREN = "356000000"
LA_POSTE_HEAD_OFFICE = "35600000000048"
ACTES_PREFIXES = {
    "commande publique", "urbanisme", "domaine et patrimoine", "fonction publique",
    "institutions et vie politique", "libertes publiques et pouvoirs de police", "finances locales",
    "domaines de competences par themes", "autres domaines de competences",
}
LUHN_DOUBLED = np.array([0, 2, 4, 6, 8, 1, 3, 5, 7, 9], dtype=np.int8)
OPERATORS = {"<": operator.lt, "<=": operator.le, "==": operator.eq, "!=": operator.ne,
             ">=": operator.ge, ">": operator.gt}


@dataclass
class Table:
    """What a custom check sees: normalised text, cast values and fields of the present columns."""

    raw: pd.DataFrame
    values: Mapping[str, pd.Series]
    fields: Mapping[str, FieldSpec]
    issues: Issues
    active: np.ndarray

    def filled(self, column: str) -> np.ndarray:
        """Rows to check where the column has a value of the right type."""
        return self.values[column].notna().to_numpy(bool) & self.active


def run_custom_checks(checks: list[dict[str, Any]], table: Table) -> list[str]:
    """Run the schema's custom checks; returns the names of those this version does not know."""
    unknown = []
    for check in checks:
        name = str(check.get("name", ""))
        run = CHECKS.get(name.replace("_", "-"))
        if run is None:
            unknown.append(name)
            continue
        run(check.get("params") or {}, table, name)
    return unknown


def luhn_valid(digits: np.ndarray) -> np.ndarray:
    """Luhn check of each row of a 2-D array of digits (0-9, any integer dtype)."""
    # Every second digit from the right counts doubled, minus 9 above 9: a lookup, no temporary copy.
    total = digits[:, ::-1][:, ::2].sum(axis=1, dtype=np.int32)
    total += LUHN_DOUBLED[digits[:, ::-1][:, 1::2]].sum(axis=1, dtype=np.int32)
    return total % 10 == 0


def identifier_valid(text: pd.Series, length: int) -> np.ndarray:
    """SIREN (9) or SIRET (14) validity, as python-stdnum decides it, for a whole column at once."""
    # A column repeats a few identifiers (the producer's SIRET on every row): check each one once.
    valid = by_distinct(text, lambda texts: pd.Series(_identifier_valid(texts, length), dtype="boolean"))
    return valid.fillna(False).to_numpy(bool)


def _identifier_valid(text: pd.Series, length: int) -> np.ndarray:
    digits_only = f"[0-9]{{{length}}}"
    shaped = text.str.fullmatch(digits_only).fillna(False).to_numpy(bool)
    compact = text
    loose = text.notna().to_numpy(bool) & ~shaped
    if loose.any():
        # Spaces and dots are rare: strip them from the few cells that have another shape only.
        compact = text.copy()
        compact[loose] = text[loose].str.replace("[ .]", "", regex=True)
        shaped = compact.str.fullmatch(digits_only).fillna(False).to_numpy(bool)
    valid = np.zeros(len(text), dtype=bool)
    if not shaped.any():
        return valid
    kept = compact[shaped]
    digits = (np.frombuffer("".join(kept.tolist()).encode("ascii"), dtype=np.uint8) - 48).reshape(-1, length)
    ok = luhn_valid(digits[:, :9])
    if length == 14:
        # La Poste establishments share one SIREN; their SIRET digits sum to a multiple of 5.
        poste = (kept.str.startswith(LA_POSTE_SIREN) & (kept != LA_POSTE_HEAD_OFFICE)).to_numpy(bool)
        ok &= np.where(poste, digits.sum(axis=1) % 5 == 0, luhn_valid(digits))
    valid[shaped] = ok
    return valid


def _identifier(length: int, label: str) -> Callable[[Mapping[str, Any], Table, str], None]:
    shape = re.compile(rf"\d{{{length}}}")

    def check(params: Mapping[str, Any], table: Table, name: str) -> None:
        column = params.get("column")
        if column not in table.values:
            return
        # A cell that already failed the field's pattern gets one message, not a second one.
        bad = table.filled(column) & ~identifier_valid(table.raw[column], length) & ~table.issues.reported(column)
        issues = table.issues
        issues.rows(bad, field=column, type=name, rule=name, detail=lambda pos, v: issues.hint(
            issues.say("custom.identifier", value=v, label=label, length=length),
            code_hint(v or "", shape, issues.lang)))
    return check


def _one_of_required(params: Mapping[str, Any], table: Table, name: str) -> None:
    columns = [params.get("column1", params.get("column")), params.get("column2")]
    present = [c for c in columns if c in table.values]
    if not present:
        table.issues.table(field=columns[0], type=name, rule=name,
                           message=table.issues.say("custom.one-of-absent", first=columns[0], second=columns[1]))
        return
    empty = table.active.copy()
    for column in present:
        empty &= table.raw[column].isna().to_numpy(bool)
    table.issues.rows(empty, field=present[0], type=name, rule=name,
                      detail=lambda pos, v: table.issues.say("custom.one-of", first=columns[0], second=columns[1]))


def _cohesive(params: Mapping[str, Any], table: Table, name: str) -> None:
    columns = [params.get("column"), *params.get("othercolumns", [])]
    if not any(c in table.values for c in columns):
        return
    filled = np.column_stack([table.raw[c].notna().to_numpy(bool) if c in table.raw else
                              np.zeros(len(table.raw), bool) for c in columns])
    bad = table.active & filled.any(axis=1) & ~filled.all(axis=1)
    listed = ", ".join(columns)
    table.issues.rows(bad, field=columns[0], type=name, rule=name,
                      detail=lambda pos, v: table.issues.say("custom.cohesive", columns=listed))


def _compare(params: Mapping[str, Any], table: Table, name: str) -> None:
    left, right, op = params.get("column"), params.get("column2"), params.get("op")
    if left not in table.values or right not in table.values or op not in OPERATORS:
        return
    a, b = _comparable(table.values[left]), _comparable(table.values[right])
    both = table.filled(left) & table.filled(right)
    try:
        holds = OPERATORS[op](a, b).fillna(True).to_numpy(bool)
    except TypeError:
        return
    table.issues.rows(both & ~holds, field=left, type=name, rule=name,
                      detail=lambda pos, v: table.issues.say("custom.compare", left=left, value=v, op=op, right=right,
                                                             other=table.raw[right].iat[pos]))


def _sum(params: Mapping[str, Any], table: Table, name: str) -> None:
    total, parts = params.get("column"), list(params.get("columns", []))
    if total not in table.values or not all(c in table.values for c in parts):
        return
    rows = table.filled(total)
    for part in parts:
        rows &= table.filled(part)
    added = sum((_comparable(table.values[c]) for c in parts), start=pd.Series(0, index=table.raw.index))
    equal = (_comparable(table.values[total]) == added).fillna(True).to_numpy(bool)
    table.issues.rows(rows & ~equal, field=total, type=name, rule=name,
                      detail=lambda pos, v: table.issues.say("custom.sum", total=total, value=v,
                                                             parts=" + ".join(parts), sum=added.iat[pos]))


def _year_interval(params: Mapping[str, Any], table: Table, name: str) -> None:
    column = params.get("column")
    if column not in table.values:
        return
    text = table.raw[column]
    years = text.str.extract("^([0-9]{4})/([0-9]{4})$").apply(pd.to_numeric).to_numpy(float)
    interval = ~np.isnan(years[:, 0])
    single = text.str.fullmatch("[0-9]{4}").fillna(False).to_numpy(bool)
    allow_single = str(params.get("allow-year-only", "")).lower() in ("true", "yes")
    with np.errstate(invalid="ignore"):
        ordered = interval & (years[:, 0] < years[:, 1])
    ok = ordered | (single & allow_single)
    forms = "YYYY, YYYY/YYYY" if allow_single else "YYYY/YYYY"

    def detail(pos: int, value: str | None) -> str:
        if interval[pos]:
            return table.issues.say("custom.years-order", value=value)
        return table.issues.say("custom.years", value=value, forms=forms)
    table.issues.rows(table.filled(column) & ~ok, field=column, type=name, rule=name, detail=detail)


def _actes(params: Mapping[str, Any], table: Table, name: str) -> None:
    column = params.get("column")
    if column not in table.values:
        return
    text = table.raw[column]
    prefix = (text.str.split("/", n=1).str[0].str.normalize("NFD")
              .str.replace("[\u0300-\u036f]", "", regex=True).str.lower().str.strip())
    ok = (text.str.contains("/", regex=False) & ~text.str.contains("[ \t]/|/[ \t]", regex=True)
          & prefix.isin(ACTES_PREFIXES)).fillna(False).to_numpy(bool)
    table.issues.rows(table.filled(column) & ~ok, field=column, type=name, rule=name,
                      detail=lambda pos, v: table.issues.say("custom.actes", value=v))


def _french_gps(params: Mapping[str, Any], table: Table, name: str) -> None:
    column = params.get("column")
    if column not in table.values:
        return
    spec = table.fields[column]
    points = geopoints(table.raw[column], spec.format if spec.type == "geopoint" else "array")
    lon, lat = (points[a].to_numpy(float, na_value=np.nan) for a in ("lon", "lat"))
    inside, swapped = in_boxes(lon, lat), in_boxes(lat, lon)
    rows = table.filled(column) & ~inside
    table.issues.rows(rows & swapped, field=column, type="reversed-french-gps-coordinates", rule=name,
                      detail=lambda pos, v: table.issues.say("custom.gps-reversed", value=v))
    table.issues.rows(rows & ~swapped, field=column, type="french-gps-coordinates", rule=name,
                      detail=lambda pos, v: table.issues.say("custom.gps", value=v))


def _comparable(values: pd.Series) -> pd.Series:
    """Numbers and dates compare as such; text that reads as numbers is compared as numbers."""
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_datetime64_any_dtype(values):
        return values
    return pd.to_numeric(values, errors="coerce").astype("Float64")



CHECKS: dict[str, Callable[[Mapping[str, Any], Table, str], None]] = {
    "french-siret-value": _identifier(14, "SIRET"),
    "french-siren-value": _identifier(9, "SIREN"),
    "one-of-required": _one_of_required,
    "cohesive-columns-value": _cohesive,
    "compare-columns-value": _compare,
    "sum-columns-value": _sum,
    "year-interval-value": _year_interval,
    "nomenclature-actes-value": _actes,
    "french-gps-coordinates": _french_gps,
}
