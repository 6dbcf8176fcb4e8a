"""Quality task: check an extract against its Table Schema and the catalog's policy."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from pydantic import SecretStr

from moisson.catalog.model import Catalog
from moisson.core.notes import counted
from moisson.core.secrets import SecretRef
from moisson.core.settings import cache_dir
from moisson.quality.gate import QualityResult, check_table
from moisson.quality.schema import TableSchemaRef, load_schema
from moisson.tasks.connect import resolve_secret
from moisson.tasks.extract import Extracted
from moisson.tasks.geocode import communes_of
from moisson.tasks.verdicts import check_key, remember, reused


def schema_of(catalog: Catalog, ref: str | None) -> TableSchemaRef | None:
    """Load a dataset's Table Schema (file relative to the catalog, URL, or `name@version`)."""
    if ref is None:
        return None
    return load_schema(ref, schemas_dir=catalog.base_dir, cache_dir=cache_dir() / "schemas")


@task(name="quality", task_run_name="quality · {dataset_id}", cache_policy=NO_CACHE)
def check_dataset(catalog: Catalog, dataset_id: str, extracted: Extracted, reports: Path) -> QualityResult:
    """Normalise, cast and check the extract; write the typed Parquet and the reports in `reports`.

    An extract and rules identical to the dataset's last check reuse its result and files (`tasks/verdicts.py`).
    """
    ds = catalog.dataset(dataset_id)
    policy = catalog.quality_of(ds)
    if "hash" in policy.personal_data.values() and isinstance(policy.hash_salt, SecretRef):
        policy = policy.model_copy(update={"hash_salt": SecretStr(resolve_secret(policy.hash_salt))})
    schema = schema_of(catalog, ds.schema_)
    extract = extracted.extract
    arguments = {"dataset_id": dataset_id, "schema": schema, "policy": policy, "geometry": extract.geometry,
                 "first_row": extract.first_row, "row_gaps": extract.row_gaps,
                 "metadata": extracted.dataset.metadata, "findings": extract.findings,
                 "communes": communes_of(catalog, dataset_id, extracted, schema), "reading": extract.notes}
    key = check_key(extract.path, arguments)
    logger = get_run_logger()
    result = reused(reports.parent, key)
    if result is None:
        result = check_table(extract.path, out_dir=reports, **arguments)
        remember(reports.parent, reports, key, result)
    else:
        logger.info("%s : extrait, schéma et règles identiques au dernier contrôle ; son résultat est repris "
                    "(rapport : %s)", dataset_id, result.report_html)
    if result.success:
        logger.info("%s : %s les contrôles de qualité", dataset_id,
                    counted(result.rows, "ligne passe", "lignes passent"))
    else:
        verdict = "bloqué" if result.blocked else "publié avec des avertissements (politique : warn)"
        logger.warning("%s : %s de qualité, %s ; rapport : %s", dataset_id, counted(result.error_count, "erreur"),
                       verdict, result.report_html)
    return result
