"""The shortcuts the speed benchmark relies on give the same answers as the plain per-cell checks."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa

from moisson.quality.cast import CASTERS, SAMPLE_ROWS, TEXT, cast_column, fullmatch, repetitive
from moisson.quality.gate import report_frame
from moisson.quality.normalise import FRENCH_MARKS, holds, rows_containing
from moisson.quality.schema import FieldSpec
from tests.data import make_schema

CELLS = ["1 234,5", "12.5", None, "a\u00a0b", "x\u202fy", "é,", "", "plain", "\u00e0\u00a0", "tab\there"]


def per_cell(cells: list[str | None], characters: str) -> np.ndarray:
    return np.array([c is not None and any(ch in c for ch in characters) for c in cells])


def test_rows_containing_finds_every_mark_in_multibyte_text_and_chunks() -> None:
    column = pd.Series(CELLS, dtype=TEXT)
    assert (rows_containing(column, FRENCH_MARKS) == per_cell(CELLS, FRENCH_MARKS)).all()
    assert (rows_containing(column, ".") == per_cell(CELLS, ".")).all()
    # A slice starts inside Arrow's buffers; a column read from a file comes in several chunks.
    assert (rows_containing(column.iloc[3:], ",") == per_cell(CELLS[3:], ",")).all()
    chunked = pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([CELLS[:4], CELLS[4:]], pa.large_string())))
    assert (rows_containing(chunked, FRENCH_MARKS) == per_cell(CELLS, FRENCH_MARKS)).all()
    assert not rows_containing(pd.Series([None, None], dtype=TEXT), ",").any()
    assert holds(column, "\u202f") and holds(chunked, "\t") and not holds(column, ";")


def test_repetitive_columns_are_matched_per_distinct_value_with_the_same_result() -> None:
    rng = np.random.default_rng(7)
    codes = np.array(["32402138500011", "3240213850001", "W123456789", None], dtype=object)
    column = pd.Series(codes[rng.integers(0, len(codes), 3 * SAMPLE_ROWS)], dtype=TEXT)
    unique = pd.Series([f"W{n:09d}" for n in range(3 * SAMPLE_ROWS)], dtype=TEXT)
    assert repetitive(column) and not repetitive(unique) and not repetitive(column.iloc[:100])
    for pattern in (r"^\d{14}$", r"^W\d{9}$"):
        assert (fullmatch(column, pattern) == column.str.fullmatch(pattern).fillna(False).to_numpy(bool)).all()


def test_missing_values_of_the_schema_still_become_nulls() -> None:
    schema = make_schema([{"name": "n", "type": "integer", "constraints": {"required": True}},
                          {"name": "t", "type": "string"}], missingValues=["", "NA"])
    frame = pd.DataFrame({"n": ["1", "NA", "x"], "t": ["a", "b", "c"]}, dtype=TEXT)
    report = report_frame(frame, schema, lang="en")
    assert [(e.row, e.rule) for e in report.errors] == [(3, "required"), (4, "type")]


def test_patterns_ending_in_dollar_answer_as_python_re_fullmatch() -> None:
    # Python's `$` also matches before a final newline; `\d` takes Arabic-Indic digits; `\$` is a dollar sign.
    cells = ["W123456789", "W123456789\n", "W12345678", "W\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669",
             "a\n", "a", "", "\n", "b", "5$", "5", "5\\", None]
    column = pd.Series(cells, dtype=TEXT)
    for pattern in (r"^W\d{9}$", r"a$\n?", r"a|$", r"a|b$", "$", r"5\$", r"5\\$", r"^[0-9]{4}(/[0-9]{4})?$"):
        expected = np.array([c is not None and re.fullmatch(pattern, c) is not None for c in cells])
        assert (fullmatch(column, pattern) == expected).all(), pattern


def test_repetitive_number_columns_cast_per_distinct_value_as_cell_by_cell() -> None:
    rng = np.random.default_rng(11)
    texts = np.array(["12.5", " 7 ", "NaN", "-inf", "1e3", "douze", "", "+4", "0012", None], dtype=object)
    column = pd.Series(texts[rng.integers(0, len(texts), 3 * SAMPLE_ROWS)], dtype=TEXT)
    assert repetitive(column)
    for kind in ("number", "integer", "year"):
        spec = FieldSpec("n", kind, "default", {})
        per_distinct, per_cell = cast_column(column, spec), CASTERS[kind](column, spec)
        assert per_distinct.dtype == per_cell.dtype
        assert per_distinct.isna().equals(per_cell.isna())
        assert np.array_equal(per_distinct.to_numpy(float, na_value=-1.0), per_cell.to_numpy(float, na_value=-1.0),
                              equal_nan=True)


def test_max_length_counts_characters_whatever_the_bytes() -> None:
    schema = make_schema([{"name": "t", "type": "string", "constraints": {"maxLength": 3}},
                          {"name": "u", "type": "string", "constraints": {"maxLength": 8}}])
    frame = pd.DataFrame({"t": ["ééé", "abcd", None], "u": ["ééé", "abcd", "ab"]}, dtype=TEXT)
    report = report_frame(frame, schema, lang="en")
    assert [(e.row, e.field, e.rule) for e in report.errors] == [(3, "t", "maxLength")]
