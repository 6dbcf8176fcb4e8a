"""Round trip: the CSV every target sends, made once from the checked table and read back before anything goes out.

A target receives only a file that passed: read back, its header and cells must be the checked table's, and
moisson's own gate must find in it no error the quality check had not already reported (none at all for a
dataset that passed). Otherwise the dataset fails with one message and what is already published stays.
The gate looks again at the rows, the header and every column moisson wrote otherwise than the source
(normalised, hashed, added); a column published with the source's own texts was judged on those very texts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from moisson.catalog.model import Catalog
from moisson.connectors.csvfile import BATCH_ROWS, cell_text, published_csv, render_csv
from moisson.core.errors import RejectedError
from moisson.quality.gate import report_frame
from moisson.quality.messages import DEFAULT_LANG, Lang
from moisson.quality.report import IssueCount, QualityResult
from moisson.quality.schema import TableSchemaRef

MESSAGES: dict[str, dict[Lang, str]] = {
    "cells": {"fr": "le fichier CSV à publier ne redonne pas les cellules vérifiées ({where}) ; rien n'a été "
                    "publié et la version déjà en ligne reste. C'est une anomalie de moisson : signalez-la "
                    "avec ce message",
              "en": "the CSV to publish does not read back as the checked cells ({where}); nothing was "
                    "published and the version already online stays. This is a moisson bug: report it with "
                    "this message"},
    "schema": {"fr": "le fichier CSV à publier ne respecterait pas le schéma {schema} : {count} erreur(s) que la "
                     "source n'avait pas, par exemple « {example} » ; rien n'a été publié et la version déjà en "
                     "ligne reste. Revoyez ce que le catalogue retire ou transforme pour ce jeu (personal_data : "
                     "drop ou hash d'une colonne que le schéma contraint), puis relancez",
               "en": "the CSV to publish would break the schema {schema}: {count} error(s) the source did not "
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
        The CSV file, which `write_csv` then copies for every target.

    Raises:
        RejectedError: The file does not read back as the checked cells, or holds errors the check had not.
    """
    path = published_csv(data)
    # The file reads back as these very cells, or the check stops below: the schema check reads them from the
    # Parquet file, chunk by chunk, in a thread while the CSV is written and read back (Arrow does most of both
    # without the GIL), so that the two take the time of the longer one on two cores.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="round-trip") as pool:
        checking = pool.submit(report_frame, data, schema, lang=lang, normalise=False,
                               trusted=trusted) if schema else None
        render_csv(data, path)
        where = _first_difference(data, path, lang)
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
        raise RejectedError(MESSAGES["schema"][lang].format(schema=label, count=sum(new.values()), example=example),
                            dataset_id=dataset_id)
    return path


def _first_difference(data: Path, path: Path, lang: Lang) -> str | None:
    """Where the CSV `path` read back differs from the checked table `data` (header, row count, first cell), or None.

    Both are read batch by batch, side by side: memory stays that of a few batches whatever the table's size.
    """
    parquet = pq.ParquetFile(data, pre_buffer=False)  # pre-buffered chunks stay in memory until the file closes
    names = parquet.schema_arrow.names
    reader = pacsv.open_csv(path, parse_options=pacsv.ParseOptions(newlines_in_values=True),
                            convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()),
                                                                 strings_can_be_null=False,
                                                                 quoted_strings_can_be_null=False))
    if reader.schema.names != names:
        return MESSAGES["header"][lang].format(got=reader.schema.names[:5], want=names[:5])
    expected = parquet.iter_batches(batch_size=BATCH_ROWS)
    pending = pa.table({name: pa.array([], parquet.schema_arrow.field(name).type) for name in names})
    done = 0
    for got in reader:
        while pending.num_rows < got.num_rows and (batch := next(expected, None)) is not None:
            pending = pa.concat_tables([pending, pa.Table.from_batches([batch])])
        if pending.num_rows < got.num_rows:
            read = done + got.num_rows + sum(b.num_rows for b in reader)
            return MESSAGES["count"][lang].format(got=read, want=parquet.metadata.num_rows)
        if where := _differing_cell(pending.slice(0, got.num_rows), got):
            row, name = where
            return MESSAGES["cell"][lang].format(row=done + row + 2, column=name)
        pending, done = pending.slice(got.num_rows), done + got.num_rows
    if done != parquet.metadata.num_rows:
        return MESSAGES["count"][lang].format(got=done, want=parquet.metadata.num_rows)
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
