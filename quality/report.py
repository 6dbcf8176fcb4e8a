"""Quality findings and their renderings: JSON for machines, Markdown for Prefect, HTML for people."""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from moisson.quality.messages import DEFAULT_LANG, Lang, say
from moisson.quality.normalise import Normalised

Verdict = Literal["valid", "valid_after_normalisation", "invalid"]


@dataclass(frozen=True)
class QualityIssue:
    """One problem found in a table.

    Attributes:
        row: Row number in the source file (header = row 1), None for table-level issues.
        key: Primary-key value(s) of that row, when the schema has a primary key.
        field: The column concerned, if any.
        type: frictionless error code (`type-error`, `constraint-error`, `missing-label`…) or the
            Validata custom check name (`french-siret-value`…).
        message: One sentence for a data officer.
        rule: The constraint broken (`required`, `pattern`, `enum`, `minimum`…).
        value: The cell text as found.
    """

    row: int | None
    key: str | None
    field: str | None
    type: str
    message: str
    rule: str | None = None
    value: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary."""
        return asdict(self)


@dataclass(frozen=True)
class IssueCount:
    """How many issues of one kind a field has, beyond the stored examples too."""

    field: str | None
    type: str
    rule: str | None
    count: int


@dataclass(kw_only=True)
class QualityReport:
    """The verdict on one table.

    Attributes:
        dataset_id: The dataset checked.
        success: True when no error was found.
        rows: Number of data rows.
        errors: Stored errors (capped per field and type; see `error_count`).
        warnings: Things to look at that do not fail the check.
        notes: What was done to the data (normalisations, column order…).
        error_count: Total number of errors, including those beyond the cap.
        counts: Errors per field, type and rule.
        normalised: Per column, the cells rewritten from a form Table Schema refuses (French dates, numbers).
        schema: Name, version and source of the Table Schema, if any.
        expectations: One summary line per Great Expectations result.
        lang: Language of the titles and headings of the Markdown and HTML pages (messages are already in it).
    """

    dataset_id: str | None = None
    success: bool
    rows: int
    errors: list[QualityIssue] = field(default_factory=list)
    warnings: list[QualityIssue] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error_count: int = 0
    counts: list[IssueCount] = field(default_factory=list)
    normalised: list[Normalised] = field(default_factory=list)
    schema: dict[str, str | None] | None = None
    expectations: list[dict[str, Any]] = field(default_factory=list)
    lang: Lang = DEFAULT_LANG

    @property
    def verdict(self) -> Verdict:
        """`valid` as found, `valid_after_normalisation` (Validata refuses the file as is), or `invalid`."""
        if not self.success:
            return "invalid"
        return "valid_after_normalisation" if self.normalised else "valid"

    @property
    def normalised_cells(self) -> int:
        """Cells rewritten, all columns together."""
        return sum(n.count for n in self.normalised)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary: verdict, rows, errors (all counted, some listed), warnings, notes, the counts."""
        return {
            "dataset_id": self.dataset_id,
            "success": self.success,
            "verdict": self.verdict,
            "rows": self.rows,
            "error_count": self.error_count,
            "normalised": [n.to_dict() for n in self.normalised],
            "errors": [i.to_dict() for i in self.errors],
            "warnings": [i.to_dict() for i in self.warnings],
            "notes": list(self.notes),
            "counts": [asdict(c) for c in self.counts],
            "schema": self.schema,
            "expectations": self.expectations,
        }

    @property
    def title(self) -> str:
        """One-line verdict."""
        name = self.dataset_id or self.say("report.table")
        if self.success and self.normalised:
            return self.say("report.no-error-normalised", name=name, rows=self.rows, count=self.normalised_cells)
        if self.success:
            return self.say("report.no-error", name=name, rows=self.rows)
        return self.say("report.errors", name=name, count=self.error_count, rows=self.rows)

    def say(self, key: str, **values: object) -> str:
        """The sentence `key` of `moisson.quality.messages` in the report's language."""
        return say(key, self.lang, **values)

    def to_markdown(self, limit: int = 50) -> str:
        """A short summary and the first `limit` errors, for a Prefect artifact."""
        lines = [f"## {'✅' if self.success else '❌'} {_md(self.title)}", ""]
        if self.schema:
            lines += [_md(self.say("report.schema", schema=self._schema_label())), ""]
        if self.counts:
            lines += self._md_header("field", "error", "rule", "count")
            lines += [f"| {_md(c.field or '—')} | {c.type} | {c.rule or ''} | {c.count} |" for c in self.counts]
            lines.append("")
        if self.normalised:
            lines += [f"### {self.say('report.normalised')}", ""]
            lines += self._md_header("field", "count", "from", "to")
            lines += [f"| {_md(n.field or '—')} | {n.count} | {_md(n.example_from)} | {_md(n.example_to)} |"
                      for n in self.normalised]
            lines.append("")
        if self.errors:
            shown = self.errors[:limit]
            lines += [f"### {self.say('report.first-errors', count=len(shown))}", ""]
            lines += self._md_header("row", "key", "field", "message")
            lines += [f"| {i.row or ''} | {_md(i.key or '')} | {_md(i.field or '')} | {_md(i.message)} |"
                      for i in shown]
            lines.append("")
        if self.warnings:
            lines += [f"### {self.say('report.warnings')}", ""]
            lines += [f"- {_md(w.message)}" for w in self.warnings[:limit]] + [""]
        if self.notes:
            lines += [f"### {self.say('report.notes')}", ""] + [f"- {_md(n)}" for n in self.notes] + [""]
        return "\n".join(lines)

    def to_html(self, limit: int = 200) -> str:
        """A plain self-contained page: summary, counts per field, first failing rows, GX results."""
        e = html.escape
        parts = [
            f"<!doctype html><html lang='{self.lang}'><head><meta charset='utf-8'>",
            f"<title>{e(self.title)}</title><style>{CSS}</style></head><body>",
            f"<h1 class='{'ok' if self.success else 'ko'}'>{e(self.title)}</h1>",
        ]
        if self.schema:
            parts.append(f"<p>{e(self.say('report.schema', schema=self._schema_label()))}</p>")
        if self.counts:
            parts.append(f"<h2>{e(self.say('report.per-field'))}</h2>")
            parts.append(_table(self._headers("field", "error", "rule", "count"),
                                [[c.field or "—", c.type, c.rule or "", str(c.count)] for c in self.counts]))
        if self.normalised:
            parts.append(f"<h2>{e(self.say('report.normalised'))}</h2>")
            parts.append(_table(self._headers("field", "count", "from", "to"),
                                [[n.field or "—", str(n.count), n.example_from, n.example_to]
                                 for n in self.normalised]))
        if self.errors:
            shown = self.errors[:limit]
            parts.append(f"<h2>{e(self.say('report.first-errors', count=len(shown)))}</h2>")
            parts.append(_table(self._headers("row", "key", "field", "value", "message"),
                                [[str(i.row or ""), i.key or "", i.field or "", i.value or "", i.message]
                                 for i in shown]))
        if self.warnings:
            parts.append(f"<h2>{e(self.say('report.warnings'))}</h2><ul>"
                         + "".join(f"<li>{e(w.message)}</li>" for w in self.warnings) + "</ul>")
        if self.notes:
            parts.append(f"<h2>{e(self.say('report.notes'))}</h2><ul>"
                         + "".join(f"<li>{e(n)}</li>" for n in self.notes) + "</ul>")
        if self.expectations:
            parts.append(f"<h2>{e(self.say('report.gx'))}</h2>")
            parts.append(_table(
                self._headers("expectation", "column", "source", "result", "unexpected", "examples"),
                [[x["expectation"], x.get("column") or "", x.get("source") or "",
                  self.say("report.passed" if x["success"] else "report.failed"),
                  "" if x.get("unexpected") is None else str(x["unexpected"]),
                  ", ".join(map(str, x.get("examples") or []))] for x in self.expectations]))
        parts.append("</body></html>")
        return "\n".join(parts)

    def write_html(self, path: Path) -> Path:
        """Write `to_html()` to `path` and return it."""
        path.write_text(self.to_html(), encoding="utf-8")
        return path

    def _headers(self, *columns: str) -> list[str]:
        return [self.say(f"column.{c}") for c in columns]

    def _md_header(self, *columns: str) -> list[str]:
        return [f"| {' | '.join(self._headers(*columns))} |", f"|{'---|' * len(columns)}"]

    def _schema_label(self) -> str:
        schema = self.schema or {}
        name = schema.get("name") or self.say("report.unnamed-schema")
        version = f" {schema['version']}" if schema.get("version") else ""
        return f"{name}{version} ({schema.get('source')})"


@dataclass(kw_only=True)
class QualityResult(QualityReport):
    """A report plus the verdict for publication and the files written.

    Attributes:
        blocked: True when the table failed and the policy says `block`.
        clean_path: Parquet file of the typed, checked rows.
        report_json: The report as JSON.
        report_html: The report as an HTML page.
        gx_results: Great Expectations validation result (JSON), when a suite ran.
        table_schema: The Table Schema checked against, published beside the data.
    """

    blocked: bool
    clean_path: Path
    report_json: Path
    report_html: Path
    gx_results: Path | None = None
    table_schema: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary, with the verdict and the paths of the files written."""
        return super().to_dict() | {
            "blocked": self.blocked,
            "clean_path": str(self.clean_path),
            "report_json": str(self.report_json),
            "report_html": str(self.report_html),
            "gx_results": str(self.gx_results) if self.gx_results else None,
        }


CSS = (
    "body{font-family:system-ui,sans-serif;margin:2em;color:#222}h1.ok{color:#1a7f37}h1.ko{color:#b42318}"
    "table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:.3em .6em;"
    "text-align:left;vertical-align:top}th{background:#f3f3f3}td{max-width:40em;overflow-wrap:anywhere}"
)


def _table(headers: list[str], rows: list[list[str]]) -> str:
    e = html.escape
    head = "".join(f"<th>{e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _md(text: str) -> str:
    """Keep a cell on one line of a Markdown table."""
    return text.replace("|", "\\|").replace("\n", " ")
