"""The bundled index of schema.data.gouv.fr names: a misspelt name is an error offline, not a failed download."""

from __future__ import annotations

import json
from functools import cache

from moisson import schemas
from moisson.core.errors import NotFoundError
from moisson.core.suggest import closest

INDEX = "registry.json"


@cache
def known_names() -> dict[str, tuple[str, ...]]:
    """Schema names of schema.data.gouv.fr known offline, with the versions known of each."""
    from importlib.resources import files

    index = json.loads((files(schemas) / INDEX).read_text(encoding="utf-8"))
    return {name: tuple(versions) for name, versions in index["schemas"].items()}


def check_registry_name(name: str, ref: str) -> None:
    """Refuse a name that is not on schema.data.gouv.fr but close to one that is (`scdl/subvention`).

    A name far from every known one may be newer than the index: it is left to the download.

    Raises:
        NotFoundError: The name is a near-miss of a known name; the message says which.
    """
    names = known_names()
    if name in names:
        return
    near = closest(name, list(names), cutoff=0.8)
    if near is not None:
        raise NotFoundError(f"Table Schema '{ref}' : schema.data.gouv.fr n'a pas de schéma '{name}' ; "
                            f"vouliez-vous dire '{near}' ? "
                            f"(versions connues : {', '.join(names[near]) or 'voir schema.data.gouv.fr'})")
