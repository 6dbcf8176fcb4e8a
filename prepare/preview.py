"""What a recipe does to the first rows of an extract, without publishing.

The rules' reports, and the Validata-style errors (the quality gate's checks, French numbers and dates not
rewritten) before and after.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from moisson.core.notes import counted
from moisson.prepare.apply import Prepared, prepare_table
from moisson.prepare.recipe import Recipe
from moisson.quality.gate import read_text_table, report_frame
from moisson.quality.schema import TableSchemaRef

#: Errors listed per side; all are counted.
LISTED = 20


def preview(source: Path, recipe: Recipe, schema: TableSchemaRef, *, rows: int = 1000,
            context: Mapping[str, Mapping[str, Any]] | None = None, first_row: int = 2,
            row_gaps: Sequence[tuple[int, int]] = ()) -> dict[str, Any]:
    """Apply `recipe` to the first `rows` rows of `source` and check both sides against `schema`."""
    with tempfile.TemporaryDirectory(prefix="moisson-preview-") as tmp:
        head = Path(tmp) / "head.parquet"
        first = next(pq.ParquetFile(source).iter_batches(batch_size=rows), None)
        pq.write_table(pa.Table.from_batches([first]) if first is not None else pq.read_table(source), head)
        prepared = prepare_table(head, recipe, schema, Path(tmp) / "prepared.parquet", context=context,
                                 first_row=first_row, row_gaps=row_gaps)
        before = _errors(head, schema, first_row, row_gaps)
        after = _errors(prepared.path, schema, prepared.first_row, prepared.row_gaps)
    return summary(prepared, before=before, after=after)


def summary(prepared: Prepared, *, before: Mapping[str, Any] | None = None,
            after: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The JSON summary of a preparation (the CLI's `--json` and the Prefect artifact)."""
    out = prepared.to_dict()
    if before is not None:
        out["errors_before"] = before
    if after is not None:
        out["errors_after"] = after
    return out


def _errors(path: Path, schema: TableSchemaRef, first_row: int, row_gaps: Sequence[tuple[int, int]]) -> dict:
    frame, _ = read_text_table(path)
    report = report_frame(frame, schema, first_row=first_row, row_gaps=tuple(row_gaps), normalise=False)
    return {"count": report.error_count, "errors": [i.to_dict() for i in report.errors[:LISTED]]}


def to_markdown(dataset_id: str, result: Mapping[str, Any]) -> str:
    """The summary as Markdown, for the Prefect UI."""
    state = "bloquée" if result["blocked"] else "appliquée"
    prepared = counted(result["rows"], "ligne préparée", "lignes préparées")
    lines = [f"# Préparation de {dataset_id} : {state}", "", f"{prepared}.", "",
             "| règle | champ | lignes avant | lignes après | cellules changées | exemple | valeurs inconnues |",
             "|---|---|---|---|---|---|---|"]
    for rule in result["rules"]:
        sample = "; ".join(f"{s['before']!r} → {s['after']!r}" for s in rule.get("sample", [])[:1])
        unknown = ", ".join(f"{v!r} ({n})" for v, n in rule.get("unknown_values", {}).items())
        lines.append(f"| {_cell(rule['rule'])} | {rule.get('field') or ''} | {rule['rows_in']} | {rule['rows_out']} "
                     f"| {rule.get('cells_changed', 0)} | {_cell(sample)} | {_cell(unknown)} |")
    for title, key in (("Erreurs", "errors"), ("Avertissements", "warnings")):
        if result[key]:
            lines += ["", f"**{title}**", ""] + [f"- {_cell(m)}" for m in result[key]]
    for title, key in (("avant", "errors_before"), ("après", "errors_after")):
        if key in result:
            lines.append(f"\nErreurs de validation {title} préparation (premières lignes) : {result[key]['count']}")
    return "\n".join(lines)


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")
