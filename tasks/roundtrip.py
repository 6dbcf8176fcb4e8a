"""Round trip: the CSV every target sends, made once from the checked table and read back before anything goes out.

A target receives only a file that passed: read back, its header and cells must be the checked table's, and
moisson's own gate must find in it no error the quality check had not already reported (none at all for a
dataset that passed). Otherwise the dataset fails with one message and what is already published stays.
The gate looks again at the rows, the header and every column moisson wrote otherwise than the source
(normalised, hashed, added); a column published with the source's own texts was judged on those very texts.
"""

from __future__ import annotations

import csv
from collections import Counter, deque
from collections.abc import Collection, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from moisson.catalog.model import Catalog
from moisson.connectors.csvfile import cell_text, fresh, published_csv, render_csv
from moisson.core.errors import RejectedError
from moisson.core.notes import counted
from moisson.quality.gate import report_frame
from moisson.quality.messages import DEFAULT_LANG, Lang
from moisson.quality.report import IssueCount, QualityResult
from moisson.quality.schema import TableSchemaRef

#: Batches made and waiting to be read back, at most.
READ_AHEAD = 2
MESSAGES: dict[str, dict[Lang, str]] = {
    "cells": {"fr": "le fichier CSV à publier ne redonne pas les cellules vérifiées ({where}) ; rien n'a été "
                    "publié et la version déjà en ligne reste. C'est une anomalie de moisson : signalez-la "
                    "avec ce message",
              "en": "the CSV to publish does not read back as the checked cells ({where}); nothing was "
                    "published and the version already online stays. This is a moisson bug: report it with "
                    "this message"},
    "schema": {"fr": "le fichier CSV à publier ne respecterait pas le schéma {schema} : {errors} que la "
                     "source n'avait pas, par exemple « {example} » ; rien n'a été publié et la version déjà en "
                     "ligne reste. Revoyez ce que le catalogue retire ou transforme pour ce jeu (personal_data : "
                     "drop ou hash d'une colonne que le schéma contraint), puis relancez",
               "en": "the CSV to publish would break the schema {schema}: {errors} the source did not "
                     "have, e.g. '{example}'; nothing was published and the version already online stays. Check "
                     "what the catalog removes or changes for this dataset (personal_data: drop or hash of a "
                     "column the schema constrains), then run again"},
    "header": {"fr": "en-tête {got}… au lieu de {want}…", "en": "header {got}… instead of {want}…"},
    "count": {"fr": "{got} lignes au lieu de {want}", "en": "{got} rows instead of {want}"},
    "cell": {"fr": "ligne {row}, colonne {column!r}", "en": "row {row}, column {column!r}"},
}


def verified_csv(data: Path, *, dataset_id: str, schema: TableSchemaRef | None,
                 accepted: Iterable[IssueCount] = (), trusted: Collection[str] = (),
                 lang: Lang = DEFAULT_LANG) -> Path:
    """Write the CSV of the checked table `data` beside it, read it back and check it.

    Args:
        data: Parquet file of the checked text cells.
        dataset_id: The dataset, named in the error.
        schema: Its Table Schema, if any.
        accepted: The errors the quality check reported (a `warn` policy publishes them): no more may appear.
        trusted: Fields whose cells the quality check judged as they are written here (`QualityResult.unaltered`):
            only the others, the rows and the header are checked again.
        lang: Language of the error.

    Returns:
        The CSV file, which `write_csv` then gives every target.

    Raises:
        RejectedError: The file does not read back as the checked cells, or holds errors the check had not.
    """
    path = fresh(published_csv(data))  # a CSV made here earlier (a reused verdict) may be a portal's file now
    # The file reads back as these very cells, or the check stops below: the schema check reads them from the
    # Parquet file, chunk by chunk, in a thread while the CSV is written and parsed back (Arrow does most of both
    # without the GIL), so that the two take the time of the longer one on two cores.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="round-trip") as pool:
        checking = pool.submit(report_frame, data, schema, lang=lang, normalise=False,
                               trusted=trusted) if schema else None
        where = _written_as_checked(data, path, lang)
        if where:
            path.unlink()
            raise RejectedError(MESSAGES["cells"][lang].format(where=where), dataset_id=dataset_id)
        if checking is None:
            return path
        report = checking.result()
    allowed = Counter({(c.field, c.type, c.rule): c.count for c in accepted})
    new = {(c.field, c.type, c.rule): c.count - allowed[(c.field, c.type, c.rule)] for c in report.counts
           if c.count > allowed[(c.field, c.type, c.rule)]}
    if new:
        path.unlink()
        example = next(e.message for e in report.errors if (e.field, e.type, e.rule) in new)
        label = " ".join(filter(None, (schema.name, schema.version))) or schema.source
        errors = counted(sum(new.values()), {"fr": "erreur", "en": "error"}[lang], lang=lang)
        raise RejectedError(MESSAGES["schema"][lang].format(schema=label, errors=errors, example=example),
                            dataset_id=dataset_id)
    return path


def _written_as_checked(data: Path, path: Path, lang: Lang) -> str | None:
    """Write the CSV of the checked table `data` at `path`; where it does not read back as its cells, or None.

    Each batch's bytes are parsed by Arrow's CSV reader as they are written, and compared with the batch: a
    record ends every batch's bytes, so the file reads as they do, with no second pass over either file. Arrow
    parses and compares without the GIL: a thread reads each batch back while the next one is made. Then
    the file's header is read back by Python's `csv`. What differs is said: the header, the row count, or the
    first cell.
    """
    want = read = 0
    where: tuple[int, str] | None = None

    def read_back(batch: pa.RecordBatch, lines: memoryview) -> None:
        nonlocal want, read, where
        got = _parsed(lines, batch.schema.names)
        rows = got.num_rows if got is not None else 0
        if where is None and read == want and rows == batch.num_rows:
            found = _differing_cell(pa.Table.from_batches([batch]), got)
            where = (read + found[0], found[1]) if found else None
        want, read = want + batch.num_rows, read + rows

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="read-back") as reader:
        ahead: deque[Future[None]] = deque()

        def read_later(batch: pa.RecordBatch, lines: memoryview) -> None:
            if len(ahead) == READ_AHEAD:  # the batches made and not yet read back stay few in memory
                ahead.popleft().result()
            ahead.append(reader.submit(read_back, batch, lines))

        render_csv(data, path, written=read_later)
        while ahead:
            ahead.popleft().result()
    names = pq.ParquetFile(data).schema_arrow.names
    with path.open(encoding="utf-8", newline="") as text:
        header = next(csv.reader(text), [])
    if header != names:
        return MESSAGES["header"][lang].format(got=header[:5], want=names[:5])
    if read != want:
        return MESSAGES["count"][lang].format(got=read, want=want)
    if where:
        return MESSAGES["cell"][lang].format(row=where[0] + 2, column=where[1])
    return None


def _parsed(lines: memoryview, names: list[str]) -> pa.Table | None:
    """CSV lines parsed by Arrow as text columns `names`, or None when they hold no record Arrow can read.

    Lines that do not end a record (their last line feed missing) would run into the next batch's in the file:
    None too, as the batch's rows would not read back.
    """
    if not lines or lines[-1] != ord("\n"):
        return None
    # A line feed in a cell is inside quotes: without any quote, every line feed ends a record, which Arrow
    # parses faster when told so (the same records either way).
    quoted = bool((np.frombuffer(lines, dtype=np.uint8) == ord('"')).any())
    try:
        return pacsv.read_csv(pa.py_buffer(lines),
                              read_options=pacsv.ReadOptions(column_names=names, use_threads=False),
                              parse_options=pacsv.ParseOptions(newlines_in_values=quoted),
                              convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()),
                                                                   strings_can_be_null=False,
                                                                   quoted_strings_can_be_null=False))
    except pa.ArrowInvalid:  # a quote left open, a row of another width
        return None


def _differing_cell(expected: pa.Table, read: pa.RecordBatch) -> tuple[int, str] | None:
    """The first (row, column) where the CSV's cells are not the checked ones' texts, or None."""
    for name in expected.column_names:
        column = expected[name]
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            texts = pc.fill_null(column.cast(pa.string()), "")
        else:
            texts = pa.chunked_array([pa.array([cell_text(v, False) for v in column.to_pylist()], pa.string())])
        same = pc.equal(texts, read.column(name))
        if not pc.all(same, min_count=0).as_py():  # min_count=0: an empty column is all equal, not null
            return pc.index(same, False).as_py(), name
    return None


@task(name="round-trip", task_run_name="round trip · {dataset_id}", cache_policy=NO_CACHE)
def verify_publication(catalog: Catalog, dataset_id: str, checked: QualityResult) -> Path:
    """Make the dataset's CSV once and check it reads back as what was checked (see `verified_csv`)."""
    info = checked.schema or {}
    schema = TableSchemaRef(descriptor=checked.table_schema, name=info.get("name"), version=info.get("version"),
                            source=info.get("source") or "") if checked.table_schema else None
    path = verified_csv(checked.clean_path, dataset_id=dataset_id, schema=schema, accepted=checked.counts,
                        trusted=checked.unaltered, lang=catalog.quality_of(catalog.dataset(dataset_id)).lang)
    get_run_logger().info("%s : %s se relit tel que vérifié ; toutes les cibles reçoivent ces octets", dataset_id,
                          path.name)
    return path
