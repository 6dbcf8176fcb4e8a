"""`moisson prepare`: propose a dataset's recipe from its source file, and preview what it does.

Neither command publishes anything nor imports Prefect: the source is read into a temporary folder.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from moisson.console import CatalogOption, JsonOption, catalog_of, err, fail, new_table, out
from moisson.core.errors import MoissonError
from moisson.core.notes import counted

if TYPE_CHECKING:
    from moisson.catalog.model import Catalog, Dataset
    from moisson.connectors.base import Extract
    from moisson.quality.schema import TableSchemaRef

app = typer.Typer(help="Ajuster le fichier d'un service au schéma du jeu de données avec une recette (`prepare:`).",
                  no_args_is_help=True)

DatasetArgument = Annotated[str, typer.Argument(help="Identifiant du jeu de données, comme dans le catalogue.")]


def _load(catalog: Path | None, dataset_id: str) -> tuple[Catalog, Dataset, TableSchemaRef]:
    from moisson.core.errors import CatalogError
    from moisson.core.settings import cache_dir
    from moisson.quality.schema import load_schema

    cat = catalog_of(catalog)
    ds = cat.dataset(dataset_id)
    if ds.schema_ is None:
        raise CatalogError(f"le jeu de données {dataset_id} n'a pas de `schema:` : une recette ajuste un fichier "
                           "à un schéma",
                           file=str(cat.path))
    return cat, ds, load_schema(ds.schema_, schemas_dir=cat.base_dir, cache_dir=cache_dir() / "schemas")


def _extract(cat: Catalog, ds: Dataset, workdir: Path) -> Extract:
    """The dataset's source read as the harvest reads it (text columns in Parquet)."""
    from moisson.connectors.base import DatasetDescriptor
    from moisson.tasks.connect import build_source

    descriptor = DatasetDescriptor(id=ds.id, locator=ds.locator, metadata=cat.metadata_of(ds), schema=ds.schema_)
    return build_source(cat, ds.source).extract(descriptor, workdir)


@app.command()
def suggest(dataset: DatasetArgument, catalog: CatalogOption = None,
            write: Annotated[bool, typer.Option("--write", help="Écrire la recette dans le catalogue.")] = False,
            as_json: JsonOption = False) -> None:
    """Proposer, pour chaque champ du schéma, la colonne de la source qui lui va le mieux, avec confiance et raisons."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from moisson.prepare.catalog_file import write_recipe
    from moisson.prepare.suggest import SAMPLE_ROWS
    from moisson.prepare.suggest import suggest as propose

    try:
        cat, ds, schema = _load(catalog, dataset)
        with tempfile.TemporaryDirectory(prefix=f"moisson-suggest-{dataset}-") as tmp:
            # Detection reads a sample: the first rows are enough to tell what a column holds.
            parquet = pq.ParquetFile(_extract(cat, ds, Path(tmp)).path)
            first = next(parquet.iter_batches(batch_size=SAMPLE_ROWS), None)
            table = pa.Table.from_batches([first]) if first is not None else parquet.read()
        found = propose(table, schema, dataset=dataset,
                        organization=cat.model.defaults.organization.model_dump())
        if write:
            write_recipe(cat.path, dataset, found.recipe(), found.unmapped_required)
    except MoissonError as exc:
        raise fail(exc) from None
    if as_json:
        print(json.dumps(found.to_dict(), ensure_ascii=False, indent=2))
        return
    grid = new_table(f"{dataset} → {found.schema}", "champ", "règle", "confiance", "autres candidates")
    for name, entry in found.fields.items():
        others = ", ".join(f"{c['column']} ({c['score']:.2f})" for c in entry["candidates"][1:] if c["column"])
        rule = json.dumps(entry["rule"], ensure_ascii=False) if entry["rule"] else "—"
        grid.add_row(name, rule, f"{entry['confidence']:.2f}", others)
    out.print(grid)
    if found.unmapped_required:
        out.print(f"[bold red]champs obligatoires sans colonne :[/] {', '.join(found.unmapped_required)}")
    if found.unused_columns:
        out.print(f"colonnes qu'aucun champ ne prend : {', '.join(found.unused_columns)}")
    if write:
        out.print(f"recette écrite dans {cat.path} (datasets → {dataset} → prepare)")


@app.command()
def preview(dataset: DatasetArgument, catalog: CatalogOption = None,
            rows: Annotated[int, typer.Option("--rows", "-n", min=1, help="Lignes de la source à préparer.")] = 1000,
            as_json: JsonOption = False) -> None:
    """Montrer ce que la recette fait aux premières lignes, et les erreurs de validation avant et après."""
    from moisson.prepare.catalog_file import checked_recipe
    from moisson.prepare.preview import preview as run_preview

    try:
        cat, ds, schema = _load(catalog, dataset)
        if ds.prepare is None:
            err.print(f"le jeu de données {dataset} n'a pas de recette `prepare:` : essayez "
                      f"`moisson prepare suggest {dataset} --write`")
            raise typer.Exit(2)
        recipe = checked_recipe(ds.prepare, [f.name for f in schema.fields], catalog=cat.path, dataset_id=ds.id)
        context = {"organization": cat.model.defaults.organization.model_dump(),
                   "dataset": {"id": ds.id, "title": cat.metadata_of(ds).title}}
        with tempfile.TemporaryDirectory(prefix=f"moisson-preview-{dataset}-") as tmp:
            extract = _extract(cat, ds, Path(tmp))
            result = run_preview(extract.path, recipe, schema, rows=rows, context=context,
                                 first_row=extract.first_row, row_gaps=extract.row_gaps)
    except MoissonError as exc:
        raise fail(exc) from None
    if as_json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        _print_preview(dataset, result)
    raise typer.Exit(1 if result["blocked"] else 0)


def _print_preview(dataset: str, result: dict[str, Any]) -> None:
    prepared = counted(result["rows"], "ligne préparée", "lignes préparées")
    grid = new_table(f"{dataset} : {prepared}", "règle", "champ", "lignes entrée → sortie",
                     "cellules changées", "avant → après", "valeurs inconnues")
    for rule in result["rules"]:
        sample = "\n".join(f"{s['before']!r} → {s['after']!r}" for s in rule.get("sample", []))
        unknown = ", ".join(f"{v!r} ({n})" for v, n in rule.get("unknown_values", {}).items())
        grid.add_row(rule["rule"], rule.get("field") or "", f"{rule['rows_in']} → {rule['rows_out']}",
                     str(rule.get("cells_changed", 0)), sample, unknown)
    out.print(grid)
    for message in result["errors"]:
        out.print(f"[bold red]erreur :[/] {message}", highlight=False)
    for message in result["warnings"]:
        out.print(f"[yellow]avertissement :[/] {message}", highlight=False)
    for side, when in (("before", "avant"), ("after", "après")):
        found = result[f"errors_{side}"]
        out.print(f"erreurs de validation {when} préparation : {found['count']}", highlight=False)
        for issue in found["errors"][:10]:
            out.print(f"  [{issue['type']}] {issue['message']}", highlight=False, markup=False)
