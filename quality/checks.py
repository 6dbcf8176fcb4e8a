"""Row-level checks of a table against its Table Schema, vectorised with pandas.

Each check builds a boolean mask over the whole column; Python only loops over the failing
rows that are kept as examples (at most `CAP` per field, type and rule; all are counted).
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from moisson.core.errors import RejectedError
from moisson.quality.cast import arrow_text, cast_values, describe_type, fullmatch, json_cells
from moisson.quality.hints import code_hint, enum_hint, label_hint, type_hint, with_hint
from moisson.quality.messages import DEFAULT_LANG, Lang, say
from moisson.quality.normalise import Normalised
from moisson.quality.report import IssueCount, QualityIssue
from moisson.quality.schema import FieldSpec

CAP = 1000
RENAMED_COPY = re.compile(r"(.+)\.[0-9]+")
SHOWN_VALUES = 6
Detail = Callable[[int, str | None], str]
# An issue's kind: its field, type and rule.
Key = tuple[str | None, str, str | None]
# `(position, skipped)`: before the data row at `position`, the source left out `skipped` rows of the file.
RowGaps = Sequence[tuple[int, int]]


class RowShape(Protocol):
    """What the reader found out of shape (`Extract.findings`: quality does not import the connectors)."""

    kind: str
    rows: tuple[int, ...]
    count: int
    columns: tuple[str, ...]


class Issues:
    """Collects errors and warnings; counts every error, keeps the first `cap` of each kind.

    Messages are written in `lang`: checks build them with `say()`.
    """

    def __init__(self, raw: pd.DataFrame, *, first_row: int, row_gaps: RowGaps = (),
                 primary_key: Sequence[str] = (), cap: int = CAP, lang: Lang = DEFAULT_LANG) -> None:
        self.raw = raw
        self.lang = lang
        self.first_row = first_row
        self._gap_positions = np.array([position for position, _ in row_gaps], dtype=np.int64)
        self._gap_offsets = np.cumsum([skipped for _, skipped in row_gaps], dtype=np.int64)
        self.primary_key = [c for c in primary_key if c in raw.columns]
        self.cap = cap
        self.errors: list[QualityIssue] = []
        self._warnings: list[QualityIssue] = []
        self.totals: Counter[Key] = Counter()
        self._flagged: dict[str, np.ndarray] = {}
        # The gate checks a table chunk by chunk (see `next_chunk`): `raw` is the current chunk, whose first row
        # is the table's `offset`-th; `total` counts the table's rows.
        self.offset = 0
        self.total = len(raw)
        self.chunk = 0
        self.seen: dict[str, SeenKeys] = {}
        self._warned: Counter[Key] = Counter()
        self._tables_before: Counter[tuple[object, ...]] = Counter()
        self._tables_now: Counter[tuple[object, ...]] = Counter()
        self._lookup: Lookup | None = None
        self._columns: list[str] = []
        # The kinds of issue (field, type, rule) in the order the checks look for them, merged from each chunk's
        # calls (a chunk may find nothing of a kind): warnings and counts follow it, as for the whole table.
        self._kinds: list[Key] = []
        self._called: dict[Key, None] = {}

    def next_chunk(self, raw: pd.DataFrame, offset: int) -> None:
        """Move on to the chunk `raw` of the table, whose first row is the table's `offset`-th.

        Table-level issues are the same in every chunk (labels, custom checks' parameters): kept once.
        """
        self.chunk += 1
        self._merge_kinds()
        self.raw, self.offset, self._flagged = raw, offset, {}
        self.primary_key = [c for c in self.primary_key if c in raw.columns]
        self._tables_before |= self._tables_now
        self._tables_now = Counter()

    def whole_table(self, lookup: Lookup) -> None:
        """After the last chunk: masks cover the whole table, and `lookup` reads the cells the issues show."""
        self._columns = list(self.raw.columns)
        self.next_chunk(self.raw.iloc[:0], 0)
        self._lookup = lookup

    def _cells(self, columns: Sequence[str], positions: np.ndarray) -> pd.DataFrame:
        """The raw text of `columns` at chunk (or, after `whole_table`, table) positions."""
        if self._lookup is not None:
            return self._lookup(columns, positions)
        return self.raw[list(columns)].iloc[positions].reset_index(drop=True)

    @property
    def error_count(self) -> int:
        """Every error found, stored or not."""
        return sum(self.totals.values())

    @property
    def counts(self) -> list[IssueCount]:
        """Errors per field, type and rule, most frequent first (then in the order of the checks)."""
        rank = self._ranks()
        return [IssueCount(f, t, r, n) for (f, t, r), n in sorted(self.totals.items(),
                                                                  key=lambda kv: (-kv[1], rank.get(kv[0], 0)))]

    @property
    def warnings(self) -> list[QualityIssue]:
        """The warnings, kind by kind in the order of the checks, each kind's by row."""
        rank = self._ranks()
        return sorted(self._warnings, key=lambda i: rank.get((i.field, i.type, i.rule), 0))

    def add_total(self, key: Key, count: int) -> None:
        """Count errors of a kind without storing them."""
        self._called.setdefault(key)
        self.totals[key] += count

    def _ranks(self) -> dict[Key, int]:
        self._merge_kinds()
        return {key: i for i, key in enumerate(self._kinds)}

    def _merge_kinds(self) -> None:
        """Place the kinds the current chunk looked for that earlier ones had not, after those called before."""
        kinds, before = self._kinds, None
        for key in self._called:
            if key not in kinds:
                kinds.insert(kinds.index(before) + 1 if before is not None else 0, key)
            before = key
        self._called = {}

    def rows(self, mask: np.ndarray, *, field: str | None, type: str, rule: str | None, detail: Detail,
             column: str | None = None, warning: bool = False) -> int:
        """Record one issue per row where `mask` is True.

        Args:
            mask: Boolean array over the rows.
            field: Field named in the issue.
            type: Error code.
            rule: Constraint broken.
            detail: Builds the message from the row position and the cell text.
            column: Column whose text is shown as the value (default: `field`).
            warning: Record warnings instead of errors (not counted in `error_count`).

        Returns:
            The number of rows flagged.
        """
        key = (field, type, rule)
        self._called.setdefault(key)
        positions = np.flatnonzero(mask)
        if not len(positions):
            return 0
        target = self._warnings if warning else self.errors
        room = max(self.cap - min((self._warned if warning else self.totals)[key], self.cap), 0)
        if not warning:
            self.totals[key] += len(positions)
            if field is not None:
                self._flagged[field] = self.reported(field) | mask
        column = column or field
        where = self.say("at.field", field=field) if field else ""
        kept = positions[:room]
        if warning:
            self._warned[key] += len(kept)
        names = self._columns if self._lookup is not None else self.raw.columns
        wanted = [c for c in dict.fromkeys([column, *self.primary_key]) if c in names]
        # One take for all the kept cells: reading Arrow strings one by one (`iat`) costs ~13 µs each.
        shown = self._cells(wanted, kept) if len(kept) and wanted else None
        cells = shown[column].tolist() if shown is not None and column in shown.columns else [None] * len(kept)
        for i, (pos, cell) in enumerate(zip(kept.tolist(), cells, strict=True)):
            value = _text(cell)
            row = self.row_number(pos)
            message = _short(f"{self.say('at.row', row=row)}{where}: {detail(pos, value)}", 400)
            target.append(QualityIssue(row=row, key=self._key(shown, i), field=field, type=type, rule=rule,
                                       message=message, value=_short(value)))
        return len(positions)

    def reported(self, field: str) -> np.ndarray:
        """Rows where `field` already has an error: later checks of the same cell stay quiet."""
        return self._flagged.get(field, np.zeros(self.total if self._lookup else len(self.raw), dtype=bool))

    def table(self, *, field: str | None, type: str, message: str, rule: str | None = None,
              warning: bool = False) -> None:
        """Record an issue about the whole table (labels, missing columns…)."""
        issue = QualityIssue(row=None, key=None, field=field, type=type, message=message, rule=rule)
        self._called.setdefault((field, type, rule))
        same = (field, type, rule, message, warning)
        self._tables_now[same] += 1
        if self._tables_now[same] <= self._tables_before[same]:
            return  # an earlier chunk recorded it
        if warning:
            self._warnings.append(issue)
        else:
            self.errors.append(issue)
            self.totals[(field, type, rule)] += 1

    def at_rows(self, rows: Sequence[int], count: int, *, field: str | None, type: str, message: str,
                warning: bool = False) -> None:
        """Record one issue per file row number in `rows` (the first `cap` kept); `count` of them in all."""
        target = self._warnings if warning else self.errors
        key = (field, type, None)
        self._called.setdefault(key)
        room = max(self.cap - min(self.totals[key], self.cap), 0)
        if not warning:
            self.totals[key] += count
        for row in list(rows)[:room]:
            target.append(QualityIssue(row=row, key=None, field=field, type=type,
                                       message=f"{self.say('at.row', row=row)}: {message}"))

    def say(self, key: str, **values: object) -> str:
        """The sentence `key` of `moisson.quality.messages` in the report's language."""
        return say(key, self.lang, **values)

    def hint(self, message: str, hint: str | None) -> str:
        """`message` with its hint in brackets, when there is one."""
        return with_hint(message, hint, self.lang)

    def row_number(self, pos: int) -> int:
        """File row number of a row position in the current chunk, counting the rows the source left out before it."""
        return self.file_row(self.offset + pos)

    def file_row(self, position: int) -> int:
        """File row number of a row position in the whole table."""
        if not len(self._gap_positions):
            return self.first_row + position
        gap = int(np.searchsorted(self._gap_positions, position, side="right"))
        return self.first_row + position + (int(self._gap_offsets[gap - 1]) if gap else 0)

    def positions(self, rows: Sequence[int]) -> np.ndarray:
        """Row positions in the whole table of file row numbers (the inverse of `file_row`)."""
        rows = np.asarray(rows, dtype=np.int64)
        starts = self.first_row + self._gap_positions + self._gap_offsets  # file row of each gap's next position
        gap = np.searchsorted(starts, rows, side="right") - 1
        skipped = np.where(gap >= 0, self._gap_offsets[np.maximum(gap, 0)] if len(starts) else 0, 0)
        positions = rows - self.first_row - skipped
        if len(starts):  # a row the source left out maps to the position after its gap
            following = np.append(self._gap_positions, np.iinfo(np.int64).max)[gap + 1]
            positions = np.minimum(positions, following)
        return np.clip(positions, 0, max(self.total - 1, 0))

    def _key(self, shown: pd.DataFrame | None, i: int) -> str | None:
        if not self.primary_key or shown is None:
            return None
        return " · ".join(_text(shown[c].iat[i]) or "" for c in self.primary_key)


Lookup = Callable[[Sequence[str], np.ndarray], pd.DataFrame]


class SeenKeys:
    """The keys of the rows checked so far (a column's values, a primary key's), as 64-bit hashes, sorted.

    Each distinct key keeps the table position of its first row and how many rows hold it: about 20 bytes per
    distinct key (200 MB for 10,000,000 distinct keys), whatever the keys' text. Two distinct keys share a hash
    with a chance of about n²/2⁶⁵ (3 in a million for 10,000,000 keys).
    """

    def __init__(self) -> None:
        self.hashes = np.empty(0, dtype=np.uint64)
        self.firsts = np.empty(0, dtype=np.int64)
        self.counts = np.empty(0, dtype=np.int32)

    def first_rows(self, keys: pd.DataFrame, rows: np.ndarray, offset: int) -> np.ndarray:
        """For each row of a chunk, the table position of the first row with the same key; records the chunk's keys.

        Args:
            keys: The chunk's key columns.
            rows: The rows whose key counts (others map to themselves).
            offset: Table position of the chunk's first row.
        """
        firsts = offset + np.arange(len(keys), dtype=np.int64)
        taken = np.flatnonzero(rows)
        if not len(taken):
            return firsts
        hashes = key_hashes(keys.iloc[taken])
        unique, index, inverse, counts = np.unique(hashes, return_index=True, return_inverse=True,
                                                   return_counts=True)
        at = np.searchsorted(self.hashes, unique)
        known = at < len(self.hashes)
        known[known] = self.hashes[at[known]] == unique[known]
        first = np.where(known, self.firsts[np.minimum(at, max(len(self.firsts) - 1, 0))] if len(self.firsts)
                         else 0, firsts[taken[index]])
        self.counts[at[known]] += counts[known].astype(np.int32)
        new = ~known
        where = at[new]
        self.hashes = np.insert(self.hashes, where, unique[new])
        self.firsts = np.insert(self.firsts, where, first[new])
        self.counts = np.insert(self.counts, where, counts[new].astype(np.int32))
        firsts[taken] = first[inverse.ravel()]
        return firsts


def key_hashes(keys: pd.DataFrame) -> np.ndarray:
    """One 64-bit hash per row of the key columns, equal for equal values (a date with or without its UTC offset)."""
    plain = {c: (v.dt.tz_convert(None) if isinstance(v.dtype, pd.DatetimeTZDtype) else v) for c, v in keys.items()}
    return pd.util.hash_pandas_object(pd.DataFrame(plain), index=False).to_numpy(np.uint64)


def check_labels(labels: Sequence[str], fields: Sequence[FieldSpec], issues: Issues, *,
                 geometry: str | None = None) -> list[str]:
    """Match columns to fields by name; report duplicate, missing and extra columns.

    Args:
        labels: Column names as found, duplicates included.
        fields: The schema fields.
        issues: Where to record the problems.
        geometry: Column exempt from matching (carried through as is).

    Returns:
        Notes (column order).
    """
    seen: set[str] = set()
    for label in labels:
        if label in seen:
            issues.table(field=label, type="duplicate-label", message=issues.say("label.duplicate", label=label))
        seen.add(label)
    names = [f.name for f in fields]
    # Readers rename a repeated label `x` to `x.2` (ours) or `x.1` (pandas) so both columns survive.
    renamed = {label: m[1] for label in seen if (m := RENAMED_COPY.fullmatch(label)) and m[1] in seen
               and label not in names}
    for label, original in renamed.items():
        issues.table(field=original, type="duplicate-label",
                     message=issues.say("label.duplicate-renamed", label=original, copy=label))
    extra = [label for label in dict.fromkeys(labels)
             if label not in names and label != geometry and label not in renamed]
    for spec in fields:
        if spec.name in seen or spec.name == geometry:
            continue
        near = label_hint(spec.name, extra)
        hint = issues.say("label.looks-like", near=near, name=spec.name) if near else ""
        if spec.required:
            issues.table(field=spec.name, type="missing-label",
                         message=issues.say("label.missing", name=spec.name, hint=hint))
        else:
            issues.table(field=spec.name, type="missing-label", warning=True,
                         message=issues.say("label.missing-optional", name=spec.name, hint=hint))
    for label in extra:
        near = label_hint(label, names)
        hint = issues.say("label.did-you-mean", near=near) if near else ""
        issues.table(field=label, type="extra-label", warning=True,
                     message=issues.say("label.extra", label=label, hint=hint))
    order = [label for label in dict.fromkeys(labels) if label in names]
    if order != [n for n in names if n in order]:
        return [issues.say("label.reordered")]
    return []


def check_row_shapes(findings: Sequence[RowShape], frame: pd.DataFrame, issues: Issues, *,
                     normalise: bool = True) -> tuple[set[str], list[Normalised]]:
    """Errors for the rows the reader found too long or too short, as Validata has them; the rows it left out.

    Blank rows and repeated header rows, which Validata refuses, were left out by the reader: a normalisation
    (warned, with their rows) when `normalise` is on, else errors.

    Args:
        findings: The reader's `Extract.findings`.
        frame: The table as read, columns in file order (a short row's absent cells are null at its end).
        issues: Where to record them.
        normalise: Whether leaving rows out counts as a normalisation (else each such row is an error).

    Returns:
        The columns the reader made for extra values (not labels of the file), and the rows left out.
    """
    extra_columns: set[str] = set()
    left_out: list[Normalised] = []
    once = issues.chunk == 0  # the findings name file rows: recorded with the first chunk
    for finding in findings:
        if finding.kind == "extra-cell":
            extra_columns.update(finding.columns)
            if once:
                issues.at_rows(finding.rows, finding.count, field="", type="extra-cell",
                               message=issues.say("row.extra-cell", columns=", ".join(finding.columns)))
        elif finding.kind in ("blank-row", "repeated-header") and finding.count and once:
            issues.at_rows(finding.rows, finding.count, field=None, type=finding.kind, warning=normalise,
                           message=issues.say(f"row.{finding.kind}-dropped"))
            if normalise:
                left_out.append(Normalised(None, finding.count, issues.say("at.row", row=finding.rows[0]),
                                           issues.say("example.left-out"), f"how.{finding.kind}"))
    shaped = [label for label in map(str, frame.columns) if label not in extra_columns]
    # A cut last row is the shrink guard's to refuse, with its own message: not a missing cell too.
    cut = {row for f in findings if f.kind == "cut-last-row" for row in f.rows}
    for finding in findings:
        if finding.kind != "missing-cell" or not len(frame) or not shaped:
            continue
        finding = replace(finding, rows=tuple(r for r in finding.rows if r not in cut),
                          count=finding.count - len(set(finding.rows) & cut))
        if not finding.rows:
            continue
        # Each chunk names the rows it holds.
        local = issues.positions(finding.rows) - issues.offset
        here = (local >= 0) & (local < len(frame))
        rows = [row for row, inside in zip(finding.rows, here.tolist(), strict=True) if inside]
        if rows:
            # Validata names the first absent cell: the one after the row's last value.
            filled = frame.iloc[local[here], [i for i, c in enumerate(map(str, frame.columns))
                                              if c not in extra_columns]].notna().to_numpy(bool)
            last = np.where(filled.any(axis=1), filled.shape[1] - 1 - np.argmax(filled[:, ::-1], axis=1), -1)
            for row, after in zip(rows, last.tolist(), strict=True):
                absent = shaped[min(after + 1, len(shaped) - 1)]
                issues.at_rows([row], 1, field=absent, type="missing-cell",
                               message=issues.say("row.missing-cell", field=absent))
        if once and finding.count > len(finding.rows):  # the reader lists the first rows only: count the others
            issues.add_total((None, "missing-cell", None), finding.count - len(finding.rows))
    return extra_columns, left_out


def check_blank_rows(raw: pd.DataFrame, issues: Issues, *, warning: bool = False) -> np.ndarray:
    """Flag rows where every cell is empty; returns the mask of rows to check further."""
    blank = raw.isna().all(axis=1).to_numpy(bool) if len(raw.columns) else np.zeros(len(raw), bool)
    issues.rows(blank, field=None, type="blank-row", rule=None, warning=warning,
                detail=lambda pos, v: issues.say("row.blank"))
    return ~blank


def check_field(raw: pd.Series, values: pd.Series, spec: FieldSpec, issues: Issues, active: np.ndarray) -> None:
    """Type, required, enum, pattern, length, bounds, unique and array-item checks of one column.

    Args:
        raw: The normalised text of the column.
        values: The same column cast by `moisson.quality.cast.cast_column`.
        spec: Its field.
        issues: Where to record the errors.
        active: Rows to check (blank rows excluded).
    """
    name, rules = spec.name, spec.constraints
    present = raw.notna().to_numpy(bool) & active
    valid = values.notna().to_numpy(bool) & active
    expected = describe_type(spec, issues.lang)
    issues.rows(present & ~valid, field=name, type="type-error", rule="type",
                detail=_per_value(lambda v: issues.hint(
                    issues.say("cell.type", value=v, expected=expected),
                    type_hint(spec, v or "", issues.lang))))
    if rules.get("required"):
        issues.rows(active & ~present, field=name, type="constraint-error", rule="required",
                    detail=lambda pos, v: issues.say("cell.required"))
    if "enum" in rules:
        _check_enum(raw, values, spec, issues, valid)
    if "pattern" in rules:
        regex = re.compile(rules["pattern"])
        fits = fullmatch(raw, rules["pattern"])
        example = issues.say("cell.example", example=spec.example) if spec.example else ""
        issues.rows(valid & ~fits, field=name, type="constraint-error", rule="pattern",
                    detail=_per_value(lambda v: issues.hint(
                        issues.say("cell.pattern", value=v, pattern=rules["pattern"], example=example),
                        code_hint(v or "", regex, issues.lang))))
    if "minLength" in rules or "maxLength" in rules:
        _check_lengths(raw, spec, issues, valid)
    _check_bounds(values, spec, issues, valid)
    if rules.get("unique"):
        # Against the rows of earlier chunks too: `first` holds table positions.
        first = issues.seen.setdefault(f"unique:{name}", SeenKeys()).first_rows(values.to_frame(), valid,
                                                                                issues.offset)
        duplicate = valid & (first != issues.offset + np.arange(len(values)))
        issues.rows(duplicate, field=name, type="unique-error", rule="unique",
                    detail=lambda pos, v: issues.say("cell.unique", value=v, first=issues.file_row(first[pos])))
    if spec.type == "array" and (spec.array_item or {}).get("constraints"):
        _check_array_items(raw, spec, issues, valid)


def check_primary_key(values: dict[str, pd.Series], primary_key: Sequence[str], issues: Issues,
                      active: np.ndarray) -> None:
    """Every row needs a key, and no two rows the same (compared on the cast values)."""
    if not primary_key or any(c not in values for c in primary_key):
        return
    keys = pd.DataFrame({c: values[c] for c in primary_key})
    label = ", ".join(primary_key)
    empty = keys.isna().any(axis=1).to_numpy(bool) & active
    issues.rows(empty, field=None, type="primary-key", rule="primaryKey",
                detail=lambda pos, v: issues.say("key.empty", columns=label))
    # Against the rows of earlier chunks too: `first` holds table positions.
    first = issues.seen.setdefault("primaryKey", SeenKeys()).first_rows(keys, active & ~empty, issues.offset)
    duplicate = active & ~empty & (first != issues.offset + np.arange(len(keys)))
    issues.rows(duplicate, field=None, type="primary-key", rule="primaryKey",
                detail=lambda pos, v: issues.say("key.duplicate", columns=label, first=issues.file_row(first[pos])))


def _check_enum(raw: pd.Series, values: pd.Series, spec: FieldSpec, issues: Issues, valid: np.ndarray) -> None:
    allowed = cast_values(spec.constraints["enum"], spec).dropna()
    listed = ", ".join(f"'{v}'" for v in spec.constraints["enum"][:SHOWN_VALUES])
    more = ", …" if len(spec.constraints["enum"]) > SHOWN_VALUES else ""
    texts = [str(v) for v in spec.constraints["enum"]]
    bad = valid & ~values.isin(allowed).fillna(False).to_numpy(bool)
    issues.rows(bad, field=spec.name, type="constraint-error", rule="enum",
                detail=_per_value(lambda v: issues.hint(issues.say("cell.enum", value=v, allowed=listed + more),
                                                        enum_hint(v or "", texts, issues.lang))))


def _check_lengths(raw: pd.Series, spec: FieldSpec, issues: Issues, valid: np.ndarray) -> None:
    if spec.type == "array":
        sizes = {text: len(items) for text, items in json_cells(raw.where(valid)).items()}
        lengths = raw.map(sizes).astype("Float64").to_numpy(float, na_value=np.nan)
        unit = issues.say("unit.items")
    else:
        text = arrow_text(raw)
        # A text has no more characters than bytes: under a maximum alone, most columns need no counting.
        longest = pc.max(pc.binary_length(text)).as_py() or 0
        if "minLength" not in spec.constraints and longest <= spec.constraints["maxLength"]:
            return
        # Arrow counts code points as `len` does.
        lengths = pc.utf8_length(text).cast(pa.float64()).fill_null(np.nan).to_numpy()
        unit = issues.say("unit.characters")
    for rule, limit, op in (("minLength", spec.constraints.get("minLength"), np.less),
                            ("maxLength", spec.constraints.get("maxLength"), np.greater)):
        if limit is None:
            continue
        with np.errstate(invalid="ignore"):
            bad = valid & op(lengths, limit)
        issues.rows(bad, field=spec.name, type="constraint-error", rule=rule,
                    detail=lambda pos, v, rule=rule, limit=limit: issues.say(
                        f"cell.{rule}", value=v, count=int(lengths[pos]), unit=unit, limit=limit))


BOUNDS = (("minimum", "lt"), ("maximum", "gt"), ("exclusiveMinimum", "le"), ("exclusiveMaximum", "ge"))


def _check_bounds(values: pd.Series, spec: FieldSpec, issues: Issues, valid: np.ndarray) -> None:
    for rule, op in BOUNDS:
        if rule not in spec.constraints:
            continue
        limit = cast_values([spec.constraints[rule]], spec)
        if limit.isna().iat[0]:
            raise RejectedError(f"Table Schema, champ {spec.name} : la contrainte {rule} "
                                f"{spec.constraints[rule]!r} n'est pas {describe_type(spec)} ; corrigez le schéma.")
        bound = limit.iat[0]
        if isinstance(bound, pd.Timestamp):
            # A schema bound and the column may differ in carrying a UTC offset.
            aware = isinstance(values.dtype, pd.DatetimeTZDtype)
            if aware and bound.tzinfo is None:
                bound = bound.tz_localize("UTC")
            elif not aware and bound.tzinfo is not None:
                bound = bound.tz_convert(None)
        bad = valid & getattr(values, op)(bound).fillna(False).to_numpy(bool)
        shown = spec.constraints[rule]
        issues.rows(bad, field=spec.name, type="constraint-error", rule=rule,
                    detail=lambda pos, v, rule=rule, shown=shown: issues.say(f"cell.{rule}", value=v, limit=shown))


def _check_array_items(raw: pd.Series, spec: FieldSpec, issues: Issues, valid: np.ndarray) -> None:
    rules = (spec.array_item or {}).get("constraints", {})
    enum = rules.get("enum")
    pattern = re.compile(rules["pattern"]) if "pattern" in rules else None
    wrong: dict[str, tuple[str, str]] = {}
    # One pass per distinct cell: menus repeat the same few lists over many rows.
    for text, items in json_cells(raw.where(valid)).items():
        for item in items:
            if enum is not None and item not in enum:
                wrong[text] = ("enum", str(item))
                break
            if pattern is not None and not pattern.fullmatch(str(item)):
                wrong[text] = ("pattern", str(item))
                break
    allowed = ", ".join(repr(v) for v in (enum or [])[:SHOWN_VALUES])
    for rule in ("enum", "pattern"):
        texts = [t for t, (r, _) in wrong.items() if r == rule]
        if not texts:
            continue
        bad = valid & raw.isin(texts).fillna(False).to_numpy(bool)
        issues.rows(bad, field=spec.name, type="constraint-error", rule=rule,
                    detail=lambda pos, v, rule=rule: issues.hint(
                        issues.say(f"item.{rule}", item=wrong[v or ""][1], allowed=allowed,
                                   pattern=rules.get("pattern")),
                        enum_hint(wrong[v or ""][1], enum, issues.lang) if enum else None))



def _per_value(message: Callable[[str | None], str]) -> Detail:
    """A detail told by the cell's text alone, built once per distinct text: bad cells repeat over many rows."""
    once = functools.cache(message)
    return lambda pos, value: once(value)


def _text(value: Any) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    return str(value)


def _short(text: str | None, limit: int = 200) -> str | None:
    """Long cells (GeoJSON, descriptions) are cut in reports."""
    return text if text is None or len(text) <= limit else text[: limit - 1] + "…"
