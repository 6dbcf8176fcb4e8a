"""Build ready-to-use connectors from the catalog: secrets resolved, relative paths anchored.

This is the only place where catalog references become live values, so connectors
receive plain configs and never need Prefect or the environment.
"""

from __future__ import annotations

import os
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from moisson.catalog.model import Catalog
from moisson.connectors import registry
from moisson.connectors.base import SourceConnector, TargetConnector
from moisson.core import redact
from moisson.core.errors import ConfigError
from moisson.core.secrets import SecretRef
from moisson.tasks.labels import ROLES


def resolve_secret(ref: SecretRef) -> str:
    """Return the value behind `{env: NAME}` or `{block: "secret/NAME"}`, remembered for scrubbing.

    Raises:
        ConfigError: The variable is not set or the block does not exist (the message
            names the reference, never a value).
    """
    if ref.env is not None:
        value = os.environ.get(ref.env)
        if not value:
            raise ConfigError(f"la variable d'environnement {ref.env} n'est pas définie : exportez-la avant le "
                              "lancement, ou enregistrez l'identifiant dans un bloc Secret de Prefect")
        redact.remember(value)
        return value
    name = ref.block.removeprefix("secret/") if ref.block else ""
    from prefect.blocks.system import Secret  # deferred: only catalogs using blocks need a Prefect API

    try:
        value = str(Secret.load(name).get())
    except ValueError as exc:
        raise ConfigError(f"bloc Secret de Prefect {name!r} introuvable : créez-le dans l'interface de Prefect "
                          f"(Blocks → Secret) ou avec `prefect block create secret`") from exc
    redact.remember(value)
    return value


def resolve_secrets(value: Any) -> Any:
    """Replace every secret reference in a config tree by its value."""
    if isinstance(value, dict):
        if set(value) in ({"env"}, {"block"}):
            return resolve_secret(SecretRef.model_validate(value))
        return {k: resolve_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_secrets(v) for v in value]
    return value


def _is_path_field(annotation: Any) -> bool:
    if annotation is Path:
        return True
    origin = typing.get_origin(annotation)
    return origin in (typing.Union, types.UnionType) and Path in typing.get_args(annotation)


def anchor_paths(config_cls: type[BaseModel], config: dict[str, Any], base: Path) -> dict[str, Any]:
    """Make the relative `Path` fields of a connector config relative to the catalog file."""
    anchored = dict(config)
    for name, field in config_cls.model_fields.items():
        value = anchored.get(name)
        if isinstance(value, str) and _is_path_field(field.annotation) and not Path(value).is_absolute():
            anchored[name] = str(base / value)
    return anchored


def _build(catalog: Catalog, role: registry.Role, name: str) -> Any:
    refs = catalog.model.sources if role == "source" else catalog.model.targets
    ref = refs[name]
    cls = registry.load(role, ref.connector)
    raw = anchor_paths(cls.Config, resolve_secrets(ref.config), catalog.base_dir)
    try:
        config = cls.Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{ROLES[role]} {name!r} mal configurée : {exc.errors()[0]['msg']} "
                          f"à {'.'.join(map(str, exc.errors()[0]['loc']))}", connector=ref.connector) from None
    return cls(config)


def build_source(catalog: Catalog, name: str) -> SourceConnector:
    """Instantiate the catalog's source `name`."""
    return _build(catalog, "source", name)


def build_target(catalog: Catalog, name: str) -> TargetConnector:
    """Instantiate the catalog's target `name`."""
    return _build(catalog, "target", name)
