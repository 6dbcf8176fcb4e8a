"""Validata `custom_checks` of SCDL schemas (ignored by plain frictionless), vectorised.

Behaviour follows validata-core 0.12.5: a check on missing columns is skipped (the `required`
constraint reports the column) and empty cells are skipped unless the check is about them. Its names are
Validata's own checks (`one-of-required`…) and frformat's formats (`siret`, `code-postal`, `commune`…),
which Validata turns into checks of their kebab-case class name and whose errors are `custom-check-error`.
A check may also be declared on a field (`customCheck`: a name, or an object with `name` and parameters).
"""

from __future__ import annotations

import functools
import inspect
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
# Validata runs these old names as their frformat successors, with a warning.
DEPRECATED = {"french-siret-value": "siret", "french-siren-value": "siren",
              "nomenclature-actes-value": "nomenclature-acte"}
# Published schemas (stationnement-cyclable) spell it so; Validata does not know it and refuses the file.
MISSPELT = {"french_gps_coordinates": "french-gps-coordinates"}
CUSTOM_CHECK_ERROR = "custom-check-error"
CHECK_ERROR = "check-error"
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


def run_custom_checks(checks: list[dict[str, Any]], table: Table) -> None:
    """Run the schema's custom checks; deprecated, misspelt and unknown names become warnings, never silence."""
    issues = table.issues
    warned: set[str] = set()
    for check in checks:
        # Errors keep the name the schema declares as their rule; the check run is the one Validata runs.
        declared = name = str(check.get("name", ""))
        params = check.get("params") or {}
        renamed = DEPRECATED.get(name) or MISSPELT.get(name)
        if renamed:
            name = renamed
            if declared not in warned:  # once per name, however many columns use it
                warned.add(declared)
                key = "table.custom-deprecated" if declared in DEPRECATED else "table.custom-underscore"
                issues.table(field=None, type="custom-check", warning=True,
                             message=issues.say(key, name=declared, new=name))
        run = CHECKS.get(name) or _frformat_check(name)
        if run is None:
            issues.table(field=params.get("column"), type="custom-check", warning=True,
                         message=issues.say("table.custom-unknown", name=name))
            continue
        run(params, table, declared)


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
    """The frformat `siret`/`siren` (python-stdnum), vectorised: a column of distinct SIRETs is common."""
    shape = re.compile(rf"\d{{{length}}}")

    def check(params: Mapping[str, Any], table: Table, name: str) -> None:
        column = params.get("column")
        if column not in table.values:
            return
        # As in Validata, a cell that broke the field's pattern is checked too (and reported twice).
        bad = table.filled(column) & ~identifier_valid(table.raw[column], length)
        issues = table.issues
        issues.rows(bad, field=column, type=CUSTOM_CHECK_ERROR, rule=name, detail=lambda pos, v: issues.hint(
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
    # About two cells: no field unless the check names a `column` (as in Validata); the message names both.
    table.issues.rows(empty, field=params.get("column"), type=name, rule=name,
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


def _per_value(params: Mapping[str, Any], table: Table, name: str, valid: Callable[[str], bool],
               detail: Callable[[str | None], str], error: str = CUSTOM_CHECK_ERROR) -> None:
    """A check that judges one cell text at a time, run once per distinct text of the column."""
    column = params.get("column")
    if column not in table.values:
        return
    filled = table.filled(column)
    judged = by_distinct(table.raw[column].where(filled),
                         lambda texts: pd.Series([valid(t) for t in texts], dtype="boolean"))
    bad = filled & ~judged.fillna(True).to_numpy(bool)
    table.issues.rows(bad, field=column, type=error, rule=name, detail=lambda pos, v: detail(v))


@functools.cache
def frformats() -> dict[str, Any]:
    """Validata's name of each frformat format (`CodeCommuneInsee` → `code-commune-insee`) and its class.

    Imported on first use: frformat loads its reference lists (communes, cantons…) at import, a fifth of a
    second that `moisson validate` on a schema without French-format checks does not pay.
    """
    import frformat

    return {_kebab(f.__name__): f for f in frformat.all_formats}


def _frformat_check(name: str) -> Callable[[Mapping[str, Any], Table, str], None] | None:
    """The frformat format of that kebab-case name as a check, as Validata builds it; None when there is none."""
    format_class = frformats().get(name)
    if format_class is None:
        return None

    def check(params: Mapping[str, Any], table: Table, check_name: str) -> None:
        issues = table.issues
        accepted = inspect.signature(format_class.__init__).parameters
        required = [p for p, spec in accepted.items() if p != "self" and spec.default is inspect.Parameter.empty
                    and spec.kind in (spec.POSITIONAL_OR_KEYWORD, spec.KEYWORD_ONLY)]
        missing = [p for p in required if p not in params]
        kwargs = {k: v for k, v in params.items() if k in accepted and k != "self"}
        if isinstance(kwargs.get("options"), Mapping):
            from frformat import Options

            kwargs["options"] = Options(**kwargs["options"])
        try:
            if missing:
                raise ValueError(issues.say("table.custom-missing-param", param=", ".join(missing)))
            instance = format_class(**kwargs)
        except (ValueError, TypeError) as exc:
            # A schema problem, about no column (as in Validata).
            issues.table(field=None, type=CHECK_ERROR, rule=check_name,
                         message=issues.say("table.custom-param", name=check_name, problem=exc))
            return
        label = format_class.metadata.name
        _per_value(params, table, check_name, instance.is_valid,
                   lambda v: issues.say("custom.format", value=v, label=label))
    return check


def _actes(params: Mapping[str, Any], table: Table, name: str) -> None:
    """The frformat `nomenclature-acte`, with its explanation of what is wrong (in French only)."""
    from frformat import NomenclatureActe

    acte = NomenclatureActe()
    issues = table.issues
    _per_value(params, table, name, acte.is_valid,
               lambda v: issues.say("custom.actes", value=v, details=", ".join(acte.is_valid_with_details(v)[1])))


def _phone(params: Mapping[str, Any], table: Table, name: str) -> None:
    issues = table.issues
    _per_value(params, table, name, phone_valid, lambda v: issues.say("custom.phone", value=v), error=name)


def phone_valid(text: str) -> bool:
    """Validata's rule: a valid French number, short number or international number (python phonenumbers)."""
    import phonenumbers

    for country in ("FR", None):
        try:
            number = phonenumbers.parse(text, country)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number) or (country and phonenumbers.is_valid_short_number(number)):
            return True
    return False


def _opening_hours(params: Mapping[str, Any], table: Table, name: str) -> None:
    import opening_hours

    issues = table.issues
    _per_value(params, table, name, opening_hours.validate, lambda v: issues.say("custom.opening-hours", value=v),
               error=name)


def _french_gps_frformat(params: Mapping[str, Any], table: Table, name: str) -> None:
    """The frformat `coordonnees-gps-francaises` boxes on a geopoint (or "lon, lat" text) column.

    Validata 0.12.5 hands this check one value where frformat wants two, and fails on any file that uses it.
    """
    column = params.get("column")
    if column not in table.values:
        return
    spec = table.fields[column]
    points = geopoints(table.raw[column], spec.format if spec.type == "geopoint" else "default")
    lon, lat = (points[a].to_numpy(float, na_value=np.nan) for a in ("lon", "lat"))
    from frformat.geo.coordonnees_gps_francaises import POLYGONS

    bad = table.filled(column) & ~in_boxes(lon, lat, tuple(polygon.bounds for polygon in POLYGONS))
    table.issues.rows(bad, field=column, type=CUSTOM_CHECK_ERROR, rule=name,
                      detail=lambda pos, v: table.issues.say("custom.gps", value=v))


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



def _kebab(name: str) -> str:
    """Validata's name of a frformat class (`CodeCommuneInsee` → `code-commune-insee`)."""
    name = re.sub("(.)([A-Z][a-z]+)", r"\1-\2", name)
    return re.sub("([a-z0-9])([A-Z])", r"\1-\2", name).lower()


CHECKS: dict[str, Callable[[Mapping[str, Any], Table, str], None]] = {
    "siret": _identifier(14, "SIRET"),
    "siren": _identifier(9, "SIREN"),
    "nomenclature-acte": _actes,
    "coordonnees-gps-francaises": _french_gps_frformat,
    "one-of-required": _one_of_required,
    "cohesive-columns-value": _cohesive,
    "compare-columns-value": _compare,
    "sum-columns-value": _sum,
    "year-interval-value": _year_interval,
    "french-gps-coordinates": _french_gps,
    "phone-number-value": _phone,
    "opening-hours-value": _opening_hours,
}
