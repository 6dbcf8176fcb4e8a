"""A dataset's `prepare:` block in the catalog file itself: where its keys are, and writing a suggested one.

Read and written with ruamel.yaml's round trip, so the file keeps its comments, order and layout.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from moisson.core.errors import CatalogError
from moisson.prepare.recipe import Problem, Recipe, check_recipe


def _yaml() -> YAML:
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def _entry(document: Any, dataset_id: str) -> tuple[tuple[str | int, ...], CommentedMap] | None:
    for i, entry in enumerate(document.get("datasets") or []):
        if isinstance(entry, Mapping) and entry.get("id") == dataset_id:
            return ("datasets", i), entry
    return None


def recipe_error(catalog: Path, dataset_id: str, problem: Problem) -> CatalogError:
    """A recipe problem as a catalog error naming the file, the line and the key path."""
    document = _yaml().load(catalog.read_text(encoding="utf-8"))
    found = _entry(document, dataset_id)
    if found is None:  # a collection's dataset: its recipe is the collection's
        return CatalogError(f"jeu de données {dataset_id} : {problem.message}", file=str(catalog),
                            path=_dotted(("prepare", *problem.path)))
    where, node = found
    line, path = node.lc.line + 1, (*where, "prepare")
    node = node.get("prepare")
    for key in problem.path:
        if isinstance(node, CommentedMap) and key in node:
            line = node.lc.key(key)[0] + 1
            node = node[key]
        elif isinstance(node, CommentedSeq) and isinstance(key, int) and key < len(node):
            line = node.lc.item(key)[0] + 1
            node = node[key]
        else:
            break
    return CatalogError(problem.message, file=str(catalog), line=line, path=_dotted((*path, *problem.path)))


def write_recipe(catalog: Path, dataset_id: str, recipe: Mapping[str, Any], placeholders: Sequence[str]) -> None:
    """Put `recipe` as the `prepare:` block of a dataset's entry, replacing any, keeping the rest of the file.

    `placeholders` are required fields no column fits: written as comments to fill in by hand.

    Raises:
        CatalogError: The dataset has no entry of its own under `datasets:`.
    """
    yaml = _yaml()
    document = yaml.load(catalog.read_text(encoding="utf-8"))
    found = _entry(document, dataset_id)
    if found is None:
        raise CatalogError(f"le jeu de données {dataset_id!r} n'a pas d'entrée à lui sous `datasets:` où écrire "
                           "une recette : ajoutez-en une (une collection ne peut pas recevoir de recette par jeu)",
                           file=str(catalog))
    _, entry = found
    block = CommentedMap()
    block["header"] = recipe["header"]
    fields = CommentedMap()
    for name, rule in recipe["fields"].items():
        fields[name] = _flow(rule)
    block["fields"] = fields
    if placeholders:
        # Required fields no column fits stay in sight, as lines to complete, never as a silent gap.
        lines = ["champs requis sans colonne trouvée : indiquez leur colonne (from) ou une constante (const)"]
        lines += [f"  {name}: {{from: ???}}" for name in placeholders]
        block.yaml_set_comment_before_after_key("fields", before="\n".join(lines), indent=entry.lc.col + 2)
    if "prepare" in entry:
        entry["prepare"] = block
    else:
        entry.insert(len(entry), "prepare", block)
    out = io.StringIO()
    yaml.dump(document, out)
    catalog.write_text(out.getvalue(), encoding="utf-8")


def _flow(value: Any) -> Any:
    """A rule written on one line (`{from: X, parse: {date: '%d/%m/%Y'}}`), as people write them."""
    if isinstance(value, Mapping):
        node = CommentedMap((k, _flow(v)) for k, v in value.items())
        node.fa.set_flow_style()
        return node
    if isinstance(value, list):
        seq = CommentedSeq(_flow(v) for v in value)
        seq.fa.set_flow_style()
        return seq
    return value


def _dotted(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def checked_recipe(recipe: Recipe | Mapping[str, Any], fields: Sequence[str], *, catalog: Path,
                   dataset_id: str) -> Recipe:
    """A dataset's recipe, checked against its schema's field names.

    A collection's dataset carries its recipe as the plain mapping it was copied as: validated here.

    Raises:
        CatalogError: The recipe names a field the schema lacks, or an unknown placeholder (file, line, key).
    """
    recipe = recipe if isinstance(recipe, Recipe) else Recipe.model_validate(recipe)
    problems = check_recipe(recipe, fields)
    if problems:
        raise recipe_error(catalog, dataset_id, problems[0])
    return recipe
