"""Prepare task: apply the dataset's recipe to the extract, between extraction and quality."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from moisson.catalog.model import Catalog, Dataset
from moisson.core.errors import CatalogError, RejectedError
from moisson.prepare.apply import PREPARED, prepare_table
from moisson.prepare.catalog_file import checked_recipe
from moisson.prepare.preview import summary, to_markdown
from moisson.tasks.extract import Extracted
from moisson.tasks.geocode import geocoded
from moisson.tasks.quality import schema_of


def context_of(catalog: Catalog, dataset: Dataset) -> dict[str, dict[str, Any]]:
    """The values of a recipe's `{organization.*}` and `{dataset.*}` placeholders."""
    return {"organization": catalog.model.defaults.organization.model_dump(),
            "dataset": {"id": dataset.id, "title": catalog.metadata_of(dataset).title}}


@task(name="prepare", task_run_name="prepare · {dataset_id}", cache_policy=NO_CACHE)
def prepare_dataset(catalog: Catalog, dataset_id: str, extracted: Extracted, workdir: Path) -> Extracted:
    """Apply the dataset's recipe, if it has one; the quality gate then checks the prepared file.

    Raises:
        CatalogError: The recipe does not fit the schema, or the dataset has none.
        RejectedError: A rule could not run (a column gone, a value its map does not know) under
            `on_failure: block`: nothing is published.
    """
    ds = catalog.dataset(dataset_id)
    if ds.prepare is None:
        return extracted
    schema = schema_of(catalog, ds.schema_)
    if schema is None:
        raise CatalogError(f"jeu de données {dataset_id} : une recette `prepare:` ajuste un fichier à un schéma ; "
                           "ajoutez `schema:`",
                           file=str(catalog.path))
    recipe = checked_recipe(ds.prepare, [f.name for f in schema.fields], catalog=catalog.path, dataset_id=ds.id)
    source = extracted.extract
    path, geocoding = source.path, []
    if recipe.geocode is not None:
        path, geocoding = geocoded(catalog, dataset_id, recipe.geocode, source.path, workdir / "geocoded.parquet",
                                   context_of(catalog, ds))
    prepared = prepare_table(path, recipe, schema, workdir / PREPARED, context=context_of(catalog, ds),
                             first_row=source.first_row, row_gaps=source.row_gaps)
    create_markdown_artifact(key=f"prepare-{dataset_id}", markdown=to_markdown(dataset_id, summary(prepared)),
                             description=f"Préparation de {dataset_id}")
    logger = get_run_logger()
    for message in prepared.warnings:
        logger.warning("%s : %s", dataset_id, message)
    for message in prepared.errors:
        logger.error("%s : %s", dataset_id, message)
    if prepared.blocked:
        raise RejectedError(f"préparation bloquée (on_failure: block), rien n'est publié : {prepared.errors[0]}"
                            + (f" (et {len(prepared.errors) - 1} autres)" if len(prepared.errors) > 1 else ""),
                            dataset_id=dataset_id)
    logger.info("%s : %d lignes préparées par la recette", dataset_id, prepared.rows)
    notes = [*source.notes, *geocoding, *prepared.warnings]
    return replace(extracted, extract=replace(source, path=prepared.path, rows=prepared.rows,
                                              first_row=prepared.first_row, row_gaps=prepared.row_gaps,
                                              notes=notes))
