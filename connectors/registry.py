"""Find connector classes by name: entry points first, then a dotted path `pkg.mod:Class`.

Built-in connectors are declared in `pyproject.toml` under the entry-point groups
`moisson.sources` and `moisson.targets`, exactly as a third-party package would declare
its own (the Meltano SDK finds batch encoders the same way). A dotted path lets a test
or a one-off script use a class that no package declares (pygeoapi's plugin fallback).
"""

from __future__ import annotations

import importlib
from functools import cache
from importlib.metadata import entry_points
from typing import Literal

from moisson.core.errors import ConfigError

Role = Literal["source", "target"]
GROUPS: dict[Role, str] = {"source": "moisson.sources", "target": "moisson.targets"}


@cache
def available(role: Role) -> dict[str, str]:
    """Return the declared connectors of a role as `{kind: "module:Class"}`.

    Raises:
        ConfigError: Two installed packages declare the same kind.
    """
    found: dict[str, str] = {}
    for ep in entry_points(group=GROUPS[role]):
        if ep.name in found and found[ep.name] != ep.value:
            raise ConfigError(f"two packages declare the {role} connector {ep.name!r}: "
                              f"{found[ep.name]} and {ep.value}; uninstall one")
        found[ep.name] = ep.value
    return dict(sorted(found.items()))


def load(role: Role, name: str) -> type:
    """Return the connector class for `name` (an entry-point kind or `pkg.mod:Class`).

    Raises:
        ConfigError: No such connector, or the class cannot be imported.
    """
    target = available(role).get(name)
    if target is None:
        if ":" not in name:
            known = ", ".join(available(role)) or "none"
            raise ConfigError(f"unknown {role} connector {name!r}; installed: {known} "
                              "(or give a dotted path package.module:Class)")
        target = name
    module_name, _, attr = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"{role} connector {name!r} cannot be loaded from {target}: {exc}") from exc
    for required in ("kind", "Config"):
        if not hasattr(cls, required):
            raise ConfigError(f"{target} is not a {role} connector: it has no {required!r} attribute")
    return cls
