"""The schema expectations decided with Arrow give GX's own results, and GX still runs what Arrow cannot decide."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from moisson.quality.cast import TEXT, cast_column
from moisson.quality.expectations import Planned, catalog_expectation, run_suite, schema_expectations
from moisson.quality.policy import Expectation
from moisson.quality.schema import TableSchemaRef

SCHEMA = {
    "fields": [
        {"name": "code", "type": "string", "constraints": {"required": True, "unique": True, "pattern": "[A-Z]\\d{2}",
                                                           "minLength": 3, "maxLength": 3}},
        {"name": "kind", "type": "string", "constraints": {"enum": ["a", "b"]}},
        {"name": "count", "type": "integer", "constraints": {"minimum": 0, "maximum": 10, "enum": [0, 1, 2, 3, 50]}},
        {"name": "share", "type": "number", "constraints": {"exclusiveMinimum": 0, "maximum": 1}},
        {"name": "flag", "type": "boolean", "constraints": {"enum": [True]}},
        {"name": "day", "type": "date", "constraints": {"required": True}},
        {"name": "part", "type": "string"},
        {"name": "absent", "type": "string", "constraints": {"required": True}},
    ],
    "primaryKey": ["kind", "part"],
}


def cast_frame(rows: int, seed: int) -> tuple[pd.DataFrame, TableSchemaRef]:
    """A cast frame with nulls, duplicates and out-of-range values in every column."""
    rng = np.random.default_rng(seed)
    schema = TableSchemaRef(descriptor=SCHEMA, name="test", version="1", source="test")

    def pick(values: list[str | None]) -> pd.Series:
        return pd.Series(np.asarray(values, dtype=object)[rng.integers(0, len(values), rows)], dtype=TEXT)

    text = {"code": pick(["A12", "B34", "C5", "abc", "Z99", None, "A12", "D١٢", "E12\n"]),
            "kind": pick(["a", "b", "c", None]), "count": pick(["0", "3", "11", "-1", None, "50"]),
            "share": pick(["0", "0.5", "1", "1.5", None]), "flag": pick(["true", "false", None]),
            "day": pick(["2024-01-31", None, "2023-12-01"]), "part": pick(["x", "y", None])}
    specs = {f.name: f for f in schema.fields}
    return pd.DataFrame({name: cast_column(column, specs[name]) for name, column in text.items()}), schema


def comparable(results: dict) -> list[tuple]:
    return [(r["expectation_config"]["type"], r["expectation_config"]["kwargs"].get("column"), r["success"],
             {k: v for k, v in r["result"].items()}) for r in results["results"]]


@pytest.mark.parametrize(("rows", "seed"), [(200, 1), (37, 2), (1, 3), (0, 4)])
def test_arrow_decides_what_gx_decides(rows: int, seed: int) -> None:
    frame, schema = cast_frame(rows, seed)
    suite = schema_expectations(schema, frame)
    assert {p.type for p in suite} >= {"expect_column_to_exist", "expect_column_type_to_be",
                                       "expect_column_values_to_not_be_null", "expect_column_values_to_be_unique",
                                       "expect_column_values_to_be_in_set", "expect_column_values_to_match_regex",
                                       "expect_column_value_lengths_to_be_between",
                                       "expect_column_values_to_be_between", "expect_compound_columns_to_be_unique"}
    ours = run_suite(frame, suite, name="arrow")
    theirs = run_suite(frame, suite, name="gx", in_gx=True)
    assert ours["meta"]["decided_without_gx"] == len(suite)
    assert theirs["meta"]["decided_without_gx"] == 0
    for mine, gx in zip(comparable(ours), comparable(theirs), strict=True):
        assert mine == gx
    assert ours["statistics"] == theirs["statistics"]
    if rows >= 37:
        assert not ours["success"]


def test_a_pattern_re2_refuses_and_catalog_expectations_run_in_gx() -> None:
    frame = pd.DataFrame({"code": pd.Series(["ab", "aa", None], dtype=TEXT)})
    lookahead = Planned("expect_column_values_to_match_regex", {"column": "code", "regex": "^(?=a)a.$"},
                        {"source": "schema"})
    catalog = catalog_expectation(Expectation(type="expect_column_values_to_be_in_set",
                                              kwargs={"column": "code", "value_set": ["ab"]}))
    results = run_suite(frame, [lookahead, catalog], name="mixed")
    assert results["meta"]["decided_without_gx"] == 0
    assert [r["result"]["unexpected_count"] for r in results["results"]] == [0, 1]
    assert [r["expectation_config"]["meta"].get("source") for r in results["results"]] == ["schema", "catalog"]
