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
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any
from uuid import uuid4

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from moisson.core.errors import ConfigError
from moisson.quality.cast import cast_values, dtype_of
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
    source = f"moisson-{name}-{uuid4().hex[:8]}"
    batch_id = f"{source}-{source}"
    results: list[dict[str, Any] | None] = []
    for expectation in expectations:
        decided = None if in_gx or not isinstance(expectation, Planned) else _decide(frame, expectation)
        if decided is not None:
            decided["expectation_config"]["kwargs"]["batch_id"] = batch_id
        results.append(decided)
    left = [(i, e.to_gx() if isinstance(e, Planned) else e) for i, e in enumerate(expectations) if results[i] is None]
    meta: dict[str, Any] = {"great_expectations_version": importlib.metadata.version("great_expectations"),
                            "decided_without_gx": len(expectations) - len(left)}
    if left:
        ran = _run_in_gx(frame, [e for _, e in left], source)
        meta |= ran.get("meta") or {}
        for (i, _), result in zip(left, ran["results"], strict=True):
            results[i] = result
    done = [r for r in results if r is not None]
    passed = sum(bool(r["success"]) for r in done)
    return {"success": passed == len(done), "results": done, "suite_name": source, "suite_parameters": {},
            "statistics": {"evaluated_expectations": len(done), "successful_expectations": passed,
                           "unsuccessful_expectations": len(done) - passed,
                           "success_percent": passed / len(done) * 100 if done else None},
            "meta": meta, "id": None}


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


def _decide(frame: pd.DataFrame, planned: Planned) -> dict[str, Any] | None:
    """GX's result for `planned` computed with Arrow, or None when GX has to run it."""
    kwargs = planned.kwargs
    if planned.type == "expect_column_to_exist":
        result: dict[str, Any] | None = {}
        success = kwargs["column"] in frame.columns
    elif planned.type == "expect_column_type_to_be":
        observed = str(frame[kwargs["column"]].dtype)
        result, success = {"observed_value": observed}, observed == kwargs["type_"]
    elif planned.type == "expect_compound_columns_to_be_unique":
        result = _compound_unique(frame[kwargs["column_list"]])
        success = result["unexpected_count"] == 0
    elif planned.type in MAPS:
        result = _column_map(frame[kwargs["column"]], planned)
        success = result is not None and result["unexpected_count"] == 0
    else:
        return None
    if result is None:
        return None
    return {"success": success, "expectation_config": {"type": planned.type, "kwargs": dict(kwargs),
                                                       "meta": planned.meta, "severity": "critical"},
            "result": result, "meta": {"decided_by": "moisson (Arrow)"},
            "exception_info": {"raised_exception": False, "exception_traceback": None, "exception_message": None}}


def _column_map(column: pd.Series, planned: Planned) -> dict[str, Any] | None:
    """Element counts, unexpected counts and the first unexpected values, as GX's BASIC format gives them."""
    values = pa.array(column, from_pandas=True)
    present = pc.is_valid(values)
    if planned.type == "expect_column_values_to_not_be_null":
        unexpected = pc.invert(present).to_numpy(zero_copy_only=False)
        count = int(unexpected.sum())
        # GX lists the missing values as pandas holds them: a datetime column's come out as "NaT".
        shown = "NaT" if pd.api.types.is_datetime64_any_dtype(column.dtype) else None
        return {"element_count": len(values), "unexpected_count": count,
                "unexpected_percent": count / len(values) * 100 if len(values) else None,
                "partial_unexpected_list": [shown] * min(count, PARTIAL)}
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
    total, missing, count = len(values), values.null_count, len(rows)
    present_count = total - missing
    return {"element_count": total, "unexpected_count": count,
            "unexpected_percent": count / present_count * 100 if present_count else None,
            "partial_unexpected_list": values.take(pa.array(rows[:PARTIAL], pa.int64())).to_pylist(),
            "missing_count": missing, "missing_percent": missing / total * 100 if total else None,
            "unexpected_percent_total": count / total * 100 if total else None,
            "unexpected_percent_nonmissing": count / present_count * 100 if present_count else None}


def _confirm_with_python(values: pa.Array, rows: np.ndarray, regex: str) -> np.ndarray:
    """Keep the rows Python's `re` (GX's engine) refuses too: it is laxer than RE2 (Unicode digits, a final newline)."""
    if not len(rows):
        return rows
    compiled = re.compile(regex)
    texts = values.take(pa.array(rows, pa.int64())).to_pylist()
    return rows[[compiled.match(str(t)) is None for t in texts]]


def _unique(values: pa.Array, kwargs: dict[str, Any]) -> pa.Array:
    counts = pc.value_counts(values.drop_null())
    repeated = counts.field("values").filter(pc.greater(counts.field("counts"), 1))
    return pc.is_in(values, value_set=repeated)


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


def _compound_unique(columns: pd.DataFrame) -> dict[str, Any]:
    # GX leaves out the rows whose every key column is empty (ignore_row_if="all_values_are_missing").
    missing = columns.isna().all(axis=1).to_numpy(bool)
    repeated = columns.duplicated(keep=False).to_numpy(bool) & ~missing
    rows = np.flatnonzero(repeated)
    total, gone, count = len(columns), int(missing.sum()), len(rows)
    present_count = total - gone
    partial = [{k: _plain(v) for k, v in row.items()} for row in columns.iloc[rows[:PARTIAL]].to_dict("records")]
    return {"element_count": total, "unexpected_count": count,
            "unexpected_percent": count / present_count * 100 if present_count else None,
            "partial_unexpected_list": partial, "missing_count": gone,
            "missing_percent": gone / total * 100 if total else None,
            "unexpected_percent_total": count / total * 100 if total else None,
            "unexpected_percent_nonmissing": count / present_count * 100 if present_count else None}


def _plain(value: Any) -> Any:
    return None if pd.isna(value) else value.item() if isinstance(value, np.generic) else value


MAPS: dict[str, Callable[[pa.Array, dict[str, Any]], pa.Array | None]] = {
    "expect_column_values_to_not_be_null": lambda values, kwargs: None,  # handled apart: it counts the nulls
    "expect_column_values_to_be_unique": _unique,
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
