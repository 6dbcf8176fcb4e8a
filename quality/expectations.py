"""Great Expectations suite generated from a Table Schema plus the catalog's own expectations.

The schema's expectations (type, required, unique, enum, pattern, lengths, bounds, compound key) are
decided in one Arrow pass per column and recorded as GX validation results, in GX's own JSON shape
(`tests/quality/test_expectations.py` holds them equal to what GX computes); GX itself runs the catalog's
expectations and any schema expectation the Arrow pass cannot decide (JSON parsing, a pattern RE2 refuses).
GX on the pandas frame took ~25 s on 1,000,000 rows and its import takes ~4.5 s, so it is imported only when
it has something to run, with its analytics off, in one ephemeral context per process: nothing is written to
disk, no GX action runs (Prefect reports).
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from types import ModuleType
from typing import Any
from uuid import uuid4

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from moisson.core.errors import ConfigError
from moisson.quality.cast import cast_values, dtype_of
from moisson.quality.checks import SeenKeys
from moisson.quality.messages import DEFAULT_LANG, Lang, say
from moisson.quality.policy import Expectation
from moisson.quality.report import QualityIssue
from moisson.quality.schema import FieldSpec, TableSchemaRef

PARTIAL = 10
RESULT_FORMAT = {"result_format": "BASIC", "partial_unexpected_count": PARTIAL}
EXAMPLES = 5
COMPARABLE = ("integer", "number", "year")


@functools.cache
def _gx() -> ModuleType:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations

    return great_expectations


@functools.cache
def context() -> Any:
    """The process-wide ephemeral GX context, progress bars off."""
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx = _gx().get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    return ctx


@functools.cache
def _classes() -> dict[str, type]:
    """Expectation classes by their snake_case name (`expect_column_values_to_be_between`)."""
    from great_expectations.expectations.expectation import Expectation as GxExpectation

    module = _gx().expectations
    found = {}
    for attr in dir(module):
        cls = getattr(module, attr)
        if isinstance(cls, type) and issubclass(cls, GxExpectation) and hasattr(cls, "expectation_type"):
            found[cls.expectation_type] = cls
    return found


def catalog_expectation(expectation: Expectation, *, dataset_id: str | None = None) -> Any:
    """Build the GX expectation a catalog entry names.

    Raises:
        ConfigError: Unknown expectation type or wrong arguments.
    """
    cls = _classes().get(expectation.type)
    if cls is None:
        raise ConfigError(f"quality.expectations : '{expectation.type}' n'est pas une expectation Great Expectations ; "
                          "les noms sont listés sur https://greatexpectations.io/expectations.", dataset_id=dataset_id)
    kwargs = dict(expectation.kwargs)
    kwargs["meta"] = {**(kwargs.get("meta") or {}), "source": "catalog"}
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as exc:
        problems = _short(" ".join(str(exc).split()))
        raise ConfigError(f"quality.expectations : {expectation.type} a des arguments incorrects ({problems}) ; "
                          "corrigez ses `kwargs` dans le catalogue.", dataset_id=dataset_id) from exc


@dataclass(frozen=True)
class Planned:
    """A schema expectation, described without GX: its snake_case type, kwargs and meta."""

    type: str
    kwargs: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)

    def to_gx(self) -> Any:
        """The GX expectation object, for GX to run."""
        return _classes()[self.type](**self.kwargs, meta=self.meta)


def schema_expectations(schema: TableSchemaRef, frame: pd.DataFrame) -> list[Planned]:
    """The suite that mirrors the schema on the cast frame."""
    found: list[Planned] = []

    def add(kind: str, field: str, constraint: str, **kwargs: Any) -> None:
        found.append(Planned(kind, kwargs, {"source": "schema", "field": field, "constraint": constraint}))

    for spec in schema.fields:
        if spec.required and spec.name not in frame.columns:
            add("expect_column_to_exist", spec.name, "required", column=spec.name)
    for spec in schema.fields:
        if spec.name not in frame.columns:
            continue
        name, rules = spec.name, spec.constraints
        dtype = str(frame[name].dtype) if spec.type == "datetime" else dtype_of(spec)
        add("expect_column_type_to_be", name, "type", column=name, type_=dtype)
        if rules.get("required"):
            add("expect_column_values_to_not_be_null", name, "required", column=name)
        if rules.get("unique") or schema.primary_key == [name]:
            add("expect_column_values_to_be_unique", name, "unique", column=name)
        if "enum" in rules and spec.type in ("string", "boolean", *COMPARABLE):
            allowed = cast_values(rules["enum"], spec).dropna().tolist()
            add("expect_column_values_to_be_in_set", name, "enum", column=name, value_set=allowed)
        if "pattern" in rules and spec.type == "string":
            add("expect_column_values_to_match_regex", name, "pattern", column=name,
                regex=f"^(?:{rules['pattern']})$")
        if ("minLength" in rules or "maxLength" in rules) and spec.type == "string":
            add("expect_column_value_lengths_to_be_between", name, "length", column=name,
                min_value=rules.get("minLength"), max_value=rules.get("maxLength"))
        if spec.type in COMPARABLE:
            _bounds(add, spec)
        if spec.type in ("geojson", "object", "array"):
            add("expect_column_values_to_be_json_parseable", name, "type", column=name)
    if len(schema.primary_key) > 1 and all(c in frame.columns for c in schema.primary_key):
        add("expect_compound_columns_to_be_unique", ", ".join(schema.primary_key), "primaryKey",
            column_list=list(schema.primary_key))
    return found


def _bounds(add: Any, spec: FieldSpec) -> None:
    rules = spec.constraints
    low = rules.get("minimum", rules.get("exclusiveMinimum"))
    high = rules.get("maximum", rules.get("exclusiveMaximum"))
    if low is None and high is None:
        return
    add("expect_column_values_to_be_between", spec.name, "minimum/maximum", column=spec.name,
        min_value=low, max_value=high, strict_min="minimum" not in rules and low is not None,
        strict_max="maximum" not in rules and high is not None)


def run_suite(frame: pd.DataFrame, expectations: Sequence[Any], *, name: str, in_gx: bool = False) -> dict[str, Any]:
    """Validate `frame` against `expectations`; the result as JSON-safe data, in GX's validation-result shape.

    Args:
        frame: The cast table.
        expectations: `Planned` schema expectations and GX expectation objects (the catalog's).
        name: Names the suite and its batch.
        in_gx: Run every expectation in GX, the Arrow pass deciding none (what the parity tests compare to).
    """
    run = SuiteRun(expectations, name=name, in_gx=in_gx)
    run.add(frame)
    return run.result()


class SuiteRun:
    """The suite validated over a table given chunk by chunk (`add`), its result the whole table's (`result`).

    The Arrow pass tallies each expectation it decides (counts add, the first unexpected values are kept, the
    values seen by `unique` ones are kept as hashes, see `checks.SeenKeys`). GX runs the others on every chunk
    when they judge rows one by one (column map expectations: their counts and lists are merged the same way),
    and once at the end on the columns they name, gathered from the chunks, when they judge a column or the
    table as a whole (a mean, a row count: those columns are then held in memory whole).
    """

    def __init__(self, expectations: Sequence[Any], *, name: str, in_gx: bool = False) -> None:
        self.expectations = list(expectations)
        self.in_gx = in_gx
        self.source = f"moisson-{name}-{uuid4().hex[:8]}"
        self._tallies: dict[int, Tally] = {}
        self._merged: dict[int, dict[str, Any]] = {}
        self._whole: dict[int, Any] = {}
        self._gathered: list[pd.DataFrame] = []
        self._meta: dict[str, Any] | None = None
        self._rows = 0

    def add(self, frame: pd.DataFrame) -> None:
        """Validate the next chunk of the cast table."""
        left: list[tuple[int, Any]] = []
        for i, expectation in enumerate(self.expectations):
            if i in self._whole:
                continue
            if i in self._tallies:
                if not self._tallies[i].add(frame, self._rows):
                    raise RuntimeError(f"{expectation}: decided by Arrow on the first chunk, not on a later one")
                continue
            if not self._rows and not self.in_gx and isinstance(expectation, Planned):
                tally = Tally(expectation, seen=SeenKeys() if expectation.type in UNIQUE else None)
                if tally.add(frame, 0):
                    self._tallies[i] = tally
                    continue
            gx = expectation.to_gx() if isinstance(expectation, Planned) else expectation
            if not self._rows and not _row_by_row(gx):
                self._whole[i] = gx
            else:
                left.append((i, gx))
        if left:
            ran = _run_in_gx(frame, [e for _, e in left], self.source)
            self._meta = self._meta or ran.get("meta") or {}
            for (i, _), result in zip(left, ran["results"], strict=True):
                self._merged[i] = _merge(self._merged[i], result) if i in self._merged else result
        if self._whole:
            columns = list(dict.fromkeys(c for e in self._whole.values() for c in _columns_of(e, frame)))
            self._gathered.append(frame[columns])
        self._rows += len(frame)

    def result(self) -> dict[str, Any]:
        """The whole table's validation result (JSON-safe data, GX's shape)."""
        batch_id = f"{self.source}-{self.source}"
        if self._whole:
            gathered = pd.concat(self._gathered, ignore_index=True)
            self._gathered = [gathered]
            ran = _run_in_gx(gathered, list(self._whole.values()), self.source)
            self._meta = self._meta or ran.get("meta") or {}
            self._merged.update(zip(self._whole, ran["results"], strict=True))
        results = []
        for i in range(len(self.expectations)):
            if i in self._tallies:
                decided = self._tallies[i].outcome()
                decided["expectation_config"]["kwargs"]["batch_id"] = batch_id
                results.append(decided)
            elif i in self._merged:
                results.append(self._merged[i])
        meta: dict[str, Any] = {"great_expectations_version": importlib.metadata.version("great_expectations"),
                                "decided_without_gx": len(self._tallies)} | (self._meta or {})
        passed = sum(bool(r["success"]) for r in results)
        return {"success": passed == len(results), "results": results, "suite_name": self.source,
                "suite_parameters": {},
                "statistics": {"evaluated_expectations": len(results), "successful_expectations": passed,
                               "unsuccessful_expectations": len(results) - passed,
                               "success_percent": passed / len(results) * 100 if results else None},
                "meta": meta, "id": None}


def _row_by_row(expectation: Any) -> bool:
    """Whether GX judges each row (or pair, or row of columns) apart: then its chunks' results add up."""
    from great_expectations.expectations.expectation import (
        ColumnMapExpectation,
        ColumnPairMapExpectation,
        MulticolumnMapExpectation,
    )

    return isinstance(expectation, ColumnMapExpectation | ColumnPairMapExpectation | MulticolumnMapExpectation)


def _columns_of(expectation: Any, frame: pd.DataFrame) -> list[str]:
    """The columns a GX expectation names (every column for a table-level one such as a row count)."""
    kwargs = expectation.configuration.kwargs
    named = [kwargs.get(k) for k in ("column", "column_A", "column_B")] + list(kwargs.get("column_list") or [])
    named = [c for c in named if isinstance(c, str) and c in frame.columns]
    return named or list(frame.columns)


def _merge(first: dict[str, Any], then: dict[str, Any]) -> dict[str, Any]:
    """Two chunks' results of one GX map expectation, as GX gives them for both chunks at once."""
    if (first.get("exception_info") or {}).get("raised_exception"):
        return first
    if (then.get("exception_info") or {}).get("raised_exception"):
        return then
    a, b = first.get("result") or {}, then.get("result") or {}
    total = a.get("element_count", 0) + b.get("element_count", 0)
    missing = a.get("missing_count", 0) + b.get("missing_count", 0)
    count = a.get("unexpected_count", 0) + b.get("unexpected_count", 0)
    partial = ((a.get("partial_unexpected_list") or []) + (b.get("partial_unexpected_list") or []))[:PARTIAL]
    present = total - missing
    result = dict(a) | {"element_count": total, "unexpected_count": count, "partial_unexpected_list": partial}
    if "missing_count" in a:
        result |= {"missing_count": missing, "missing_percent": missing / total * 100 if total else None,
                   "unexpected_percent_total": count / total * 100 if total else None,
                   "unexpected_percent_nonmissing": count / present * 100 if present else None}
    result["unexpected_percent"] = count / present * 100 if present else None
    mostly = ((first.get("expectation_config") or {}).get("kwargs") or {}).get("mostly") or 1
    return dict(first) | {"result": result, "success": not present or (present - count) / present >= mostly}


@dataclass
class Tally:
    """What the Arrow pass found for one expectation so far, over the chunks seen."""

    planned: Planned
    total: int = 0
    count: int = 0
    missing: int = 0
    partial: list[tuple[int, Any]] = field(default_factory=list)
    observed: str | None = None
    exists: bool = True
    seen: SeenKeys | None = None

    def add(self, frame: pd.DataFrame, offset: int) -> bool:
        """Count a chunk (whose first row is the table's `offset`-th); False when Arrow cannot decide it."""
        kind, kwargs = self.planned.type, self.planned.kwargs
        if kind == "expect_column_to_exist":
            self.exists = kwargs["column"] in frame.columns
        elif kind == "expect_column_type_to_be":
            observed = str(frame[kwargs["column"]].dtype)
            # A datetime column carries offsets (UTC) when any of its cells does: a chunk may have none.
            self.observed = observed if self.observed is None or "UTC" in observed else self.observed
        elif kind in UNIQUE:
            self._unique(frame[kwargs["column_list"] if "column_list" in kwargs else [kwargs["column"]]], offset)
        elif kind in MAPS:
            found = _column_map(frame[kwargs["column"]], self.planned)
            if found is None:
                return False
            total, count, missing, partial = found
            self.total, self.count, self.missing = self.total + total, self.count + count, self.missing + missing
            self.partial += [(offset, v) for v in partial][: PARTIAL - len(self.partial)]
        else:
            return False
        return True

    def _unique(self, keys: pd.DataFrame, offset: int) -> None:
        """Rows whose key another row holds, the first ones included (GX's `unique`), across chunks."""
        compound = len(keys.columns) > 1
        # GX leaves out the rows without a value (a compound key: those with no value at all).
        gone = keys.isna().all(axis=1).to_numpy(bool)
        self.total += len(keys)
        self.missing += int(gone.sum())
        first = self.seen.first_rows(keys, ~gone, offset)
        positions = offset + np.arange(len(keys))
        again = np.flatnonzero(~gone & (first != positions))
        if not len(again):
            return
        # The first unexpected rows: the earliest repeated ones, and the first rows of the keys they repeat.
        firsts, at = np.unique(first[again], return_index=True)
        shown = np.concatenate([again[:PARTIAL], again[at[:PARTIAL]]])
        rows = keys.iloc[shown]
        values = ([{k: _plain(v) for k, v in row.items()} for row in rows.to_dict("records")] if compound
                  else pa.array(rows.iloc[:, 0], from_pandas=True).to_pylist())
        candidates = dict(self.partial)
        for pos, value in zip([*positions[again[:PARTIAL]].tolist(), *firsts[:PARTIAL].tolist()], values,
                              strict=True):
            candidates.setdefault(pos, value)
        self.partial = sorted(candidates.items())[:PARTIAL]

    def outcome(self) -> dict[str, Any]:
        """GX's result for the whole table."""
        planned = self.planned
        kind = planned.type
        if kind == "expect_column_to_exist":
            result: dict[str, Any] = {}
            success = self.exists
        elif kind == "expect_column_type_to_be":
            result, success = {"observed_value": self.observed}, self.observed == planned.kwargs["type_"]
            if str(planned.kwargs["type_"]).startswith("datetime64") and str(self.observed).startswith("datetime64"):
                # A datetime field expects the type its cells give (UTC when one carries an offset): the first
                # chunk's may have had none.
                success, planned = True, replace(planned, kwargs=planned.kwargs | {"type_": self.observed})
        else:
            if kind in UNIQUE:
                self.count = int(self.seen.counts[self.seen.counts > 1].sum())
            result = _counts(self.total, self.count, self.missing, [v for _, v in self.partial],
                             nulls=kind == "expect_column_values_to_not_be_null")
            success = self.count == 0
        return {"success": success, "expectation_config": {"type": kind, "kwargs": dict(planned.kwargs),
                                                           "meta": planned.meta, "severity": "critical"},
                "result": result, "meta": {"decided_by": "moisson (Arrow)"},
                "exception_info": {"raised_exception": False, "exception_traceback": None, "exception_message": None}}


def _counts(total: int, count: int, missing: int, partial: list[Any], *, nulls: bool = False) -> dict[str, Any]:
    """Element counts, unexpected counts and the first unexpected values, as GX's BASIC format gives them."""
    if nulls:
        return {"element_count": total, "unexpected_count": count,
                "unexpected_percent": count / total * 100 if total else None, "partial_unexpected_list": partial}
    present_count = total - missing
    return {"element_count": total, "unexpected_count": count,
            "unexpected_percent": count / present_count * 100 if present_count else None,
            "partial_unexpected_list": partial,
            "missing_count": missing, "missing_percent": missing / total * 100 if total else None,
            "unexpected_percent_total": count / total * 100 if total else None,
            "unexpected_percent_nonmissing": count / present_count * 100 if present_count else None}


def _run_in_gx(frame: pd.DataFrame, expectations: Sequence[Any], source: str) -> dict[str, Any]:
    gx_module = _gx()
    ctx = context()
    batch_definition = (ctx.data_sources.add_pandas(source).add_dataframe_asset(source)
                        .add_batch_definition_whole_dataframe(source))
    try:
        suite = gx_module.ExpectationSuite(name=source, expectations=list(expectations))
        batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
        return batch.validate(suite, result_format=RESULT_FORMAT).to_json_dict()
    finally:
        ctx.data_sources.delete(source)


def _column_map(column: pd.Series, planned: Planned) -> tuple[int, int, int, list[Any]] | None:
    """Rows, unexpected rows, missing values and the first unexpected values of a chunk; None when GX decides."""
    values = pa.array(column, from_pandas=True)
    present = pc.is_valid(values)
    if planned.type == "expect_column_values_to_not_be_null":
        count = int(pc.invert(present).to_numpy(zero_copy_only=False).sum())
        # GX lists the missing values as pandas holds them: a datetime column's come out as "NaT".
        shown = "NaT" if pd.api.types.is_datetime64_any_dtype(column.dtype) else None
        return len(values), count, 0, [shown] * min(count, PARTIAL)
    try:
        failing = MAPS[planned.type](values, planned.kwargs)
    except (pa.ArrowException, TypeError, ValueError):
        return None  # a type or pattern Arrow cannot handle: GX decides
    if failing is None:
        return None
    unexpected = pc.and_kleene(failing, present).to_numpy(zero_copy_only=False) & present.to_numpy(
        zero_copy_only=False)
    rows = np.flatnonzero(unexpected)
    if planned.type == "expect_column_values_to_match_regex":
        rows = _confirm_with_python(values, rows, planned.kwargs["regex"])
    return (len(values), len(rows), values.null_count,
            values.take(pa.array(rows[:PARTIAL], pa.int64())).to_pylist())


def _confirm_with_python(values: pa.Array, rows: np.ndarray, regex: str) -> np.ndarray:
    """Keep the rows Python's `re` (GX's engine) refuses too: it is laxer than RE2 (Unicode digits, a final newline)."""
    if not len(rows):
        return rows
    compiled = re.compile(regex)
    texts = values.take(pa.array(rows, pa.int64())).to_pylist()
    return rows[[compiled.match(str(t)) is None for t in texts]]


def _in_set(values: pa.Array, kwargs: dict[str, Any]) -> pa.Array:
    allowed = pa.array(kwargs["value_set"], type=values.type)
    return pc.invert(pc.is_in(values, value_set=allowed))


def _regex(values: pa.Array, kwargs: dict[str, Any]) -> pa.Array | None:
    if not pa.types.is_string(values.type) and not pa.types.is_large_string(values.type):
        return None
    return pc.invert(pc.match_substring_regex(values, kwargs["regex"]))


def _lengths(values: pa.Array, kwargs: dict[str, Any]) -> pa.Array | None:
    if not pa.types.is_string(values.type) and not pa.types.is_large_string(values.type):
        return None
    return _outside(pc.utf8_length(values), kwargs.get("min_value"), kwargs.get("max_value"), False, False)


def _between(values: pa.Array, kwargs: dict[str, Any]) -> pa.Array | None:
    if not (pa.types.is_integer(values.type) or pa.types.is_floating(values.type)):
        return None
    return _outside(values, kwargs.get("min_value"), kwargs.get("max_value"), kwargs.get("strict_min", False),
                    kwargs.get("strict_max", False))


def _outside(values: pa.Array, low: Any, high: Any, strict_low: bool, strict_high: bool) -> pa.Array:
    fails = pa.array(np.zeros(len(values), bool))
    if low is not None:
        fails = pc.or_(fails, (pc.less_equal if strict_low else pc.less)(values, low))
    if high is not None:
        fails = pc.or_(fails, (pc.greater_equal if strict_high else pc.greater)(values, high))
    return fails


UNIQUE = ("expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique")


def _plain(value: Any) -> Any:
    return None if pd.isna(value) else value.item() if isinstance(value, np.generic) else value


MAPS: dict[str, Callable[[pa.Array, dict[str, Any]], pa.Array | None]] = {
    "expect_column_values_to_not_be_null": lambda values, kwargs: None,  # handled apart: it counts the nulls
    "expect_column_values_to_be_in_set": _in_set,
    "expect_column_values_to_match_regex": _regex,
    "expect_column_value_lengths_to_be_between": _lengths,
    "expect_column_values_to_be_between": _between,
}


def summarise(results: dict[str, Any],
              lang: Lang = DEFAULT_LANG) -> tuple[list[dict[str, Any]], list[QualityIssue]]:
    """One line per expectation for the report, and an error per failing catalog expectation (in `lang`)."""
    lines: list[dict[str, Any]] = []
    issues: list[QualityIssue] = []
    for outcome in results.get("results", []):
        config = outcome.get("expectation_config", {})
        kwargs, meta = config.get("kwargs", {}), config.get("meta") or {}
        column = kwargs.get("column") or ", ".join(kwargs.get("column_list") or []) or None
        result = outcome.get("result") or {}
        failure = (outcome.get("exception_info") or {})
        error = failure.get("exception_message") if failure.get("raised_exception") else None
        line = {"expectation": config.get("type"), "column": column, "source": meta.get("source"),
                "success": bool(outcome.get("success")), "unexpected": result.get("unexpected_count"),
                "examples": [str(v) for v in (result.get("partial_unexpected_list") or [])[:EXAMPLES]],
                "observed": _short(result.get("observed_value")), "error": error}
        lines.append(line)
        if meta.get("source") == "catalog" and not line["success"]:
            issues.append(_catalog_issue(line, lang))
    return lines, issues


def _catalog_issue(line: dict[str, Any], lang: Lang) -> QualityIssue:
    where = say("gx.on-column", lang, column=line["column"]) if line["column"] else ""
    named = {"expectation": line["expectation"], "where": where}
    if line["error"]:
        message = say("gx.could-not-run", lang, error=line["error"], **named)
    elif line["unexpected"]:
        examples = ", ".join(f"'{v}'" for v in line["examples"])
        message = say("gx.unexpected", lang, count=line["unexpected"], examples=examples, **named)
    else:
        observed = say("gx.observed", lang, observed=line["observed"]) if line["observed"] is not None else ""
        message = say("gx.failed", lang, observed=observed, **named)
    return QualityIssue(row=None, key=None, field=line["column"], type="expectation-error",
                        message=message, rule=line["expectation"])


def _short(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if len(text) <= 200 else text[:199] + "…"
