"""Find connector classes by name: entry points first, then a dotted path `pkg.mod:Class`.

Built-in connectors are declared in `pyproject.toml` under the entry-point groups
`moisson.sources` and `moisson.targets`, exactly as a third-party package would declare
its own (the Meltano SDK finds batch encoders the same way). A dotted path lets a test
or a one-off script use a class that no package declares (pygeoapi's plugin fallback).
"""

from __future__ import annotations

import importlib
from functools import cache
from importlib.metadata import EntryPoints, entry_points
from typing import Literal

from moisson.core.errors import ConfigError

Role = Literal["source", "target"]
GROUPS: dict[Role, str] = {"source": "moisson.sources", "target": "moisson.targets"}
#: The role as messages name it ("le connecteur de source 'x'").
_OF: dict[Role, str] = {"source": "de source", "target": "de cible"}


@cache
def _declared() -> EntryPoints:
    """Every installed package's entry points: one reading of all their metadata, for both roles."""
    return entry_points()


@cache
def available(role: Role) -> dict[str, str]:
    """Return the declared connectors of a role as `{kind: "module:Class"}`.

    Raises:
        ConfigError: Two installed packages declare the same kind.
    """
    found: dict[str, str] = {}
    for ep in _declared().select(group=GROUPS[role]):
        if ep.name in found and found[ep.name] != ep.value:
            raise ConfigError(f"deux paquets déclarent le connecteur {_OF[role]} {ep.name!r} : "
                              f"{found[ep.name]} et {ep.value} ; désinstallez l'un des deux")
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
            known = ", ".join(available(role)) or "aucun"
            raise ConfigError(f"connecteur {_OF[role]} inconnu {name!r} ; installés : {known} "
                              "(ou indiquez un chemin `paquet.module:Classe`)")
        target = name
    module_name, _, attr = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"le connecteur {_OF[role]} {name!r} ne peut pas être chargé depuis {target} : "
                          f"{exc}") from exc
    for required in ("kind", "Config"):
        if not hasattr(cls, required):
            raise ConfigError(f"{target} n'est pas un connecteur {_OF[role]} : il n'a pas d'attribut {required!r}")
    return cls
