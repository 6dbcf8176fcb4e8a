"""Simple charts of a published table, drawn as SVG by Python: counts by category, by month or year.

The counts are taken at publication from the checked Parquet file (a few columns only) and kept
in the dataset's view file; the SVG is drawn when the page is rendered, with its numbers also
given as a table so that the chart is never the only way to read them.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from moisson.connectors.csvfile import BATCH_ROWS

#: A text column is a category when it has at most this many distinct values...
MAX_CATEGORIES = 12
#: ...and at least this many rows per value on average (names and ids are not categories).
MIN_ROWS_PER_VALUE = 2
MAX_CHARTS = 3
_DATE_TYPES = {"date", "datetime"}
_MONTHS = ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc.")


def chart_data(data: Path, schema: Mapping[str, Any] | None, geometry: str | None) -> list[dict[str, Any]]:
    """Counts worth a chart: by enum or categorical field, by month or year for a date field.

    The counts are made in one pass over the file, a batch of the charted columns at a time, so the memory
    they take does not grow with the table.

    Returns:
        Up to `MAX_CHARTS` charts `{field, title, by, counts: [[label, n], ...]}`.
    """
    parquet = pq.ParquetFile(data, pre_buffer=False)  # pre-buffered column chunks stay until the file closes
    rows = parquet.metadata.num_rows
    if rows < 2:
        return []
    fields = {f["name"]: f for f in (schema or {}).get("fields", [])}
    types = {f.name: f.type for f in parquet.schema_arrow if f.name != geometry}
    dated = [n for n, kind in types.items()
             if fields.get(n, {}).get("type") in _DATE_TYPES or pa.types.is_temporal(kind)]
    valued = [n for n, kind in types.items() if n not in dated and (fields.get(n, {}).get("constraints", {}).get(
        "enum") or pa.types.is_string(kind) or pa.types.is_large_string(kind))]
    months: dict[str, Counter[int] | None] = {name: Counter() for name in dated}
    values: dict[str, Counter[Any] | None] = {name: Counter() for name in valued}
    for batch in parquet.iter_batches(batch_size=BATCH_ROWS, columns=[*dated, *valued]):
        for name in dated:
            if (counted := months[name]) is not None:
                months[name] = _add_months(counted, batch.column(name))
        for name in valued:
            if (counted := values[name]) is not None:
                counted.update(dict(_pairs(pc.value_counts(pc.drop_null(batch.column(name).cast(pa.string()))))))
                if len(counted) > 10 * MAX_CATEGORIES:
                    values[name] = None  # names or ids: no chart, and no need to count further
    by_period: list[dict[str, Any]] = []
    for name in dated:
        # A date gives one chart (the one a reader expects: how many per month or year), categories the rest.
        if not by_period and (period := _by_period(months[name])):
            by_period.append({"field": name, "title": fields.get(name, {}).get("title") or name, "by": period[0],
                              "counts": period[1]})
    by_value: list[dict[str, Any]] = []
    for name in valued:
        counts = _by_value(values[name])
        enum = bool(fields.get(name, {}).get("constraints", {}).get("enum"))
        if counts and (enum or (len(counts) <= MAX_CATEGORIES and rows / len(counts) >= MIN_ROWS_PER_VALUE)):
            by_value.append({"field": name, "title": fields.get(name, {}).get("title") or name, "by": "value",
                             "counts": counts[:MAX_CATEGORIES]})
    return (by_period + by_value)[:MAX_CHARTS]


def _pairs(counted: pa.StructArray) -> Iterator[tuple[Any, int]]:
    return zip(counted.field("values").to_pylist(), counted.field("counts").to_pylist(), strict=True)


def _by_value(counted: Counter[Any] | None) -> list[list[Any]]:
    if counted is None or not 2 <= len(counted) <= 10 * MAX_CATEGORIES:
        return []
    return sorted(([value, n] for value, n in counted.items() if str(value).strip()),
                  key=lambda pair: (-pair[1], str(pair[0])))


def _add_months(counted: Counter[int], column: pa.Array) -> Counter[int] | None:
    """Add a batch's dates to the counts by month (`yyyymm`); None when the column holds no date Arrow can read."""
    try:
        if not pa.types.is_temporal(column.type):
            column = pc.strptime(pc.utf8_slice_codeunits(column.cast(pa.string()), 0, 10), "%Y-%m-%d", "s",
                                 error_is_null=True)
        values = pc.drop_null(column)
        counted.update(dict(_pairs(pc.value_counts(pc.add(pc.multiply(pc.year(values), 100), pc.month(values))))))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return counted


def _by_period(months: Counter[int] | None) -> tuple[str, list[list[Any]]] | None:
    if months is None or sum(months.values()) < 2:
        return None
    years: Counter[int] = Counter()
    for month, n in months.items():
        years[month // 100] += n
    if max(years) - min(years) >= 2:
        return "year", sorted([str(year), n] for year, n in years.items())
    return "month", sorted([f"{month // 100}-{month % 100:02d}", n] for month, n in months.items())


def period_label(by: str, value: str) -> str:
    """A bar's label in French (`mars 2024` for a month)."""
    if by == "month":
        year, month = value.split("-")
        return f"{_MONTHS[int(month) - 1]} {year}"
    return str(value)


def svg(chart: Mapping[str, Any], chart_id: str) -> str:
    """A bar chart with its title and a text description for assistive technologies."""
    counts = [(period_label(chart["by"], label), n) for label, n in chart["counts"]]
    esc = html.escape
    horizontal = chart["by"] == "value"
    top = max(n for _, n in counts) or 1
    if horizontal:
        bar, gap, left, width = 22, 6, 200, 640
        height = len(counts) * (bar + gap) + 10
        parts = []
        for i, (label, n) in enumerate(counts):
            y = 5 + i * (bar + gap)
            length = (width - left - 60) * n / top
            parts.append(f'<text x="{left - 8}" y="{y + bar * 0.7:.0f}" text-anchor="end">{esc(_short(label))}</text>'
                         f'<rect x="{left}" y="{y}" width="{length:.1f}" height="{bar}"></rect>'
                         f'<text x="{left + length + 6:.1f}" y="{y + bar * 0.7:.0f}">{n}</text>')
    else:
        width, height, bottom = 640, 260, 40
        step = (width - 20) / len(counts)
        bar = max(step * 0.7, 1)
        parts = []
        for i, (label, n) in enumerate(counts):
            length = (height - bottom - 25) * n / top
            x = 10 + i * step
            parts.append(f'<rect x="{x:.1f}" y="{height - bottom - length:.1f}" width="{bar:.1f}" '
                         f'height="{length:.1f}"></rect>')
            if len(counts) <= 24:
                parts.append(f'<text x="{x + bar / 2:.1f}" y="{height - bottom - length - 4:.1f}" '
                             f'text-anchor="middle">{n}</text>'
                             f'<text x="{x + bar / 2:.1f}" y="{height - bottom + 16}" text-anchor="middle">'
                             f"{esc(label)}</text>")
    summary = ", ".join(f"{label} : {n}" for label, n in counts)
    return (f'<svg class="graphique" viewBox="0 0 {width} {height}" width="100%" role="img" '
            f'aria-labelledby="{chart_id}-t {chart_id}-d" xmlns="http://www.w3.org/2000/svg">'
            f'<title id="{chart_id}-t">{esc(chart_title(chart))}</title>'
            f'<desc id="{chart_id}-d">{esc(summary)}</desc>{"".join(parts)}</svg>')


def chart_title(chart: Mapping[str, Any]) -> str:
    """`Nombre de lignes par …` in French."""
    by = {"year": "par année", "month": "par mois"}.get(chart["by"], "par valeur")
    return f"Nombre de lignes {by} de « {chart['title']} »"


def _short(label: str, size: int = 28) -> str:
    return label if len(label) <= size else label[: size - 1] + "…"
