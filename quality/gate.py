"""The quality gate: read, match columns, normalise, cast, check, run GX, write the clean table and reports."""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from moisson.core.errors import NotFoundError, RejectedError, UnavailableError
from moisson.core.metadata import DatasetMetadata
from moisson.quality.cast import TEXT, cast_column
from moisson.quality.checks import (
    CAP,
    Issues,
    Lookup,
    RowGaps,
    RowShape,
    check_blank_rows,
    check_field,
    check_labels,
    check_primary_key,
    check_row_shapes,
)
from moisson.quality.clean import CleanTable
from moisson.quality.completeness import METADATA, check_metadata
from moisson.quality.custom import Table, run_custom_checks
from moisson.quality.flagged import point_map
from moisson.quality.geography import Communes, Nearby, check_communes, check_geography
from moisson.quality.layout import published_table
from moisson.quality.messages import DEFAULT_LANG, Lang, say
from moisson.quality.normalise import Normalised, holds
from moisson.quality.normalise import normalise as _normalise
from moisson.quality.policy import QualityPolicy
from moisson.quality.report import QualityIssue, QualityReport, QualityResult
from moisson.quality.schema import TableSchemaRef

if TYPE_CHECKING:
    from moisson.quality.expectations import SuiteRun
    from moisson.quality.personal import Evidence

CLEAN = "clean.parquet"
REPORT_JSON = "quality.json"
REPORT_HTML = "quality.html"
GX_RESULTS = "gx_results.json"


# The gate reads the extract chunk by chunk: about this much text per chunk bounds its memory (a chunk costs a few
# times its text in pandas), whatever the table's size. Tests set the variable to check small chunks change nothing.
CHUNK_BYTES = 24 * 2**20
CHUNK_ROWS_VARIABLE = "MOISSON_QUALITY_CHUNK_ROWS"
SAMPLE_ROWS = 10_000


@dataclass
class Inspection:
    """What the checks found, the typed table the expectations read, and the text table to publish."""

    issues: Issues
    notes: list[str]
    clean: pd.DataFrame
    normalised: list[Normalised]
    published: pd.DataFrame


def check_table(data: Path, *, dataset_id: str, schema: TableSchemaRef | None, policy: QualityPolicy,
                out_dir: Path, geometry: str | None = None, first_row: int = 2, row_gaps: RowGaps = (),
                metadata: DatasetMetadata | None = None, findings: Sequence[RowShape] = (),
                communes: Communes | None = None, reading: Sequence[str] = ()) -> QualityResult:
    """Check an extracted table and write the typed table, the reports and the GX results.

    The table is read, checked and written chunk by chunk (`CHUNK_BYTES`): memory does not grow with it.

    Args:
        data: Parquet file whose columns are all text, as sources write it.
        dataset_id: The dataset, named in messages and reports.
        schema: Its Table Schema; None runs only the generic checks.
        policy: The catalog's quality settings (failure policy, extra expectations, extent).
        out_dir: Folder for `clean.parquet`, `quality.json`, `quality.html`, `gx_results.json`.
        geometry: Column of GeoJSON geometries, exempt from the schema and kept as is.
        first_row: Row number of the first data row in the source file.
        row_gaps: Rows of the file the source left out, as `Extract.row_gaps` says.
        metadata: The dataset's publication metadata, scored for completeness.
        findings: Rows the source found out of shape (`Extract.findings`): extra and missing cells are errors,
            blank and repeated header rows it left out are warnings with their row numbers.
        communes: The commune the geocoder gives each point (`tasks.geocode.communes_of`): points in another
            commune than expected are warnings, and a note says what was checked or why not.
        reading: How the source read the file (`Extract.notes`: encoding, delimiter, header row), for the report.

    Returns:
        The verdict, the issues and the paths written.

    Raises:
        NotFoundError: `data` does not exist.
        RejectedError: `data` is not a Parquet file of text columns, or the schema is unusable.
        ConfigError: A catalog expectation is unknown or has wrong arguments.
    """
    chunks = TextChunks(data, dataset_id=dataset_id, geometry=geometry, lang=policy.lang)
    check = TableCheck(schema, first_row=first_row, row_gaps=row_gaps, geometry=geometry, policy=policy,
                       metadata=metadata, dataset_id=dataset_id, lang=policy.lang, findings=findings,
                       total=chunks.total)
    check.dotted = chunks.dotted(schema) if check.french else None
    out_dir.mkdir(parents=True, exist_ok=True)
    clean_path = out_dir / CLEAN
    suite: SuiteRun | None = None
    with CleanTable(clean_path) as written:
        for frame in chunks:
            published, clean = check.add(frame)
            written.add(published)
            if suite is None:
                suite = _suite(schema, policy, clean, dataset_id)
            if suite is not None and len(clean.columns):
                suite.add(clean)
    check.finish(chunks.cells)
    notes = check.notes
    if communes is not None:
        notes.extend(check_communes(communes, check.issues))
    lines, gx_path = _expectations(suite, check.issues, policy, out_dir)
    issues = check.issues
    success = issues.error_count == 0
    from moisson.quality.personal import PERSONAL  # see _beyond_schema

    # Personal data and a missing title or licence block whatever `on_failure` says.
    always = any(kind in (PERSONAL, METADATA) for _, kind, _ in issues.totals)
    result = QualityResult(
        dataset_id=dataset_id, dataset_title=metadata.title if metadata else None, success=success,
        blocked=not success and (policy.on_failure == "block" or always),
        rows=chunks.total, errors=_ordered(issues.errors), warnings=issues.warnings,
        notes=chunks.notes + notes, error_count=issues.error_count, counts=issues.counts,
        normalised=check.normalised, schema=_schema_info(schema), expectations=lines, clean_path=clean_path,
        digest=written.digest, unaltered=check.unaltered,
        report_json=out_dir / REPORT_JSON, report_html=out_dir / REPORT_HTML, gx_results=gx_path,
        table_schema=schema.descriptor if schema else None, lang=policy.lang,
        points=point_map(clean_path, schema, issues, geometry=geometry, extent=policy.extent),
        reading=list(reading))
    result.report_json.write_text(json.dumps(result.to_dict(), ensure_ascii=False, indent=2), encoding="utf-8")
    result.write_html(result.report_html)
    return result


def validate_frame(frame: pd.DataFrame, schema: TableSchemaRef, *, first_row: int = 2,
                   row_gaps: RowGaps = (), lang: Lang = DEFAULT_LANG, cap: int = CAP) -> list[QualityIssue]:
    """The errors of a text frame against a schema: every check but GX, no file written.

    At most `cap` errors are kept per field, type and rule; messages are in `lang`.
    """
    return _ordered(inspect(frame, schema, first_row=first_row, row_gaps=row_gaps, lang=lang, cap=cap).issues.errors)


def report_frame(frame: pd.DataFrame | Path, schema: TableSchemaRef | None, *, first_row: int = 2,
                 row_gaps: RowGaps = (), dataset_id: str | None = None,
                 lang: Lang = DEFAULT_LANG, normalise: bool = True, cap: int = CAP,
                 findings: Sequence[RowShape] = (), trusted: Collection[str] = ()) -> QualityReport:
    """Like `validate_frame`, with warnings, notes, counts and the cells normalised (unless `normalise` is off).

    `frame` may be a Parquet file of text columns, then read chunk by chunk (memory bounded as in `check_table`).
    The checks of `trusted` fields are left out (see `TableCheck`).
    """
    check = TableCheck(schema, first_row=first_row, row_gaps=row_gaps, dataset_id=dataset_id, lang=lang,
                       normalise=normalise, cap=cap, findings=findings, trusted=trusted)
    chunks = TextChunks(frame, dataset_id=dataset_id, lang=lang) if isinstance(frame, Path) else [frame]
    if isinstance(chunks, TextChunks) and check.french:
        check.dotted = chunks.dotted(schema)
    rows = 0
    for chunk in chunks:
        check.add(chunk)
        rows += len(chunk)
    check.finish(chunks.cells if isinstance(chunks, TextChunks) else None)
    issues = check.issues
    return QualityReport(dataset_id=dataset_id, success=issues.error_count == 0, rows=rows,
                         errors=_ordered(issues.errors), warnings=issues.warnings, notes=check.notes,
                         error_count=issues.error_count, counts=issues.counts, normalised=check.normalised,
                         schema=_schema_info(schema), lang=lang)


def inspect(frame: pd.DataFrame, schema: TableSchemaRef | None, *, first_row: int = 2,
            row_gaps: RowGaps = (), geometry: str | None = None, policy: QualityPolicy | None = None,
            metadata: DatasetMetadata | None = None,
            dataset_id: str | None = None, lang: Lang = DEFAULT_LANG, cap: int = CAP,
            normalise: bool = True, findings: Sequence[RowShape] = ()) -> Inspection:
    """Run every check but GX on a frame of text columns (duplicate column names allowed); messages in `lang`.

    French dates and numbers are rewritten when both `normalise` and the policy's `normalise` say so.
    """
    check = TableCheck(schema, first_row=first_row, row_gaps=row_gaps, geometry=geometry, policy=policy,
                       metadata=metadata, dataset_id=dataset_id, lang=lang, cap=cap, normalise=normalise,
                       findings=findings)
    published, clean = check.add(frame)
    check.finish()
    return Inspection(check.issues, check.notes, clean, check.normalised, published)


class TableCheck:
    """Every check but GX of one table, fed chunk by chunk (`add`), then `finish`ed: what spans chunks lives here.

    Rows are judged chunk by chunk; the issues (`Issues`) carry the row offset, the caps and totals, the keys
    seen (primary key, `unique`); normalisations add up; notes and table-level issues are kept once; the near
    duplicate points (`Nearby`), the personal data found (`Evidence`) and the metadata are recorded at the end,
    so that the report is the one the whole table checked at once gives.

    `trusted` fields are cells already checked as they are, the same texts (`QualityResult.unaltered`): their own
    checks are left out, and the primary key and custom checks that read nothing else; rows and labels are still
    checked whole.
    """

    def __init__(self, schema: TableSchemaRef | None, *, first_row: int = 2, row_gaps: RowGaps = (),
                 geometry: str | None = None, policy: QualityPolicy | None = None,
                 metadata: DatasetMetadata | None = None, dataset_id: str | None = None,
                 lang: Lang = DEFAULT_LANG, cap: int = CAP, normalise: bool = True,
                 findings: Sequence[RowShape] = (), total: int | None = None,
                 trusted: Collection[str] = ()) -> None:
        self.schema, self.policy, self.metadata, self.geometry = schema, policy, metadata, geometry
        self.trusted = frozenset(trusted)
        self._custom, self._primary_key, self._cast = _left_to_check(schema, self.trusted)
        self.first_row, self.row_gaps, self.lang, self.cap, self.findings = first_row, row_gaps, lang, cap, findings
        self.french = normalise and (policy is None or policy.normalise)
        self.dataset_id = dataset_id
        self.total = total
        # Number fields some cell of the whole table writes with a dot (`normalise`), when it comes in chunks.
        self.dotted: set[str] | None = None
        self.issues: Issues | None = None
        self.offset = 0
        self.nearby = Nearby()
        self._evidence: Evidence | None = None
        self._normalised: dict[tuple[str | None, str], Normalised] = {}
        self._notes: dict[str, dict[str, None]] = {part: {} for part in ("labels", "laid", "metadata", "protected")}
        self._laid: dict[str, None] = {}  # schema fields published, in order
        self._altered: set[str] = set()  # of those, the ones published with other texts than the source's

    @property
    def normalised(self) -> list[Normalised]:
        """The cells rewritten, per column (rows left out first), counted over the chunks checked."""
        order = {f.name: i for i, f in enumerate(self.schema.fields)} if self.schema else {}
        return sorted(self._normalised.values(), key=lambda n: -1 if n.field is None else order.get(n.field, 0))

    @property
    def unaltered(self) -> list[str]:
        """The schema fields published with the source's very cell texts in every chunk (with a policy).

        The gate checked those texts as they are published: normalisation rewrote none of them.
        """
        return [name for name in self._laid if name not in self._altered]

    @property
    def notes(self) -> list[str]:
        """The report's notes, each once, in the order of the checks."""
        parts = self._notes
        return [*parts["labels"], *(n.note(self.lang) for n in self.normalised), *parts["laid"],
                *parts["metadata"], *parts["protected"]]

    def add(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Check the next chunk of rows (text columns, duplicate names allowed).

        Returns:
            Its cells to publish, and its typed values for the expectations.
        """
        schema, policy, geometry = self.schema, self.policy, self.geometry
        labels = [str(c) for c in frame.columns]
        firsts = {label: labels.index(label) for label in dict.fromkeys(labels)}
        missing = schema.missing_values if schema else [""]
        raw = pd.DataFrame({label: _missing_as_null(_as_text(frame.iloc[:, i]), missing)
                            for label, i in firsts.items() if label != geometry}, index=pd.RangeIndex(len(frame)))
        carried = frame.iloc[:, firsts[geometry]].reset_index(drop=True) if geometry in firsts else None
        source = pd.DataFrame({label: frame.iloc[:, i].reset_index(drop=True) for label, i in firsts.items()},
                              index=raw.index)
        issues = self._chunk_issues(raw)
        self.offset += len(frame)
        if schema is None:
            for label in sorted({x for x in labels if labels.count(x) > 1}):
                issues.table(field=label, type="duplicate-label", warning=True,
                             message=issues.say("label.duplicate-kept", label=label))
            check_blank_rows(raw, issues, warning=True)
            # Without a schema too, a row longer or shorter than the header is an error, as in Validata.
            check_row_shapes(self.findings, frame, issues, normalise=self.french)
            issues.table(field=None, type="no-schema", message=issues.say("table.no-schema"), warning=True)
            clean = self._beyond_schema(raw, source, carried)
            return clean, clean

        made, left_out = check_row_shapes(self.findings, frame, issues, normalise=self.french)
        self._note("labels", check_labels([label for label in labels if label not in made], schema.fields, issues,
                                          geometry=geometry))
        present = [f for f in schema.fields if f.name in raw.columns]
        active = check_blank_rows(raw, issues)
        text, rewritten = _normalise(raw[[f.name for f in present]], present, french=self.french, dotted=self.dotted)
        for change in left_out + rewritten:
            known = self._normalised.get((change.field, change.how))
            self._normalised[(change.field, change.how)] = replace(known, count=known.count + change.count) \
                if known else change
        values = {f.name: cast_column(text[f.name], f) for f in present if f.name in self._cast}
        for spec in present:
            if spec.name not in self.trusted:
                check_field(text[spec.name], values[spec.name], spec, issues, active)
        check_primary_key(values, self._primary_key, issues, active)
        table = Table(text, values, {f.name: f for f in present}, issues, active)
        run_custom_checks(self._custom, table)
        # A column normalisation rewrote anywhere is laid out from its normalised text: where it rewrote nothing,
        # that text is the source's, so each chunk may name only its own rewritten columns.
        layout, laid = published_table(source, schema, text, rewritten={n.field for n in left_out + rewritten},
                                       geometry=geometry, extra_columns=policy.extra_columns if policy else "keep",
                                       lang=self.lang)
        self._note("laid", laid)
        # Columns published beyond the schema are looked at too (personal data, coordinates).
        beyond = [c for c in layout.columns if c in raw.columns and c not in text.columns]
        published = self._beyond_schema(pd.concat([text, raw[beyond]], axis=1), layout, carried, active)
        if policy is not None:
            self._compare(published, source)
        # The expectations read typed values, and no column the source lacks (the layout's empty optional ones).
        hashed = {c for c, action in (policy.personal_data if policy else {}).items() if action == "hash"}
        clean = published.drop(columns=[c for c in published.columns if c not in source.columns]).assign(
            **{n: v for n, v in values.items() if n in published.columns and n not in hashed})
        return published, clean

    def finish(self, lookup: Lookup | None = None) -> None:
        """After the last chunk: near duplicate points, metadata and personal data, over the whole table.

        Args:
            lookup: Reads cells of the whole table by position, for the issues recorded now (default: the one
                chunk checked).
        """
        if self.issues is None:
            self.add(pd.DataFrame())
        issues = self.issues
        raw = issues.raw
        if lookup is None and issues.chunk:
            raise ValueError("a table checked in several chunks needs a lookup of its cells")
        missing = self.schema.missing_values if self.schema else [""]

        def cells(columns: Sequence[str], positions: np.ndarray) -> pd.DataFrame:
            if lookup is None:
                return raw[list(columns)].iloc[positions].reset_index(drop=True)
            found = lookup(columns, positions)
            return pd.DataFrame({c: _missing_as_null(found[c], missing) for c in found.columns}, index=found.index)

        issues.whole_table(cells)
        if self.policy is None:
            return
        self.nearby.check(issues)
        # The metadata score is a note, so the report and the Prefect artifact show it.
        if self.metadata is not None:
            self._note("metadata", [check_metadata(self.metadata, issues).summary(issues)])
        if self._evidence is not None:
            self._evidence.record(issues)

    def _chunk_issues(self, raw: pd.DataFrame) -> Issues:
        if self.issues is None:
            self.issues = Issues(raw, first_row=self.first_row, row_gaps=self.row_gaps,
                                 primary_key=self.schema.primary_key if self.schema else (), lang=self.lang,
                                 cap=self.cap)
            self.issues.total = len(raw) if self.total is None else self.total
        else:
            self.issues.next_chunk(raw, self.offset)
            if self.total is None:
                self.issues.total = self.offset + len(raw)
        return self.issues

    def _compare(self, published: pd.DataFrame, source: pd.DataFrame) -> None:
        """Record which schema fields this chunk publishes, and which of them with other texts than the source's."""
        for spec in self.schema.fields:
            name = spec.name
            if name not in published.columns:
                continue
            self._laid.setdefault(name)
            if name not in self._altered and (name not in source.columns
                                              or not _same_texts(published[name], source[name])):
                self._altered.add(name)

    def _note(self, part: str, notes: Sequence[str]) -> None:
        self._notes[part].update(dict.fromkeys(notes))

    def _beyond_schema(self, text: pd.DataFrame, clean: pd.DataFrame, geometry: pd.Series | None,
                       active: np.ndarray | None = None) -> pd.DataFrame:
        """Geography and personal data: what no schema says, checked for publication only (with a policy)."""
        policy, schema, issues = self.policy, self.schema, self.issues
        if policy is None:
            return clean
        fields = {f.name: f for f in schema.fields} if schema else {}
        check_geography(text, issues, fields=fields, geometry=geometry, extent=policy.extent, active=active,
                        custom_checks=schema.custom_checks if schema else (), nearby=self.nearby)
        # Its patterns (hundreds of first names) take longer to compile than `moisson validate` needs, which
        # never runs it (no policy): imported here.
        from moisson.quality.personal import Evidence, apply_actions, producer_domains

        if self._evidence is None:
            self._evidence = Evidence(policy.personal_data)
        self._evidence.add(text, clean, issues, fields=schema.descriptor.get("fields", []) if schema else (),
                           own_domains=producer_domains(self.metadata))
        clean, protected = apply_actions(clean, issues, actions=policy.personal_data, salt=policy.hash_salt)
        self._note("protected", protected)
        return clean


class TextChunks:
    """A Parquet extract read chunk by chunk (about `CHUNK_BYTES` of cells each), every column but `geometry` as text.

    Duplicate column names are kept; an empty table gives one empty chunk.

    Attributes:
        total: The table's rows.
        notes: Notes (in `lang`) about columns that were not text.
    """

    def __init__(self, path: Path, *, dataset_id: str | None = None, geometry: str | None = None,
                 lang: Lang = DEFAULT_LANG, rows: int | None = None) -> None:
        self.path, self.dataset_id, self.geometry = path, dataset_id, geometry
        try:
            # pre_buffer keeps every column chunk read until the file is closed: the file's size, for one pass.
            self.file = pq.ParquetFile(path, pre_buffer=False)
        except FileNotFoundError as exc:
            raise NotFoundError(f"l'extraction {path} n'existe pas : relancez l'extraction.",
                                dataset_id=dataset_id) from exc
        except (pa.ArrowException, OSError) as exc:
            raise RejectedError(f"l'extraction {path} n'est pas un fichier Parquet lisible ({exc}) : "
                                "relancez l'extraction.", dataset_id=dataset_id) from exc
        self.names = self.file.schema_arrow.names
        self.total = self.file.metadata.num_rows
        self.notes = [say("note.read-as-text", lang, column=name, kind=kind)
                      for name, kind in zip(self.names, self.file.schema_arrow.types, strict=True)
                      if name != geometry and not (pa.types.is_string(kind) or pa.types.is_large_string(kind)
                                                   or pa.types.is_null(kind))]
        self.rows = rows or chunk_rows(self.file)

    def __iter__(self) -> Iterator[pd.DataFrame]:
        done = False
        for batch in self._batches():
            done = True
            yield self._frame(batch)
        if not done:
            yield self._frame(self.file.schema_arrow.empty_table())

    def dotted(self, schema: TableSchemaRef | None) -> set[str] | None:
        """The number fields with a dot in some cell (missing values aside): a first pass, when there are chunks.

        Whether a comma is a decimal comma depends on the whole column (see `normalise`).
        """
        numbers = [f.name for f in schema.fields if f.type in ("number", "integer")] if schema else []
        numbers = [name for name in numbers if name in self.names and name != self.geometry]
        if self.total <= self.rows or not numbers:
            return None
        found: set[str] = set()
        for columns in self._columns([self.names.index(name) for name in numbers]):
            part = self._frame(columns, names=numbers)
            found |= {name for name in numbers if name not in found and
                      holds(_missing_as_null(_as_text(part[name]), schema.missing_values), ".")}
        return found

    def cells(self, columns: Sequence[str], positions: np.ndarray) -> pd.DataFrame:
        """The cells of `columns` (first of each name) at table `positions` (in any order), as text."""
        wanted = np.asarray(positions, dtype=np.int64)
        order = np.argsort(wanted, kind="stable")
        taken, start = [], 0
        indices = [self.names.index(c) for c in columns]
        for batch in self._columns(indices):
            inside = wanted[order][(wanted[order] >= start) & (wanted[order] < start + batch.num_rows)]
            if len(inside):
                taken.append(batch.take(pa.array(inside - start)))
            start += batch.num_rows
        found = self._frame(pa.concat_tables(taken) if taken else pa.table(
            {str(k): pa.array([], self.file.schema_arrow.types[i]) for k, i in enumerate(indices)}),
                            names=list(columns))
        back = np.empty_like(order)
        back[order] = np.arange(len(order))
        return found.iloc[back].reset_index(drop=True)

    def _columns(self, indices: Sequence[int]) -> Iterator[pa.Table]:
        """The columns at `indices` a chunk at a time, named "0", "1"…; only those are read unless names repeat."""
        unique = len(set(self.names)) == len(self.names)
        for batch in self._batches([self.names[i] for i in indices] if unique else None):
            arrays = [batch.column(self.names[i]) for i in indices] if unique else [batch.column(i) for i in indices]
            yield pa.Table.from_arrays(arrays, names=[str(k) for k in range(len(indices))])

    def _batches(self, columns: Sequence[str] | None = None) -> Iterator[pa.RecordBatch]:
        try:
            yield from self.file.iter_batches(batch_size=self.rows, columns=columns)
        except MemoryError as exc:  # pyarrow's ArrowMemoryError too: not the file's fault
            raise UnavailableError(f"mémoire insuffisante pour lire l'extraction {self.path} ({exc}) : le contrôle "
                                   f"en lit des morceaux de {self.rows} lignes ; libérez de la mémoire (moins de "
                                   "jeux traités en même temps) puis relancez.", dataset_id=self.dataset_id) from exc
        except (pa.ArrowException, OSError) as exc:
            raise RejectedError(f"l'extraction {self.path} n'est pas un fichier Parquet lisible ({exc}) : "
                                "relancez l'extraction.", dataset_id=self.dataset_id) from exc

    def _frame(self, table: pa.Table | pa.RecordBatch, names: Sequence[str] | None = None) -> pd.DataFrame:
        names = list(names or self.names)
        columns = []
        for name, column in zip(names, table.columns, strict=True):
            kind = column.type
            if name != self.geometry and not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
                try:
                    column = pc.cast(column, pa.string())
                except pa.ArrowException as exc:
                    raise RejectedError(f"la colonne '{name}' de {self.path.name} contient des valeurs {kind} qui "
                                        "ne peuvent pas être lues comme du texte ; la source doit écrire des "
                                        "colonnes texte.", dataset_id=self.dataset_id) from exc
            columns.append(column)
        positional = pa.table(columns, names=[str(i) for i in range(len(columns))])
        frame = positional.to_pandas(types_mapper={pa.string(): TEXT, pa.large_string(): TEXT}.get)
        frame.columns = names
        return frame


def chunk_rows(file: pq.ParquetFile) -> int:
    """Rows per chunk: about `CHUNK_BYTES` of cells in memory, judged on the first rows (the variable may set it).

    The file's own sizes say little: dictionary-encoded columns of repeated texts take a tenth of their text.
    """
    if os.environ.get(CHUNK_ROWS_VARIABLE):
        return max(int(os.environ[CHUNK_ROWS_VARIABLE]), 1)
    sample = next(file.iter_batches(batch_size=SAMPLE_ROWS), None)
    if sample is None or not sample.num_rows:
        return SAMPLE_ROWS
    return max(int(CHUNK_BYTES * sample.num_rows // max(sample.nbytes, 1)), 1)


def read_text_table(path: Path, *, dataset_id: str | None = None, geometry: str | None = None,
                    lang: Lang = DEFAULT_LANG) -> tuple[pd.DataFrame, list[str]]:
    """Read a whole Parquet extract, every column but `geometry` as text, keeping duplicate column names.

    Returns:
        The frame and notes (in `lang`) about columns that were not text.
    """
    chunks = TextChunks(path, dataset_id=dataset_id, geometry=geometry, lang=lang)
    chunks.rows = max(chunks.total, 1)
    return next(iter(chunks)), chunks.notes


def _suite(schema: TableSchemaRef | None, policy: QualityPolicy, clean: pd.DataFrame,
           dataset_id: str) -> SuiteRun | None:
    """The GX suite the schema and the catalog ask, or None when there is nothing to run."""
    if (schema is None and not policy.expectations) or not len(clean.columns):
        return None
    from moisson.quality.expectations import SuiteRun, catalog_expectation, schema_expectations

    return SuiteRun((schema_expectations(schema, clean) if schema else []) + [
        catalog_expectation(e, dataset_id=dataset_id) for e in policy.expectations], name=dataset_id)


def _expectations(suite: SuiteRun | None, issues: Issues, policy: QualityPolicy,
                  out_dir: Path) -> tuple[list[dict], Path | None]:
    """The GX results over every chunk, written out; failing catalog expectations become errors."""
    if suite is None:
        return [], None
    from moisson.quality.expectations import summarise

    results = suite.result()
    path = out_dir / GX_RESULTS
    path.write_text(json.dumps(results, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    lines, failed = summarise(results, policy.lang)
    for issue in failed:
        issues.table(field=issue.field, type=issue.type, rule=issue.rule, message=issue.message)
    return lines, path


def _left_to_check(schema: TableSchemaRef | None,
                   trusted: frozenset[str]) -> tuple[list[dict], list[str], set[str]]:
    """The custom checks, the primary key and the fields to cast when `trusted` fields need no checking.

    A custom check or the primary key is left out only when it reads nothing but trusted fields; a custom check
    whose parameters name no field at all is kept.
    """
    if schema is None:
        return [], [], set()
    names = {f.name for f in schema.fields}
    custom = [c for c in schema.custom_checks if not (read := _named(c.get("params"), names)) or not read <= trusted]
    key = [] if schema.primary_key and set(schema.primary_key) <= trusted else schema.primary_key
    cast = (names - trusted) | set(key)
    for check in custom:
        cast |= _named(check.get("params"), names)
    return custom, key, cast


def _named(params: object, names: set[str]) -> set[str]:
    """The field names among the texts of a custom check's parameters, however nested."""
    if isinstance(params, str):
        return {params} & names
    if isinstance(params, Mapping):
        return _named(list(params.values()), names)
    if isinstance(params, list | tuple):
        return set().union(*(_named(p, names) for p in params))
    return set()


def _same_texts(left: pd.Series, right: pd.Series) -> bool:
    """Whether two text columns write the same cells row for row (a null as an empty text, as in the CSV)."""
    if left.array is right.array:
        return True
    texts = [pc.fill_null(pa.array(s.array, type=pa.large_string()), "") for s in (left, right)]
    return len(texts[0]) == len(texts[1]) and pc.all(pc.equal(*texts), min_count=0).as_py()


def _missing_as_null(column: pd.Series, missing: list[str]) -> pd.Series:
    """Cells whose text means "no value" become null; a column without any is kept as is (no copy)."""
    # Such a text only fits a cell of its byte length: comparing lengths spares most columns the hashing.
    lengths = pc.binary_length(pa.array(column.array, type=pa.large_string()))
    if not any(pc.any(pc.equal(lengths, size)).as_py() for size in {len(text.encode()) for text in missing}):
        return column
    hits = column.isin(missing).to_numpy(bool)
    return column.mask(hits) if hits.any() else column


def _as_text(column: pd.Series) -> pd.Series:
    return (column if column.dtype == TEXT else column.astype(TEXT)).reset_index(drop=True)


def _ordered(errors: Sequence[QualityIssue]) -> list[QualityIssue]:
    """Table-level issues first, then by row (stable: field order within a row)."""
    return sorted(errors, key=lambda i: -1 if i.row is None else i.row)


def _schema_info(schema: TableSchemaRef | None) -> dict[str, str | None] | None:
    if schema is None:
        return None
    return {"name": schema.name, "version": schema.version, "source": schema.source}
