"""Rewrite French number and date conventions into the forms Table Schema types accept, saying what changed."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from moisson.quality.cast import NUMBER, fullmatch
from moisson.quality.messages import DEFAULT_LANG, Lang, say
from moisson.quality.schema import FieldSpec

# Spaces, tabs, no-break (U+00A0) and narrow no-break (U+202F) spaces: Excel and LibreOffice
# use the last two as thousands separators in French locales. Literal characters, not \s or
# \u escapes, so pandas can hand the regex to pyarrow's RE2 instead of looping in Python.
SPACES = "[ \t\u00a0\u202f]"
FRENCH_MARKS = " \t\u00a0\u202f,"
FRENCH_DATE = "[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}"
ISO_DATE_FORMATS = ("default", "%Y-%m-%d")
INTEGER = "[+-]?[0-9]+"


@dataclass(frozen=True)
class Normalised:
    """Cells of one column that moisson rewrote because the file broke Table Schema (Validata refuses them as is).

    Attributes:
        field: The column; None for rows the reader left out (blank rows, repeated headers).
        count: How many cells were rewritten.
        example_from: The first rewritten cell, as found.
        example_to: What it became.
        how: Message key of the rewrite (`how.dates`, `how.french-numbers`).
    """

    field: str | None
    count: int
    example_from: str
    example_to: str
    how: str

    def to_dict(self) -> dict[str, str | int | None]:
        """What `moisson validate --json` and the JSON report list."""
        return {"field": self.field, "count": self.count, "example_from": self.example_from,
                "example_to": self.example_to}

    def note(self, lang: Lang = DEFAULT_LANG) -> str:
        """One sentence for the report's notes."""
        key = "note.normalised" if self.field is not None else "note.rows-left-out"
        return say(key, lang, column=self.field, count=self.count, how=say(self.how, lang),
                   example_from=self.example_from, example_to=self.example_to)


def normalise(frame: pd.DataFrame, fields: Iterable[FieldSpec], *, french: bool = True,
              dotted: Collection[str] | None = None) -> tuple[pd.DataFrame, list[Normalised]]:
    """Read the number and date columns of `frame` (text columns, nulls as NA) into Table Schema's forms.

    A field's own `groupChar`/`decimalChar`/`bareNumber` are always applied: the file follows its schema, nothing
    is reported. French conventions (`1 200`, `99 786,57`, `05/12/2016`) break the schema: they are rewritten
    and reported only when `french` is on (the catalog's `normalise`); off, they stay and fail the type check,
    as in Validata. String fields are never touched: codes and SIRETs must keep their exact text.

    `dotted` names the number fields some cell of the whole table writes with a dot (their commas are not
    decimal commas), when `frame` is one chunk of it; None judges on `frame`.

    Returns:
        A new frame, and what was rewritten per column.
    """
    out = frame.copy()
    changes: list[Normalised] = []
    for spec in fields:
        if spec.name not in out.columns:
            continue
        column = out[spec.name]
        if spec.type in ("number", "integer") and (spec.group_char or spec.decimal_char or not spec.bare_number):
            out[spec.name] = _schema_numbers(column, spec)
            continue
        if not french:
            continue
        if spec.type in ("number", "integer"):
            fixed = _french_numbers(column, INTEGER if spec.type == "integer" else NUMBER,
                                    None if dotted is None else spec.name in dotted)
            how = "how.french-numbers"
        elif spec.type == "date" and spec.format in ISO_DATE_FORMATS:
            fixed, how = _dates(column), "how.dates"
        else:
            continue
        if fixed is column:
            continue
        changed = np.flatnonzero((fixed != column).fillna(False).to_numpy(bool))
        if len(changed):
            out[spec.name] = fixed
            first = int(changed[0])
            changes.append(Normalised(spec.name, len(changed), str(column.iat[first]), str(fixed.iat[first]), how))
    return out, changes


def _schema_numbers(column: pd.Series, spec: FieldSpec) -> pd.Series:
    """The field's own groupChar/decimalChar/bareNumber applied."""
    fixed = column.str.strip()
    if not spec.bare_number:
        fixed = fixed.str.replace("^[^-+0-9.,]+|[^0-9.,]+$", "", regex=True)
    if spec.group_char:
        fixed = fixed.str.replace(spec.group_char, "", regex=False)
    if spec.decimal_char and spec.decimal_char != ".":
        fixed = fixed.str.replace(spec.decimal_char, ".", regex=False)
    return fixed


def _french_numbers(column: pd.Series, shape: str, dotted: bool | None = None) -> pd.Series:
    """Spaces of French thousands removed, the decimal comma made a dot, where that gives a number of `shape`."""
    # Most columns hold neither spaces nor commas: one search spares rewriting every cell twice.
    touched = rows_containing(column, FRENCH_MARKS)
    if not touched.any():
        return column
    part = column[touched].str.replace(SPACES, "", regex=True)
    # A comma is a decimal comma only when no value uses a dot: "1.234,5" stays an error.
    if not (holds(column, ".") if dotted is None else dotted):
        part = part.str.replace(",", ".", regex=False)
    # A half-fixed cell ("1.234,5" → "1.234,5" without its spaces) keeps its text: it is reported as found.
    shaped = fullmatch(part, shape)
    if not shaped.any():  # "douze mille" without its space is no number: the column stays as found
        return column
    fixed = pd.Series(touched, index=column.index)
    fixed[touched] = shaped
    return column.mask(fixed.to_numpy(bool), part.reindex(column.index))


def _dates(column: pd.Series) -> pd.Series:
    # Only cells holding a slash can be French dates: the pattern runs on those alone.
    french = rows_containing(column, "/")
    if not french.any():
        return column
    french[french] = fullmatch(column[french], FRENCH_DATE)
    if not french.any():
        return column
    parsed = pd.to_datetime(column.where(french), format="%d/%m/%Y", errors="coerce")
    iso = parsed.dt.strftime("%Y-%m-%d").astype(column.dtype)
    # Impossible dates such as 31/02/2024 keep their text and fail the type check.
    return column.mask(parsed.notna(), iso)


def rows_containing(column: pd.Series, characters: str) -> np.ndarray:
    """Rows whose text holds any of `characters`.

    One numpy pass over the Arrow buffers that hold the bytes of every cell, instead of a regex call per
    cell: most number columns hold no French mark at all.
    """
    found = [np.zeros(0, dtype=bool)]
    for offsets, hits in _byte_hits(column, characters):
        rows = np.zeros(len(offsets) - 1, dtype=bool)
        rows[np.searchsorted(offsets, np.flatnonzero(hits) + offsets[0], side="right") - 1] = True
        found.append(rows)
    return np.concatenate(found) & column.notna().to_numpy(bool)


def holds(column: pd.Series, characters: str) -> bool:
    """Whether any cell of the column holds one of `characters` (nulls hold nothing)."""
    return any(hits.any() for _, hits in _byte_hits(column.dropna(), characters))


def _byte_hits(column: pd.Series, characters: str) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Per Arrow chunk, its cell offsets and a mask over its bytes: True where one of `characters` starts.

    UTF-8 never starts a character inside another one, so a byte sequence found is that character.
    """
    codes = [np.frombuffer(c.encode(), dtype=np.uint8) for c in characters]
    arrow = pa.array(column.array, type=pa.large_string())
    for chunk in arrow.chunks if isinstance(arrow, pa.ChunkedArray) else [arrow]:
        _, offsets_buffer, data_buffer = chunk.buffers()
        if data_buffer is None or not len(chunk):
            continue
        offsets = np.frombuffer(offsets_buffer, dtype=np.int64)[chunk.offset: chunk.offset + len(chunk) + 1]
        data = np.frombuffer(data_buffer, dtype=np.uint8)[offsets[0]: offsets[-1]]
        hits = np.zeros(len(data), dtype=bool)
        for code in codes:
            size = len(data) - len(code) + 1
            if size <= 0:
                continue
            hit = data[:size] == code[0]
            for i in range(1, len(code)):
                hit &= data[i: size + i] == code[i]
            hits[:size] |= hit
        yield offsets, hits
