"""Quality findings and their renderings: JSON for machines, Markdown for Prefect, HTML for people.

The HTML page is what a data officer or a citizen reads: the dataset's title, the verdict in words, the schema
by name with its schema.data.gouv.fr page (never a file path), the errors with their rows and values, a
`pattern` explained by the field's description and example instead of its regular expression, the
normalisations and notes, a map of the points the geography checks flagged, and the Great Expectations
results folded under a disclosure. It is self-contained (inline styles and SVG) and accessible (RGAA).
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from moisson.core.notes import Note, said
from moisson.quality.hints import code_hint
from moisson.quality.messages import CATALOG, DEFAULT_LANG, Lang, say
from moisson.quality.normalise import Normalised
from moisson.quality.report_map import PointMap, map_figure
from moisson.quality.schema import BUNDLED, REGISTRY, REGISTRY_NAME, FieldSpec

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

Verdict = Literal["valid", "valid_after_normalisation", "invalid"]
#: schema.data.gouv.fr's page of a schema (`/<name>/<version>/`), beside its `/schemas/…/schema.json` files.
SCHEMA_SITE = REGISTRY.removesuffix("/schemas")


@cache
def _markdown() -> MarkdownIt:
    """Schema descriptions are Markdown (links to definitions); raw HTML in them stays text.

    Made by the first HTML report that needs it: `moisson validate` never imports markdown-it.
    """
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False})


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
        # Plain values only: `asdict`'s deep copy took 0.1 s for the 8,889 errors of a large file, this 4 ms.
        return {"row": self.row, "key": self.key, "field": self.field, "type": self.type, "message": self.message,
                "rule": self.rule, "value": self.value}

    def detail(self, lang: Lang = DEFAULT_LANG) -> str:
        """The message without the row and field it starts with, for tables that show them in their own columns."""
        if self.row is None:
            return self.message
        where = say("at.row", lang, row=self.row)
        named = where + (say("at.field", lang, field=self.field) if self.field else "")
        for prefix in (f"{named}: ", f"{where}: "):
            if self.message.startswith(prefix):
                return self.message[len(prefix):]
        return self.message


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
        dataset_title: Its title (the catalog's metadata), shown instead of the id when known.
        success: True when no error was found.
        rows: Number of data rows.
        errors: Stored errors (capped per field and type; see `error_count`).
        warnings: Things to look at that do not fail the check.
        notes: What was done to the data (normalisations, column order…).
        error_count: Total number of errors, including those beyond the cap.
        counts: Errors per field, type and rule.
        normalised: Per column, the cells rewritten from a form Table Schema refuses (French dates, numbers).
        schema: Name, version and source of the Table Schema, if any.
        table_schema: The Table Schema itself: field titles, descriptions and examples for the HTML page.
        expectations: One summary line per Great Expectations result.
        points: The points the geography checks flagged, for the HTML page's map.
        reading: How the source read the file (its `Extract.notes`: format, encoding, delimiter, header row, lines
            skipped): connectors' `Note`s, said in `lang`, and the recipe's sentences, written in French.
        lang: Language of the titles and headings of the Markdown and HTML pages (messages are already in it).
    """

    dataset_id: str | None = None
    dataset_title: str | None = None
    success: bool
    rows: int
    errors: list[QualityIssue] = field(default_factory=list)
    warnings: list[QualityIssue] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error_count: int = 0
    counts: list[IssueCount] = field(default_factory=list)
    normalised: list[Normalised] = field(default_factory=list)
    schema: dict[str, str | None] | None = None
    table_schema: dict[str, Any] | None = None
    expectations: list[dict[str, Any]] = field(default_factory=list)
    points: PointMap | None = None
    reading: list[str] = field(default_factory=list)
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
            "schema": _public_schema(self.schema),
            "expectations": self.expectations,
        }

    @property
    def name(self) -> str:
        """How the dataset is named to people: its title, else its id."""
        return self.dataset_title or self.dataset_id or self.say("report.table")

    @property
    def title(self) -> str:
        """One-line verdict."""
        if self.success and self.normalised:
            return self.say("report.no-error-normalised", name=self.name, rows=self.rows,
                            count=self.normalised_cells)
        if self.success:
            return self.say("report.no-error", name=self.name, rows=self.rows)
        return self.say("report.errors", name=self.name, count=self.error_count, rows=self.rows)

    def say(self, key: str, **values: object) -> str:
        """The sentence `key` of `moisson.quality.messages` in the report's language."""
        return say(key, self.lang, **values)

    def to_markdown(self, limit: int = 50) -> str:
        """A short summary and the first `limit` errors, for a Prefect artifact."""
        lines = [f"## {'✅' if self.success else '❌'} {_md(self.title)}", ""]
        if self.schema:
            label, page = self._schema_label(), self._schema_page()
            lines += [_md(self.say("report.schema", schema=f"[{label}]({page})" if page else label)), ""]
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
            lines += [f"| {i.row or ''} | {_md(i.key or '')} | {_md(i.field or '')} | {self._message_md(i)} |"
                      for i in shown]
            lines.append("")
        if self.warnings:
            lines += [f"### {self.say('report.warnings')}", ""]
            lines += [f"- {_md(w.message)}" for w in self.warnings[:limit]] + [""]
        if self.notes:
            lines += [f"### {self.say('report.notes')}", ""] + [f"- {_md(n)}" for n in self.notes] + [""]
        return "\n".join(lines)

    def to_html(self, limit: int = 200) -> str:
        """The page a data officer reads: verdict, schema, errors (the first `limit`), map, notes, GX details."""
        e = html.escape
        css, verdict = self._verdict()
        sections = [f"<h1>{e(self.name)}</h1>",
                    f'<div class="etat {css}" role="note"><p><strong>{e(self.say("report.verdict"))}</strong> '
                    f"{e(verdict)}</p></div>", self._html_facts()]
        if self.counts:
            sections.append(f"<section><h2>{e(self.say('report.per-field'))}</h2>" + _table(
                self._headers("field", "problem", "count"),
                [[self._field_html(c.field), e(self._problem(c.type, c.rule)), str(c.count)] for c in self.counts])
                + "</section>")
        if self.errors:
            sections.append(self._html_errors(self.errors[:limit]))
        if self.points is not None:
            sections.append(f"<section><h2>{e(self.say('report.map'))}</h2>{map_figure(self.points, self.lang)}"
                            "</section>")
        if self.normalised:
            sections.append(f"<section><h2>{e(self.say('report.normalised'))}</h2>" + _table(
                self._headers("field", "count", "how", "from", "to"),
                [[self._field_html(n.field), str(n.count), e(self.say(n.how)), e(n.example_from), e(n.example_to)]
                 for n in self.normalised]) + "</section>")
        told = {n.note(self.lang) for n in self.normalised}
        notes = [n for n in self.notes if n not in told]
        if notes:
            sections.append(f"<section><h2>{e(self.say('report.notes'))}</h2><ul>"
                            + "".join(f"<li>{e(n)}</li>" for n in notes) + "</ul></section>")
        if self.reading:
            sections.append(f"<section><h2>{e(self.say('report.reading'))}</h2><ul>"
                            + "".join(self._reading_item(n) for n in self.reading) + "</ul></section>")
        if self.warnings:
            sections.append(f"<section><h2>{e(self.say('report.warnings'))}</h2><ul>"
                            + "".join(f"<li>{e(w.message)}</li>" for w in self.warnings[:limit]) + "</ul></section>")
        if self.expectations or self.counts:
            sections.append(self._html_technical())
        return (f'<!DOCTYPE html>\n<html lang="{self.lang}">\n<head>\n<meta charset="utf-8">\n'
                '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
                f"<title>{e(self.say('report.page-title', title=self.title))}</title>\n<style>{CSS}</style>\n"
                f'</head>\n<body>\n<a class="evitement" href="#contenu">{e(self.say("report.skip"))}</a>\n'
                f'<div class="page">\n<header class="bandeau"><p>{e(self.say("report.banner"))}</p></header>\n'
                f'<main id="contenu" tabindex="-1">\n' + "\n".join(sections) + "\n</main>\n"
                f"<footer><p>{e(self.say('report.footer'))}</p></footer>\n</div>\n</body>\n</html>\n")

    def write_html(self, path: Path) -> Path:
        """Write `to_html()` to `path` and return it."""
        path.write_text(self.to_html(), encoding="utf-8")
        return path

    def _reading_item(self, text: str) -> str:
        """A reading note in the page's language; a sentence only written in French says so (RGAA 8.7)."""
        if isinstance(text, Note) or self.lang == DEFAULT_LANG:
            return f"<li>{html.escape(said(text, self.lang))}</li>"
        return f'<li lang="{DEFAULT_LANG}">{html.escape(text)}</li>'

    def _invalid(self) -> tuple[str, str]:
        """CSS class and message key of a failed table (the gate's result says whether it was published)."""
        return "bloque", "report.verdict-invalid"

    def _verdict(self) -> tuple[str, str]:
        if self.verdict == "valid":
            return "valide", self.say("report.verdict-is-valid", rows=self.rows)
        if self.verdict == "valid_after_normalisation":
            return "normalise", self.say("report.verdict-is-normalised", rows=self.rows, count=self.normalised_cells)
        css, key = self._invalid()
        return css, self.say(key, rows=self.rows, count=self.error_count)

    def _html_facts(self) -> str:
        e = html.escape
        facts = []
        if self.dataset_id and self.dataset_id != self.name:
            facts.append((self.say("report.fact-dataset"), f"<code>{e(self.dataset_id)}</code>"))
        if self.schema:
            page, label = self._schema_page(), e(self._schema_label())
            facts.append((self.say("report.fact-schema"), f'<a href="{e(page)}">{label}</a>' if page else label))
        else:
            facts.append((self.say("report.fact-schema"), e(self.say("report.fact-no-schema"))))
        facts += [(self.say("report.fact-rows"), _number(self.rows, self.lang)),
                  (self.say("report.fact-errors"), _number(self.error_count, self.lang)),
                  (self.say("report.fact-warnings"), _number(len(self.warnings), self.lang))]
        if self.normalised:
            facts.append((self.say("report.fact-normalised"), _number(self.normalised_cells, self.lang)))
        return '<dl class="fiche">' + "".join(f"<dt>{e(k)}</dt><dd>{v}</dd>" for k, v in facts) + "</dl>"

    def _html_errors(self, shown: Sequence[QualityIssue]) -> str:
        keyed = any(i.key for i in shown)
        columns = ["row", *(["key"] if keyed else []), "field", "value", "message"]
        rows = [[str(i.row or ""), *([html.escape(i.key or "")] if keyed else []), self._field_html(i.field),
                 html.escape(i.value or ""), self._message_html(i)] for i in shown]
        return (f"<section><h2>{html.escape(self.say('report.first-errors', count=len(shown)))}</h2>"
                f'<div class="defilement" role="region" tabindex="0" '
                f'aria-label="{html.escape(self.say("report.first-errors", count=len(shown)))}">'
                f"{_table(self._headers(*columns), rows)}</div></section>")

    def _html_technical(self) -> str:
        """Great Expectations results and the error codes (as frictionless and Validata name them), folded."""
        e = html.escape
        parts = [f'<details class="technique"><summary>{e(self.say("report.technical"))}</summary>',
                 f"<p>{e(self.say('report.technical-intro'))}</p>"]
        if self.counts:
            parts.append(_table(self._headers("field", "error", "rule", "count"),
                                [[e(c.field or "—"), f"<code>{e(c.type)}</code>", f"<code>{e(c.rule or '')}</code>",
                                  str(c.count)] for c in self.counts], caption=self.say("report.codes")))
        if self.expectations:
            parts.append(_table(
                self._headers("expectation", "column", "source", "result", "unexpected", "examples"),
                [[self._expectation_html(x["expectation"]), e(x.get("column") or ""),
                  e(self._words(f"report.source-{x.get('source')}", x.get("source") or "")),
                  e(self.say("report.passed" if x["success"] else "report.failed")),
                  "" if x.get("unexpected") is None else str(x["unexpected"]),
                  e(", ".join(map(str, x.get("examples") or [])))] for x in self.expectations],
                caption=self.say("report.gx")))
        return "".join(parts) + "</details>"

    def _expectation_html(self, name: str) -> str:
        code = f"<code>{html.escape(name)}</code>"
        words = self._words(f"report.gx-{name}", "")
        return f"{html.escape(words)} ({code})" if words else code

    def _words(self, key: str, otherwise: str) -> str:
        """The sentence `key` when the catalog has it (labels of codes), else `otherwise`."""
        return self.say(key) if key in CATALOG else otherwise

    def _message_html(self, issue: QualityIssue) -> str:
        """The issue's message without its place; a broken `pattern` told by the field's description and example."""
        told = self._pattern_told(issue)
        if told is None:
            return html.escape(issue.detail(self.lang))
        lead, description, tail = told
        return " ".join(filter(None, (html.escape(lead), _markdown().renderInline(description) if description else "",
                                      html.escape(tail))))

    def _message_md(self, issue: QualityIssue) -> str:
        told = self._pattern_told(issue)
        if told is None:
            return _md(issue.message)
        return _md(" ".join(filter(None, told)))

    def _pattern_told(self, issue: QualityIssue) -> tuple[str, str, str] | None:
        """A broken `pattern` in words: the sentence, the field's description (Markdown), the example and hint.

        None when the issue is no pattern's, or when the schema says nothing of the field but its regex.
        """
        spec = self._fields().get(issue.field or "")
        if issue.rule != "pattern" or spec is None or issue.value is None:
            return None
        field_spec = FieldSpec.of(spec)
        description = str(spec.get("description") or "")
        if not description and not field_spec.example:
            return None
        array = field_spec.type == "array"
        tail = [self.say("report.example", example=field_spec.example)] if field_spec.example else []
        pattern = field_spec.constraints.get("pattern")
        hint = None if array or not isinstance(pattern, str) else code_hint(issue.value, re.compile(pattern),
                                                                              self.lang)
        tail += [self.say("report.hint", hint=hint)] if hint else []
        return (self.say("report.pattern-item" if array else "report.pattern", value=issue.value), description,
                " ".join(tail))

    def _fields(self) -> dict[str, Mapping[str, Any]]:
        return {f["name"]: f for f in (self.table_schema or {}).get("fields", []) if isinstance(f, Mapping)}

    def _field_html(self, name: str | None) -> str:
        if not name:
            return "—"
        title = self._fields().get(name, {}).get("title")
        help_ = f'<span class="aide">{html.escape(str(title))}</span>' if title and title != name else ""
        return f"<code>{html.escape(name)}</code>{help_}"

    def _problem(self, type_: str, rule: str | None) -> str:
        """A kind of error in words: its rule's, else its type's (with the rule's code), else the codes."""
        if rule and (words := self._words(f"report.rule-{rule}", "")):
            return words
        if words := self._words(f"report.type-{type_}", ""):
            return f"{words} ({rule})" if rule else words
        return " / ".join(filter(None, (type_, rule)))

    def _headers(self, *columns: str) -> list[str]:
        return [self.say(f"column.{c}") for c in columns]

    def _md_header(self, *columns: str) -> list[str]:
        return [f"| {' | '.join(self._headers(*columns))} |", f"|{'---|' * len(columns)}"]

    def _schema_label(self) -> str:
        """The schema by its title, name and version: never where its file lies."""
        schema = self.schema or {}
        name, version = schema.get("name"), schema.get("version")
        title = (self.table_schema or {}).get("title")
        label = str(title or name or self.say("report.unnamed-schema"))
        details = [str(name)] if title and name and name != title else []
        details += [self.say("report.version", version=version)] if version else []
        return f"{label} ({', '.join(details)})" if details else label

    def _schema_page(self) -> str | None:
        """schema.data.gouv.fr's page of a registry schema, the URL it was read from, or None for a local file."""
        schema = self.schema or {}
        name, version, source = schema.get("name"), schema.get("version"), schema.get("source") or ""
        if name and REGISTRY_NAME.fullmatch(name) and (source.startswith(REGISTRY) or not source.startswith("http")):
            return f"{SCHEMA_SITE}/{name}/" + (f"{version}/" if version and version != "latest" else "")
        return source if source.startswith("https://") else None


@dataclass(kw_only=True)
class QualityResult(QualityReport):
    """A report plus the verdict for publication and the files written.

    Attributes:
        blocked: True when the table failed and the policy says `block`.
        clean_path: Parquet file of the checked rows to publish.
        digest: The digest of its rows (`core.digest`), which tells whether a publication changed.
        unaltered: The schema fields published with the source's very cell texts: the check judged those texts as
            they are published (the round trip does not check them again).
        report_json: The report as JSON.
        report_html: The report as an HTML page.
        gx_results: Great Expectations validation result (JSON), when a suite ran.
    """

    blocked: bool
    clean_path: Path
    digest: str
    unaltered: list[str] = field(default_factory=list)
    report_json: Path
    report_html: Path
    gx_results: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary, with the verdict and the paths of the files written."""
        return super().to_dict() | {
            "blocked": self.blocked,
            "clean_path": str(self.clean_path),
            "report_json": str(self.report_json),
            "report_html": str(self.report_html),
            "gx_results": str(self.gx_results) if self.gx_results else None,
        }

    def _invalid(self) -> tuple[str, str]:
        return ("bloque", "report.verdict-blocked") if self.blocked else ("normalise", "report.verdict-warned")


# The portal's look (same palette, fonts and banners), inline so the page stands alone; contrast ≥ 4.5:1.
CSS = (
    ":root{--bleu:#000091;--texte:#1e1e1e;--gris:#595959;--fond:#f6f6f6}*{box-sizing:border-box}"
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;line-height:1.5;margin:0;"
    "color:var(--texte);background:#fff}.page{max-width:72rem;margin:0 auto;padding:0 1rem 2rem}"
    "a{color:var(--bleu)}a:focus,summary:focus,[tabindex]:focus{outline:3px solid #0a76f6;outline-offset:2px}"
    ".evitement{position:absolute;left:-999rem}.evitement:focus{left:1rem;top:1rem;background:#fff;padding:.5rem}"
    "header.bandeau{border-bottom:3px solid var(--bleu);margin-bottom:1rem}header.bandeau p{margin:0 0 .5rem}"
    ".etat{padding:.75rem 1rem;border-left:6px solid;margin:1rem 0;background:var(--fond)}"
    ".etat.valide{border-color:#18753c}.etat.normalise{border-color:#695240}.etat.bloque{border-color:#ce0500}"
    "dl.fiche{display:grid;grid-template-columns:minmax(10rem,max-content) 1fr;gap:.25rem 1rem}"
    "dl.fiche dt{font-weight:bold}dl.fiche dd{margin:0}.defilement{overflow-x:auto;max-width:100%}"
    "table{border-collapse:collapse;font-size:.9rem;margin:.5rem 0}caption{text-align:left;font-weight:bold;"
    "padding:.5rem 0}th,td{border:1px solid #bbb;padding:.25rem .5rem;vertical-align:top;text-align:left}"
    "th{background:#eee}td{max-width:40rem;overflow-wrap:anywhere}.aide{display:block;color:var(--gris);"
    "font-size:.8rem}details{margin:1rem 0}summary{cursor:pointer;font-weight:bold}"
    "figure{margin:1rem 0}svg.carte{max-width:100%;height:auto;border:1px solid #bbb}"
    "footer{border-top:1px solid #ccc;margin-top:2rem;padding-top:1rem;color:var(--gris)}"
)


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], caption: str | None = None) -> str:
    """A table of cells already written as HTML; headers are text."""
    e = html.escape
    head = "".join(f'<th scope="col">{e(h)}</th>' for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    title = f"<caption>{e(caption)}</caption>" if caption else ""
    return f"<table>{title}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _public_schema(schema: dict[str, str | None] | None) -> dict[str, str | None] | None:
    """The schema as `quality.json` tells it: a URL as is, a file by what names it, never where it lies.

    A schema shipped with moisson is told by its `name@version`, another file by its file name.
    """
    source = (schema or {}).get("source")
    if schema is None or not source or source.startswith(("https://", "http://")):
        return schema
    path = Path(source)
    name, version = schema.get("name"), schema.get("version")
    bundled = path.is_relative_to(BUNDLED) and name and version
    return schema | {"source": f"{name}@{version}" if bundled else path.name}


def _number(value: int, lang: Lang) -> str:
    """Thousands apart as each language writes them (a narrow no-break space in French)."""
    return f"{value:,}".replace(",", "\u202f" if lang == "fr" else ",")


def _md(text: str) -> str:
    """Keep a cell on one line of a Markdown table."""
    return text.replace("|", "\\|").replace("\n", " ")
