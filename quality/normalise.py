"""Rewrite French number and date conventions into the forms Table Schema types accept."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from quality.messages import DEFAULT_LANG, Lang, say
from quality.schema import FieldSpec

# Spaces, tabs, no-break (U+00A0) and narrow no-break (U+202F) spaces: Excel and LibreOffice
# use the last two as thousands separators in French locales. Literal characters, not \s or
# \u escapes, so pandas can hand the regex to pyarrow's RE2 instead of looping in Python.
SPACES = "[ \t\u00a0\u202f]"
FRENCH_MARKS = "[ \t\u00a0\u202f,]"
FRENCH_DATE = "[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}"
ISO_DATE_FORMATS = ("default", "%Y-%m-%d")


def normalise(frame: pd.DataFrame, fields: Iterable[FieldSpec],
              lang: Lang = DEFAULT_LANG) -> tuple[pd.DataFrame, list[str]]:
    """Normalise the number, integer and date columns of `frame` (text columns, nulls as NA).

    String fields are never touched: codes and SIRETs must keep their exact text.

    Args:
        frame: The raw text frame.
        fields: The schema fields present in `frame`.
        lang: Language of the notes.

    Returns:
        A new frame, and one note per column changed (`column: N values …`).
    """
    out = frame.copy()
    notes: list[str] = []
    for spec in fields:
        if spec.name not in out.columns:
            continue
        column = out[spec.name]
        if spec.type in ("number", "integer"):
            fixed, how = _numbers(column, spec)
        elif spec.type == "date" and spec.format in ISO_DATE_FORMATS:
            fixed, how = _dates(column), "how.dates"
        else:
            continue
        if fixed is column:
            continue
        changed = int((fixed != column).fillna(False).sum())
        if changed:
            out[spec.name] = fixed
            notes.append(say("note.normalised", lang, column=spec.name, count=changed, how=say(how, lang)))
    return out, notes


def _numbers(column: pd.Series, spec: FieldSpec) -> tuple[pd.Series, str]:
    """Apply the field's own groupChar/decimalChar/bareNumber, else the French conventions (+ the note key)."""
    if spec.group_char or spec.decimal_char or not spec.bare_number:
        fixed = column.str.strip()
        if not spec.bare_number:
            fixed = fixed.str.replace("^[^-+0-9.,]+|[^0-9.,]+$", "", regex=True)
        if spec.group_char:
            fixed = fixed.str.replace(spec.group_char, "", regex=False)
        if spec.decimal_char and spec.decimal_char != ".":
            fixed = fixed.str.replace(spec.decimal_char, ".", regex=False)
        return fixed, "how.schema-numbers"
    # Most columns hold neither spaces nor commas: one search spares rewriting every cell twice.
    touched = column.str.contains(FRENCH_MARKS, regex=True).fillna(False).to_numpy(bool)
    if not touched.any():
        return column, "how.french-numbers"
    part = column[touched].str.replace(SPACES, "", regex=True)
    # A comma is a decimal comma only when no value uses a dot: "1.234,5" stays an error.
    if not column.str.contains(".", regex=False).any():
        part = part.str.replace(",", ".", regex=False)
    fixed = column.copy()
    fixed[touched] = part
    return fixed, "how.french-numbers"


def _dates(column: pd.Series) -> pd.Series:
    french = column.str.fullmatch(FRENCH_DATE).fillna(False).astype(bool)
    if not french.any():
        return column
    parsed = pd.to_datetime(column.where(french), format="%d/%m/%Y", errors="coerce")
    iso = parsed.dt.strftime("%Y-%m-%d").astype(column.dtype)
    # Impossible dates such as 31/02/2024 keep their text and fail the type check.
    return column.mask(parsed.notna(), iso)
