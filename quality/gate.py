"""The quality gate: read, match columns, normalise, cast, check, run GX, write the clean table and reports."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from moisson.core.errors import NotFoundError, RejectedError
from moisson.core.metadata import DatasetMetadata
from moisson.quality.cast import TEXT, cast_column
from moisson.quality.checks import (
    CAP,
    Issues,
    RowGaps,
    RowShape,
    check_blank_rows,
    check_field,
    check_labels,
    check_primary_key,
    check_row_shapes,
)
from moisson.quality.completeness import METADATA, check_metadata
from moisson.quality.custom import Table, run_custom_checks
from moisson.quality.flagged import point_map
from moisson.quality.geography import Communes, check_communes, check_geography
from moisson.quality.layout import published_table
from moisson.quality.messages import DEFAULT_LANG, Lang, say
from moisson.quality.normalise import Normalised
from moisson.quality.normalise import normalise as _normalise
from moisson.quality.policy import QualityPolicy
from moisson.quality.report import QualityIssue, QualityReport, QualityResult
from moisson.quality.schema import TableSchemaRef

CLEAN = "clean.parquet"
REPORT_JSON = "quality.json"
REPORT_HTML = "quality.html"
GX_RESULTS = "gx_results.json"


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
    frame, read_notes = read_text_table(data, dataset_id=dataset_id, geometry=geometry, lang=policy.lang)
    found = inspect(frame, schema, first_row=first_row, row_gaps=row_gaps, geometry=geometry, policy=policy,
                    metadata=metadata, dataset_id=dataset_id, lang=policy.lang, findings=findings)
    if communes is not None:
        found.notes.extend(check_communes(communes, found.issues))
    out_dir.mkdir(parents=True, exist_ok=True)
    clean_path = out_dir / CLEAN
    found.published.to_parquet(clean_path, index=False)
    lines, gx_path = _expectations(found, schema, policy, out_dir, dataset_id)
    issues = found.issues
    success = issues.error_count == 0
    from moisson.quality.personal import PERSONAL  # see _beyond_schema

    # Personal data and a missing title or licence block whatever `on_failure` says.
    always = any(kind in (PERSONAL, METADATA) for _, kind, _ in issues.totals)
    result = QualityResult(
        dataset_id=dataset_id, dataset_title=metadata.title if metadata else None, success=success,
        blocked=not success and (policy.on_failure == "block" or always),
        rows=len(frame), errors=_ordered(issues.errors), warnings=issues.warnings,
        notes=read_notes + found.notes, error_count=issues.error_count, counts=issues.counts,
        normalised=found.normalised, schema=_schema_info(schema), expectations=lines, clean_path=clean_path,
        report_json=out_dir / REPORT_JSON, report_html=out_dir / REPORT_HTML, gx_results=gx_path,
        table_schema=schema.descriptor if schema else None, lang=policy.lang,
        points=point_map(found.published, schema, issues, geometry=geometry, extent=policy.extent),
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


def report_frame(frame: pd.DataFrame, schema: TableSchemaRef | None, *, first_row: int = 2,
                 row_gaps: RowGaps = (), dataset_id: str | None = None,
                 lang: Lang = DEFAULT_LANG, normalise: bool = True, cap: int = CAP,
                 findings: Sequence[RowShape] = ()) -> QualityReport:
    """Like `validate_frame`, with warnings, notes, counts and the cells normalised (unless `normalise` is off)."""
    found = inspect(frame, schema, first_row=first_row, row_gaps=row_gaps, dataset_id=dataset_id, lang=lang,
                    normalise=normalise, cap=cap, findings=findings)
    issues = found.issues
    return QualityReport(dataset_id=dataset_id, success=issues.error_count == 0, rows=len(frame),
                         errors=_ordered(issues.errors), warnings=issues.warnings, notes=found.notes,
                         error_count=issues.error_count, counts=issues.counts, normalised=found.normalised,
                         schema=_schema_info(schema), lang=lang)


def inspect(frame: pd.DataFrame, schema: TableSchemaRef | None, *, first_row: int = 2,
            row_gaps: RowGaps = (), geometry: str | None = None, policy: QualityPolicy | None = None,
            metadata: DatasetMetadata | None = None,
            dataset_id: str | None = None, lang: Lang = DEFAULT_LANG, cap: int = CAP,
            normalise: bool = True, findings: Sequence[RowShape] = ()) -> Inspection:
    """Run every check but GX on a frame of text columns (duplicate column names allowed); messages in `lang`.

    French dates and numbers are rewritten when both `normalise` and the policy's `normalise` say so.
    """
    labels = [str(c) for c in frame.columns]
    firsts = {label: labels.index(label) for label in dict.fromkeys(labels)}
    missing = schema.missing_values if schema else [""]
    raw = pd.DataFrame({label: _missing_as_null(_as_text(frame.iloc[:, i]), missing)
                        for label, i in firsts.items() if label != geometry}, index=pd.RangeIndex(len(frame)))
    carried = {geometry: frame.iloc[:, firsts[geometry]].reset_index(drop=True)} if geometry in firsts else {}
    source = pd.DataFrame({label: frame.iloc[:, i].reset_index(drop=True) for label, i in firsts.items()},
                          index=raw.index)
    if schema is None:
        issues = Issues(raw, first_row=first_row, row_gaps=row_gaps, lang=lang)
        for label in sorted({x for x in labels if labels.count(x) > 1}):
            issues.table(field=label, type="duplicate-label", warning=True,
                         message=issues.say("label.duplicate-kept", label=label))
        check_blank_rows(raw, issues, warning=True)
        # Without a schema too, a row longer or shorter than the header is an error, as in Validata.
        check_row_shapes(findings, frame, issues, normalise=normalise and (policy is None or policy.normalise))
        issues.table(field=None, type="no-schema", message=issues.say("table.no-schema"), warning=True)
        clean, protected = _beyond_schema(raw, source, issues, None, carried.get(geometry), policy, metadata)
        return Inspection(issues, protected, clean, [], clean)

    issues = Issues(raw, first_row=first_row, row_gaps=row_gaps, primary_key=schema.primary_key, lang=lang,
                    cap=cap)
    french = normalise and (policy is None or policy.normalise)
    made, left_out = check_row_shapes(findings, frame, issues, normalise=french)
    notes = check_labels([label for label in labels if label not in made], schema.fields, issues, geometry=geometry)
    present = [f for f in schema.fields if f.name in raw.columns]
    active = check_blank_rows(raw, issues)
    text, rewritten = _normalise(raw[[f.name for f in present]], present, french=french)
    normalised = left_out + rewritten
    values = {f.name: cast_column(text[f.name], f) for f in present}
    for spec in present:
        check_field(text[spec.name], values[spec.name], spec, issues, active)
    check_primary_key(values, schema.primary_key, issues, active)
    table = Table(text, values, {f.name: f for f in present}, issues, active)
    run_custom_checks(schema.custom_checks, table)
    layout, laid = published_table(source, schema, text, rewritten={n.field for n in normalised}, geometry=geometry,
                                   extra_columns=policy.extra_columns if policy else "keep", lang=lang)
    # Columns published beyond the schema are looked at too (personal data, coordinates).
    beyond = [c for c in layout.columns if c in raw.columns and c not in text.columns]
    published, protected = _beyond_schema(pd.concat([text, raw[beyond]], axis=1), layout, issues, schema,
                                          carried.get(geometry), policy, metadata, active)
    # The expectations read typed values, and no column the source lacks (the layout's empty optional ones).
    hashed = {c for c, action in (policy.personal_data if policy else {}).items() if action == "hash"}
    clean = published.drop(columns=[c for c in published.columns if c not in source.columns]).assign(
        **{n: v for n, v in values.items() if n in published.columns and n not in hashed})
    return Inspection(issues, notes + [n.note(lang) for n in normalised] + laid + protected, clean, normalised,
                      published)


def _beyond_schema(text: pd.DataFrame, clean: pd.DataFrame, issues: Issues, schema: TableSchemaRef | None,
                   geometry: pd.Series | None, policy: QualityPolicy | None, metadata: DatasetMetadata | None,
                   active: np.ndarray | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Geography, personal data and metadata: what no schema says, checked for publication only (with a policy)."""
    if policy is None:
        return clean, []
    fields = {f.name: f for f in schema.fields} if schema else {}
    check_geography(text, issues, fields=fields, geometry=geometry, extent=policy.extent, active=active,
                    custom_checks=schema.custom_checks if schema else ())
    # The metadata score is a note, so the report and the Prefect artifact show it.
    notes = [check_metadata(metadata, issues).summary(issues)] if metadata is not None else []
    # Its patterns (hundreds of first names) take longer to compile than `moisson validate` needs, which never
    # runs it (no policy): imported here.
    from moisson.quality.personal import producer_domains, protect

    clean, protected = protect(text, clean, issues, fields=schema.descriptor.get("fields", []) if schema else (),
                               actions=policy.personal_data, salt=policy.hash_salt,
                               own_domains=producer_domains(metadata))
    return clean, notes + protected


def read_text_table(path: Path, *, dataset_id: str | None = None, geometry: str | None = None,
                    lang: Lang = DEFAULT_LANG) -> tuple[pd.DataFrame, list[str]]:
    """Read a Parquet extract, every column but `geometry` as text, keeping duplicate column names.

    Returns:
        The frame and notes (in `lang`) about columns that were not text.
    """
    try:
        table = pq.read_table(path)
    except FileNotFoundError as exc:
        raise NotFoundError(f"l'extraction {path} n'existe pas : relancez l'extraction.",
                            dataset_id=dataset_id) from exc
    except (pa.ArrowException, OSError) as exc:
        raise RejectedError(f"l'extraction {path} n'est pas un fichier Parquet lisible ({exc}) : "
                            "relancez l'extraction.",
                            dataset_id=dataset_id) from exc
    names, columns, notes = table.column_names, [], []
    for name, column in zip(table.column_names, table.columns, strict=True):
        kind = column.type
        if name != geometry and not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
            try:
                column = pc.cast(column, pa.string())
            except pa.ArrowException as exc:
                raise RejectedError(f"la colonne '{name}' de {path.name} contient des valeurs {kind} qui ne "
                                    "peuvent pas être lues comme du texte ; la source doit écrire des colonnes texte.",
                                    dataset_id=dataset_id) from exc
            if not pa.types.is_null(kind):
                notes.append(say("note.read-as-text", lang, column=name, kind=kind))
        columns.append(column)
    positional = pa.table(columns, names=[str(i) for i in range(len(columns))])
    frame = positional.to_pandas(types_mapper={pa.string(): TEXT, pa.large_string(): TEXT}.get)
    frame.columns = names
    return frame, notes


def _expectations(found: Inspection, schema: TableSchemaRef | None, policy: QualityPolicy, out_dir: Path,
                  dataset_id: str) -> tuple[list[dict], Path | None]:
    """Run the GX suite on the clean frame; failing catalog expectations become errors."""
    if (schema is None and not policy.expectations) or not len(found.clean.columns):
        return [], None
    from moisson.quality.expectations import catalog_expectation, run_suite, schema_expectations, summarise

    suite = (schema_expectations(schema, found.clean) if schema else []) + [
        catalog_expectation(e, dataset_id=dataset_id) for e in policy.expectations]
    results = run_suite(found.clean, suite, name=dataset_id)
    path = out_dir / GX_RESULTS
    path.write_text(json.dumps(results, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    lines, failed = summarise(results, policy.lang)
    for issue in failed:
        found.issues.table(field=issue.field, type=issue.type, rule=issue.rule, message=issue.message)
    return lines, path


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
