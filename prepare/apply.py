"""Apply a recipe to an extract: one Arrow pass per rule, no Python loop over rows.

The input is the extract's Parquet (text columns); the output is a Parquet in the schema's layout (text cells,
which the quality gate then checks). Nothing is dropped silently: rows left out are counted per rule, source
columns no rule reads are listed, values a map does not know are listed at every run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import re2

from moisson.prepare.recipe import PLACEHOLDER, Column, FieldRule, Parse, Recipe, header_fingerprint, missing_columns
from moisson.quality.schema import FieldSpec, TableSchemaRef

PREPARED = "prepared.parquet"
SAMPLE = 3
#: Table Schema date formats as strftime patterns.
ISO = {"date": "%Y-%m-%d", "datetime": "%Y-%m-%dT%H:%M:%S", "time": "%H:%M:%S"}


@dataclass
class RuleReport:
    """What one rule did: rows in and out, cells changed, a before/after sample, values its map did not know."""

    rule: str
    field: str | None = None
    rows_in: int = 0
    rows_out: int = 0
    cells_changed: int = 0
    sample: list[tuple[str | None, str | None]] = dataclasses.field(default_factory=list)
    unknown_values: dict[str, int] = dataclasses.field(default_factory=dict)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        out = {k: v for k, v in self.__dict__.items() if v not in (None, {}, [])}
        out["sample"] = [{"before": b, "after": a} for b, a in self.sample]
        return out


@dataclass
class Prepared:
    """The result of a recipe on an extract.

    Attributes:
        path: The prepared Parquet.
        rows: Its rows.
        first_row: File row number of its first row.
        row_gaps: Rows of the file left out before each position (the extract's and the recipe's).
        rules: One report per rule, in the order they ran.
        errors: What stopped a rule (a gone column, an unknown value under `unmapped: error`).
        warnings: What the data officer should know (columns left out, header changed, values emptied).
        blocked: Whether the dataset must not be published (`errors` under `on_failure: block`).
    """

    path: Path
    rows: int
    first_row: int
    row_gaps: tuple[tuple[int, int], ...]
    rules: list[RuleReport]
    errors: list[str]
    warnings: list[str]
    blocked: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON form (the CLI and the Prefect artifact)."""
        return {"rows": self.rows, "blocked": self.blocked, "errors": self.errors, "warnings": self.warnings,
                "rules": [r.to_dict() for r in self.rules]}


def prepare_table(source: Path, recipe: Recipe, schema: TableSchemaRef, out: Path, *,
                  context: Mapping[str, Mapping[str, Any]] | None = None, first_row: int = 2,
                  row_gaps: Sequence[tuple[int, int]] = ()) -> Prepared:
    """Apply `recipe` to the extract `source` and write the result to `out` (a Parquet file).

    Args:
        source: The extract's Parquet (text columns).
        recipe: The dataset's recipe.
        schema: The dataset's Table Schema: field order, date formats, boolean values.
        out: Parquet file to write.
        context: Values of the placeholders: `{"organization": {...}, "dataset": {...}}`.
        first_row: File row number of the extract's first row.
        row_gaps: The extract's row gaps.
    """
    table = pq.read_table(source)
    return _Run(table, recipe, schema, context or {}).write(out, first_row, row_gaps)


class _Run:
    """One application of a recipe to a table."""

    def __init__(self, table: pa.Table, recipe: Recipe, schema: TableSchemaRef,
                 context: Mapping[str, Mapping[str, Any]]) -> None:
        self.recipe, self.context = recipe, context
        self.specs = {f.name: f for f in schema.fields}
        self.columns = [str(c) for c in table.column_names]
        self.rules: list[RuleReport] = []
        self.errors: list[str] = []
        self.warnings: list[str] = []
        self.broken = self._check_header()
        self.table = table.rename_columns([str(i) for i in range(table.num_columns)])
        self.kept = np.arange(table.num_rows)
        self._filter()

    def _check_header(self) -> set[str]:
        """Fields whose rules cannot run on this header (columns gone; positions, when the header changed)."""
        broken: dict[str, str] = {}
        for path, message in missing_columns(self.recipe, self.columns):
            broken.setdefault(str(path[1]) if path[0] == "fields" else "rows.filter", message)
        changed = self.recipe.header is not None and self.recipe.header != header_fingerprint(self.columns)
        if changed:
            self.warnings.append("l'en-tête de la source a changé depuis la recette (colonnes renommées, ajoutées "
                                 "ou déplacées) : vérifiez la recette avec `moisson prepare preview`, puis mettez "
                                 "à jour son header")
            for name, rule in self.recipe.fields.items():
                if any(isinstance(c, int) for c in rule.columns):
                    broken.setdefault(name, "elle lit une colonne par sa position, et l'en-tête a changé")
        for name, why in broken.items():
            self.errors.append(f"la règle de {name!r} ne peut pas s'appliquer : {why}")
        return set(broken)

    def _column(self, column: Column) -> pa.Array:
        index = column if isinstance(column, int) else self.columns.index(column)
        return _text(self.table.column(index))

    def _filter(self) -> None:
        if "rows.filter" in self.broken:
            return
        for test in self.recipe.rows.filter:
            values = self._column(test.column)
            hit = pc.fill_null(pc.is_in(values, value_set=pa.array(test.in_ or test.not_in, pa.string())), False)
            keep = hit if test.in_ is not None else pc.invert(hit)
            self.table = self._keep_rows(self.table, keep, RuleReport(rule=f"filter {test.column}"))

    def build(self) -> pa.Table:
        """The table in the schema's layout, then the row rules on it."""
        made: dict[str, pa.Array] = {}
        used = {f.column if isinstance(f.column, int) else self.columns.index(f.column)
                for f in self.recipe.rows.filter if "rows.filter" not in self.broken}
        absent = []
        for name, spec in self.specs.items():
            rule = self.recipe.fields.get(name)
            if rule is None:
                if name in self.columns:  # same name in the source: taken as is
                    made[name] = self._column(name)
                    used.add(self.columns.index(name))
                elif not spec.required:  # the schema's current layout; a required one stays missing, and said
                    made[name] = pa.nulls(self.table.num_rows, pa.string())
                    absent.append(name)
                continue
            if name in self.broken:  # said in `errors`; an optional field keeps its place in the layout, empty
                if not spec.required:
                    made[name] = pa.nulls(self.table.num_rows, pa.string())
                continue
            used.update(c if isinstance(c, int) else self.columns.index(c) for c in rule.columns)
            made[name] = self._field(name, rule)
        for i, label in enumerate(self.columns):
            if i in used or label in made:
                continue
            if self.recipe.keep_unmapped:
                made[label] = _text(self.table.column(i))
            elif not label.startswith("_"):
                self.warnings.append(f"colonne {label!r} de la source non publiée : aucune règle ne la lit "
                                     "(ajoutez une règle, ou keep_unmapped: true)")
        if absent:
            self.warnings.append(f"champs facultatifs que la source n'a pas, publiés vides : {', '.join(absent)}")
        table = pa.table(made) if made else pa.table({"_": pa.nulls(self.table.num_rows, pa.string())}).drop(["_"])
        return self._row_rules(table)

    def _field(self, name: str, rule: FieldRule) -> pa.Array:
        report = RuleReport(rule=_describe(rule), field=name, rows_in=self.table.num_rows,
                            rows_out=self.table.num_rows)
        before = self._column(rule.columns[0]) if rule.columns else pa.nulls(self.table.num_rows, pa.string())
        if rule.from_ is not None:
            values = before
        elif rule.concat is not None:
            parts = [_blank_as_null(self._column(c)) for c in rule.concat]
            values = pc.binary_join_element_wise(*parts, rule.sep, null_handling="skip")
            values = pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)
        elif rule.const is not None:
            values = pa.repeat(pa.scalar(self._placeholders(rule.const, name), pa.string()), self.table.num_rows)
        else:
            values = pa.nulls(self.table.num_rows, pa.string())
        if rule.split is not None:
            parts = pc.split_pattern(values, rule.split.sep)
            values = pc.list_element(pc.list_slice(parts, rule.split.index, rule.split.index + 1,
                                                   return_fixed_size_list=True), 0)
        if rule.extract is not None:
            values = _extract(values, rule.extract)
        if rule.parse is not None:
            values = _letters(values, rule.parse)
        if rule.map is not None:
            values = self._map(values, rule, report)
        if rule.parse is not None:
            values = self._parse(values, rule.parse, self.specs[name], report)
        if rule.default is not None:
            values = pc.fill_null(_blank_as_null(values), rule.default)
        _compare(before, values, report)
        self.rules.append(report)
        return values

    def _placeholders(self, text: str, name: str) -> str:
        def value(match: Any) -> str:
            found = self.context.get(match.group(1), {}).get(match.group(2))
            if found is None:
                self.errors.append(f"la règle de {name!r} cite {match.group(0)}, que le catalogue ne donne pas "
                                   f"(ajoutez-le sous defaults.{match.group(1)})")
                return ""
            return str(found)

        return PLACEHOLDER.sub(value, text)

    def _map(self, values: pa.Array, rule: FieldRule, report: RuleReport) -> pa.Array:
        mapping = rule.map or {}
        keys = pa.array(list(mapping), pa.string())
        found = pc.index_in(values, value_set=keys)
        mapped = pc.take(pa.array(list(mapping.values()), pa.string()), found)
        unknown = pc.and_(pc.is_null(found), pc.and_(pc.is_valid(values), pc.not_equal(values, "")))
        misses = pc.filter(values, pc.fill_null(unknown, False))
        if len(misses):
            counts = pc.value_counts(misses)
            report.unknown_values = dict(sorted(
                zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True),
                key=lambda kv: -kv[1])[:20])
            listed = ", ".join(repr(v) for v in report.unknown_values)
            if rule.unmapped == "error":
                self.errors.append(f"{report.field} : {len(misses)} valeurs absentes du map ({listed}) : "
                                   "ajoutez-les au map, ou unmapped: keep | empty")
            else:
                what = "gardées telles quelles" if rule.unmapped == "keep" else "vidées"
                self.warnings.append(f"{report.field} : {len(misses)} valeurs absentes du map, {what} ({listed})")
        if rule.unmapped == "empty":
            return mapped
        return pc.if_else(pc.is_null(found), values, mapped)

    def _parse(self, values: pa.Array, parse: Parse, spec: FieldSpec, report: RuleReport) -> pa.Array:
        if parse.date is not None:
            target = ISO.get(spec.type, "%Y-%m-%d") if "%" not in spec.format else spec.format
            stamps = pc.strptime(values, format=parse.date, unit="s", error_is_null=True)
            written = pc.strftime(stamps, format=target)
            failed = pc.and_(pc.is_null(written), pc.is_valid(_blank_as_null(values)))
            if pc.any(failed).as_py():
                # Kept as found: the quality gate then names each bad cell with its row.
                self.warnings.append(f"{spec.name} : {pc.sum(failed).as_py()} dates ne suivent pas {parse.date!r} "
                                     "et restent telles quelles")
            values = pc.if_else(failed, values, written)
        if parse.group is not None:
            for mark in {parse.group} | ({"\u00a0", "\u202f"} if parse.group == " " else set()):
                values = pc.replace_substring(values, mark, "")
        if parse.decimal is not None:
            values = pc.replace_substring(values, parse.decimal, spec.decimal_char or ".")
        if parse.true or parse.false:
            truth = pc.if_else(pc.is_in(values, value_set=pa.array(parse.true, pa.string())),
                               pa.scalar(spec.true_values[0]), pa.scalar(None, pa.string()))
            falsity = pc.if_else(pc.is_in(values, value_set=pa.array(parse.false, pa.string())),
                                 pa.scalar(spec.false_values[0]), pa.scalar(None, pa.string()))
            values = pc.coalesce(truth, falsity, values)
        return values

    def _row_rules(self, table: pa.Table) -> pa.Table:
        rows = self.recipe.rows
        present = [n for n in rows.drop_if_empty if n in table.column_names]
        if present:
            keep = pa.array(np.ones(table.num_rows, bool))
            for name in present:
                keep = pc.and_(keep, pc.is_valid(_blank_as_null(table.column(name).combine_chunks())))
            table = self._keep_rows(table, keep, RuleReport(rule=f"drop_if_empty {', '.join(present)}"))
        key = [n for n in rows.unique if n in table.column_names]
        if key:
            frame = table.select(key).to_pandas()
            keep = pa.array(~frame.duplicated(keep="last").to_numpy(bool))
            table = self._keep_rows(table, keep, RuleReport(rule=f"unique {', '.join(key)}"))
            dropped = self.rules[-1].rows_in - self.rules[-1].rows_out
            if dropped:
                self.warnings.append(f"{dropped} ligne(s) en double sur ({', '.join(key)}) : la dernière est gardée")
        return table

    def _keep_rows(self, table: pa.Table, mask: pa.Array, report: RuleReport) -> pa.Table:
        """The rows of `table` where `mask` holds, counted in `report`; `kept` follows them to the file."""
        report.rows_in = table.num_rows
        self.kept = self.kept[np.asarray(mask.to_numpy(zero_copy_only=False), dtype=bool)]
        table = table.filter(mask)
        report.rows_out = table.num_rows
        self.rules.append(report)
        return table

    def write(self, out: Path, first_row: int, row_gaps: Sequence[tuple[int, int]]) -> Prepared:
        table = self.build()
        out.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, out)
        first, gaps = kept_row_numbers(self.kept, first_row, row_gaps)
        return Prepared(path=out, rows=table.num_rows, first_row=first, row_gaps=gaps, rules=self.rules,
                        errors=self.errors, warnings=self.warnings,
                        blocked=bool(self.errors) and self.recipe.on_failure == "block")


def kept_row_numbers(kept: np.ndarray, first_row: int,
                     row_gaps: Sequence[tuple[int, int]]) -> tuple[int, tuple[tuple[int, int], ...]]:
    """First row and row gaps of the rows at positions `kept`, so reports keep naming the source file's rows."""
    positions = np.arange(int(kept.max()) + 1 if len(kept) else 0)
    shift = np.zeros(len(positions) + 1, dtype=np.int64)
    for position, skipped in row_gaps:
        if position < len(shift):
            shift[position] += skipped
    file_rows = first_row + positions + np.cumsum(shift)[: len(positions)]
    rows = file_rows[kept]
    if not len(rows):
        return first_row, ()
    steps = np.diff(rows) - 1
    gaps = tuple((int(i) + 1, int(steps[i])) for i in np.flatnonzero(steps))
    return int(rows[0]), gaps


def _text(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    return array if pa.types.is_string(array.type) else pc.cast(array, pa.string())


def _blank_as_null(values: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(pc.utf8_trim_whitespace(values), ""), pa.scalar(None, pa.string()), values)


def _letters(values: pa.Array, parse: Parse) -> pa.Array:
    if parse.trim:
        values = pc.utf8_trim_whitespace(values)
    case = {"lower": pc.utf8_lower, "upper": pc.utf8_upper, "title": pc.utf8_title}.get(parse.case or "")
    return case(values) if case else values


def _extract(values: pa.Array, pattern: str) -> pa.Array:
    """The first group of `pattern` (or the whole match); no match gives an empty cell. Arrow's regexes are RE2."""
    hit = pc.fill_null(pc.match_substring_regex(values, pattern), False)
    wrapped = f"(?s)^.*?(?:{pattern}).*$" if re2.compile(pattern).groups else f"(?s)^.*?({pattern}).*$"
    taken = pc.replace_substring_regex(values, pattern=wrapped, replacement=r"\1")
    return pc.if_else(hit, taken, pa.scalar(None, pa.string()))


def _compare(before: pa.Array, after: pa.Array, report: RuleReport) -> None:
    differ = pc.fill_null(pc.not_equal(before, after), True)
    same_null = pc.and_(pc.is_null(before), pc.is_null(after))
    changed = pc.and_(differ, pc.invert(same_null))
    report.cells_changed = int(pc.sum(changed).as_py() or 0)
    where = pc.indices_nonzero(changed)[:SAMPLE]
    report.sample = list(zip(pc.take(before, where).to_pylist(), pc.take(after, where).to_pylist(), strict=True))


def _describe(rule: FieldRule) -> str:
    ops = [k for k in ("from", "const", "concat", "split", "extract", "map", "parse", "default")
           if getattr(rule, "from_" if k == "from" else k) is not None]
    source = rule.from_ if rule.from_ is not None else rule.const if rule.const is not None else rule.concat
    return f"{' + '.join(ops)} {source!r}" if source is not None else " + ".join(ops)
