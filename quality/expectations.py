"""Great Expectations suite generated from a Table Schema plus the catalog's own expectations.

GX is imported lazily (it takes seconds) with its analytics off, and runs in one ephemeral
context per process: nothing is written to disk, no GX action runs (Prefect reports).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from types import ModuleType
from typing import Any
from uuid import uuid4

import pandas as pd

from moisson.core.errors import ConfigError
from moisson.quality.cast import cast_values, dtype_of
from moisson.quality.messages import DEFAULT_LANG, Lang, say
from moisson.quality.policy import Expectation
from moisson.quality.report import QualityIssue
from moisson.quality.schema import FieldSpec, TableSchemaRef

RESULT_FORMAT = {"result_format": "BASIC", "partial_unexpected_count": 10}
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
        raise ConfigError(f"quality.expectations: '{expectation.type}' is not a Great Expectations expectation; "
                          "see https://greatexpectations.io/expectations for the names.", dataset_id=dataset_id)
    kwargs = dict(expectation.kwargs)
    kwargs["meta"] = {**(kwargs.get("meta") or {}), "source": "catalog"}
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as exc:
        problems = _short(" ".join(str(exc).split()))
        raise ConfigError(f"quality.expectations: {expectation.type} has wrong arguments ({problems}); "
                          "fix its kwargs in the catalog.", dataset_id=dataset_id) from exc


def schema_expectations(schema: TableSchemaRef, frame: pd.DataFrame) -> list[Any]:
    """The suite that mirrors the schema on the cast frame (quality.md §3 mapping)."""
    gxe = _gx().expectations
    found: list[Any] = []

    def add(cls: Any, field: str, constraint: str, **kwargs: Any) -> None:
        found.append(cls(**kwargs, meta={"source": "schema", "field": field, "constraint": constraint}))

    for spec in schema.fields:
        if spec.required and spec.name not in frame.columns:
            add(gxe.ExpectColumnToExist, spec.name, "required", column=spec.name)
    for spec in schema.fields:
        if spec.name not in frame.columns:
            continue
        name, rules = spec.name, spec.constraints
        dtype = str(frame[name].dtype) if spec.type == "datetime" else dtype_of(spec)
        add(gxe.ExpectColumnTypeToBe, name, "type", column=name, type_=dtype)
        if rules.get("required"):
            add(gxe.ExpectColumnValuesToNotBeNull, name, "required", column=name)
        if rules.get("unique") or schema.primary_key == [name]:
            add(gxe.ExpectColumnValuesToBeUnique, name, "unique", column=name)
        if "enum" in rules and spec.type in ("string", "boolean", *COMPARABLE):
            allowed = cast_values(rules["enum"], spec).dropna().tolist()
            add(gxe.ExpectColumnValuesToBeInSet, name, "enum", column=name, value_set=allowed)
        if "pattern" in rules and spec.type == "string":
            add(gxe.ExpectColumnValuesToMatchRegex, name, "pattern", column=name, regex=f"^(?:{rules['pattern']})$")
        if ("minLength" in rules or "maxLength" in rules) and spec.type == "string":
            add(gxe.ExpectColumnValueLengthsToBeBetween, name, "length", column=name,
                min_value=rules.get("minLength"), max_value=rules.get("maxLength"))
        if spec.type in COMPARABLE:
            _bounds(add, gxe, spec)
        if spec.type in ("geojson", "object", "array"):
            add(gxe.ExpectColumnValuesToBeJsonParseable, name, "type", column=name)
    if len(schema.primary_key) > 1 and all(c in frame.columns for c in schema.primary_key):
        add(gxe.ExpectCompoundColumnsToBeUnique, ", ".join(schema.primary_key), "primaryKey",
            column_list=list(schema.primary_key))
    return found


def _bounds(add: Any, gxe: Any, spec: FieldSpec) -> None:
    rules = spec.constraints
    low = rules.get("minimum", rules.get("exclusiveMinimum"))
    high = rules.get("maximum", rules.get("exclusiveMaximum"))
    if low is None and high is None:
        return
    add(gxe.ExpectColumnValuesToBeBetween, spec.name, "minimum/maximum", column=spec.name,
        min_value=low, max_value=high, strict_min="minimum" not in rules and low is not None,
        strict_max="maximum" not in rules and high is not None)


def run_suite(frame: pd.DataFrame, expectations: Sequence[Any], *, name: str) -> dict[str, Any]:
    """Validate `frame` against `expectations`; the result as JSON-safe data."""
    gx_module = _gx()
    ctx = context()
    source = f"moisson-{name}-{uuid4().hex[:8]}"
    batch_definition = (ctx.data_sources.add_pandas(source).add_dataframe_asset(source)
                        .add_batch_definition_whole_dataframe(source))
    try:
        suite = gx_module.ExpectationSuite(name=source, expectations=list(expectations))
        batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
        return batch.validate(suite, result_format=RESULT_FORMAT).to_json_dict()
    finally:
        ctx.data_sources.delete(source)


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
