"""Load a Table Schema from a file, a URL or a schema.data.gouv.fr name, with an offline cache."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from moisson import schemas
from moisson.core import settings
from moisson.core.errors import (
    ConnectorError,
    NotFoundError,
    RejectedError,
    UnavailableError,
    redact_url,
)
from moisson.quality.registry import check_registry_name

REGISTRY = "https://schema.data.gouv.fr/schemas"
TIMEOUT = 30
# `scdl/deliberations@2.1.5`, `etalab/schema-irve-statique` (latest).
REGISTRY_NAME = re.compile(r"(?P<name>[\w.-]+/[\w.-]+)(?:@(?P<version>[\w.-]+))?")
DEFAULT_TRUE = ("true", "True", "TRUE", "1")
DEFAULT_FALSE = ("false", "False", "FALSE", "0")


@dataclass(frozen=True)
class TableSchemaRef:
    """A loaded, valid Table Schema.

    Attributes:
        descriptor: The Table Schema as JSON.
        name: Registry name (`scdl/deliberations`) or the schema's own `name`.
        version: Requested version when pinned, else the schema's `version`.
        source: Where it came from: file path or URL (without query string).
    """

    descriptor: dict[str, Any] = field(hash=False)
    name: str | None
    version: str | None
    source: str

    @property
    def fields(self) -> list[FieldSpec]:
        """The fields, in schema order."""
        return [FieldSpec.of(f) for f in self.descriptor.get("fields", [])]

    @property
    def primary_key(self) -> list[str]:
        """Names of the primary-key fields (empty when there is none)."""
        pk = self.descriptor.get("primaryKey") or []
        return [pk] if isinstance(pk, str) else list(pk)

    @property
    def missing_values(self) -> list[str]:
        """Cell texts that mean "no value" (`[""]` by default, as in the spec)."""
        return list(self.descriptor.get("missingValues", [""]))

    @property
    def custom_checks(self) -> list[dict[str, Any]]:
        """Validata `custom_checks` entries (ignored by plain frictionless), then the fields' `customCheck`.

        A field's `customCheck` is a check name, or an object with its `name` and parameters; its column is the
        field, as in Validata.
        """
        checks = list(self.descriptor.get("custom_checks") or [])
        for spec in self.descriptor.get("fields", []):
            declared = spec.get("customCheck")
            if isinstance(declared, str):
                checks.append({"name": declared, "params": {"column": spec["name"]}})
            elif isinstance(declared, Mapping):
                params = {k: v for k, v in declared.items() if k != "name"}
                checks.append({"name": declared.get("name"), "params": {**params, "column": spec["name"]}})
        return checks


@dataclass(frozen=True)
class FieldSpec:
    """What the checks need to know about one field."""

    name: str
    type: str
    format: str
    constraints: Mapping[str, Any]
    true_values: Sequence[str] = DEFAULT_TRUE
    false_values: Sequence[str] = DEFAULT_FALSE
    decimal_char: str | None = None
    group_char: str | None = None
    bare_number: bool = True
    array_item: Mapping[str, Any] | None = None
    example: str | None = None

    @classmethod
    def of(cls, descriptor: Mapping[str, Any]) -> FieldSpec:
        """Build from a field descriptor."""
        example = descriptor.get("example", descriptor.get("examples"))
        return cls(
            name=descriptor["name"],
            type=descriptor.get("type", "string"),
            format=descriptor.get("format", "default"),
            constraints=descriptor.get("constraints") or {},
            true_values=tuple(descriptor.get("trueValues", DEFAULT_TRUE)),
            false_values=tuple(descriptor.get("falseValues", DEFAULT_FALSE)),
            decimal_char=descriptor.get("decimalChar"),
            group_char=descriptor.get("groupChar"),
            bare_number=descriptor.get("bareNumber", True),
            array_item=descriptor.get("arrayItem"),
            example=str(example) if isinstance(example, str | int | float) else None,
        )

    @property
    def required(self) -> bool:
        """Whether the field must be filled (and its column present)."""
        return bool(self.constraints.get("required"))


BUNDLED = Path(schemas.__file__).parent


def load_schema(ref: str, *, schemas_dir: Path, cache_dir: Path, bundled_dir: Path = BUNDLED) -> TableSchemaRef:
    """Load and validate a Table Schema.

    Args:
        ref: A file path (absolute, relative to `schemas_dir` or to the working directory),
            an `https://` URL, or a schema.data.gouv.fr name such as `scdl/deliberations@2.1.5`
            (latest version when no `@version`).
        schemas_dir: Folder of the project's own schemas.
        cache_dir: Where downloaded schemas are kept, so later runs work offline.
        bundled_dir: National schemas shipped with moisson as `<name>/<version>/schema.json`, used
            before the network for a pinned `name@version` (published versions never change).

    Returns:
        The schema with its name, version and origin.

    Raises:
        NotFoundError: No such file, or the server answered 404.
        RejectedError: Not JSON, or not a valid Table Schema (the message names the key).
        UnavailableError: The server could not be reached and nothing is cached.
    """
    ref = ref.strip()
    if ref.startswith(("https://", "http://")):
        return _from_url(ref, label=redact_url(ref), cache_dir=cache_dir, name=None, version=None)
    for candidate in (Path(ref), schemas_dir / ref, Path.cwd() / ref):
        if candidate.is_file():
            return _from_file(candidate)
    match = REGISTRY_NAME.fullmatch(ref)
    if match and not ref.endswith(".json"):
        name, version = match["name"], match["version"]
        check_registry_name(name, ref)
        pinned = version not in (None, "latest")
        bundled = bundled_dir / name / str(version) / "schema.json"
        if pinned and bundled.is_file():
            return _ref(_parse(bundled.read_text(encoding="utf-8"), label=ref), name, version, str(bundled))
        url = f"{REGISTRY}/{name}/{version or 'latest'}/schema.json"
        return _from_url(url, label=ref, cache_dir=cache_dir, name=name, version=version if pinned else None)
    raise NotFoundError(
        f"Table Schema '{ref}' introuvable : aucun fichier de ce nom dans {schemas_dir} ni dans {Path.cwd()}. "
        "Indiquez le chemin d'un schema.json, une URL https:// ou un nom de schema.data.gouv.fr "
        "tel que 'scdl/deliberations@2.1.5'."
    )


def _from_file(path: Path) -> TableSchemaRef:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise RejectedError(f"Table Schema {path} illisible ({exc}) ; enregistrez-le en JSON UTF-8.") from exc
    descriptor = _parse(text, label=str(path))
    return TableSchemaRef(descriptor=descriptor, name=descriptor.get("name"),
                          version=_version_of(descriptor), source=str(path.resolve()))


def _from_url(url: str, *, label: str, cache_dir: Path, name: str | None,
              version: str | None) -> TableSchemaRef:
    """Fetch a schema; a pinned registry version is immutable, so its cached copy is used as is."""
    cache = cache_dir / _cache_name(url, name, version)
    source = _public_url(url)
    cached = _read_cache(cache)
    if cached is not None and version is not None:
        return _ref(cached, name, version, source)
    try:
        descriptor = _parse(_fetch(url, label), label=label)
    except UnavailableError:
        if cached is None:
            raise
        return _ref(cached, name, version, source)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp")
    entry = {"url": source, "fetched": datetime.now(UTC).isoformat(timespec="seconds"),
             "version": version or _version_of(descriptor), "descriptor": descriptor}
    tmp.write_text(json.dumps(entry, ensure_ascii=False), encoding="utf-8")
    tmp.replace(cache)
    return _ref(descriptor, name, version, source)


def _ref(descriptor: dict[str, Any], name: str | None, version: str | None, source: str) -> TableSchemaRef:
    return TableSchemaRef(descriptor=descriptor, name=name or descriptor.get("name"),
                          version=version or _version_of(descriptor), source=source)


def _fetch(url: str, label: str) -> str:
    """Download a schema through moisson's HTTP client (its retries, deadline and error mapping)."""
    from moisson.core.http import HttpClient  # requests and urllib3: only when a schema is downloaded

    client = HttpClient(timeout=TIMEOUT, retries=2, connector="schema")
    try:
        return client.request("GET", url, headers={"Accept": "application/json"}).text
    except UnavailableError as exc:
        raise UnavailableError(f"Table Schema {label} : téléchargement impossible et aucune copie en cache ({exc}) : "
                               "vérifiez la connexion réseau ou placez le fichier du schéma dans le dossier des "
                               "schémas.",
                               connector="schema") from exc
    except NotFoundError as exc:
        raise NotFoundError(f"Table Schema {label} n'existe pas sur le serveur ({exc}) : vérifiez le nom et "
                            "la version.", connector="schema") from exc


def _parse(text: str, *, label: str) -> dict[str, Any]:
    try:
        descriptor = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RejectedError(f"Table Schema {label} n'est pas un JSON valide (ligne {exc.lineno}, colonne {exc.colno} : "
                            f"{exc.msg}) ; corrigez le fichier ou pointez vers le schema.json lui-même.") from exc
    validate_descriptor(descriptor, label=label)
    return descriptor


def validate_descriptor(descriptor: Any, *, label: str) -> None:
    """Raise `RejectedError` naming the wrong key when `descriptor` is not a usable Table Schema."""
    if not isinstance(descriptor, dict):
        raise RejectedError(f"Table Schema {label} doit être un objet JSON avec une liste 'fields'.")
    fields = descriptor.get("fields")
    for index, spec in enumerate(fields if isinstance(fields, list) else ()):
        _check_patterns(spec, f"{label}: fields[{index}]")
    # frictionless takes longer to import than `moisson validate` to check a small file: a descriptor it
    # accepted once is remembered by its digest and not shown to it again.
    marker = _validated_marker(descriptor)
    if marker is not None and marker.is_file():
        return
    from frictionless import Schema

    if isinstance(fields, list):
        for index, spec in enumerate(fields):
            _validate_field(spec, f"{label}: fields[{index}]")
    report = Schema.validate_descriptor(descriptor)
    if not report.valid:
        notes = "; ".join(dict.fromkeys(e.note for e in report.errors))
        raise RejectedError(f"Table Schema {label} n'est pas un Table Schema valide : {notes}.")
    if marker is not None:
        with contextlib.suppress(OSError):  # a read-only home only costs the next run the import
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.touch()


def _validated_marker(descriptor: dict[str, Any]) -> Path | None:
    """The file saying frictionless accepted this very descriptor, or None when it cannot be named."""
    try:
        text = json.dumps(descriptor, sort_keys=True, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        return None
    digest = hashlib.sha256(f"{_frictionless_version()}\n{text}".encode()).hexdigest()
    try:
        return settings.cache_dir() / "valid-schemas" / digest
    except OSError:
        return None


@functools.cache
def _frictionless_version() -> str:
    """The installed frictionless (a newer one may judge a descriptor differently)."""
    return importlib.metadata.version("frictionless")


def _validate_field(spec: Any, where: str) -> None:
    from frictionless import Field

    where = f"{where} ({spec['name']})" if isinstance(spec.get("name"), str) else where
    report = Field.validate_descriptor(spec)
    if not report.valid:
        notes = "; ".join(dict.fromkeys(e.note for e in report.errors))
        raise RejectedError(f"Table Schema {where} : {notes} ; corrigez ce champ du schéma.")


def _check_patterns(spec: Any, where: str) -> None:
    """A field is an object, and its patterns compile as Python regular expressions."""
    if not isinstance(spec, dict):
        raise RejectedError(f"{where} doit être un objet avec un 'name' et un 'type'.")
    where = f"{where} ({spec['name']})" if isinstance(spec.get("name"), str) else where
    for owner, constraints in (("constraints", spec.get("constraints")),
                               ("arrayItem.constraints", (spec.get("arrayItem") or {}).get("constraints"))):
        pattern = (constraints or {}).get("pattern")
        if pattern is None:
            continue
        try:
            re.compile(pattern)
        except (re.error, TypeError) as exc:
            raise RejectedError(f"Table Schema {where} : {owner}.pattern {pattern!r} n'est pas une expression "
                                f"régulière valide ({exc}).") from exc


def _version_of(descriptor: Mapping[str, Any]) -> str | None:
    version = descriptor.get("version")
    return str(version) if version is not None else None


def _read_cache(path: Path) -> dict[str, Any] | None:
    """The cached descriptor, or None when absent or damaged (a fresh download replaces it)."""
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
        descriptor = entry["descriptor"]
        validate_descriptor(descriptor, label=str(path))
    except (OSError, ValueError, KeyError, TypeError, ConnectorError):
        return None
    return descriptor


def _cache_name(url: str, name: str | None, version: str | None) -> str:
    digest = hashlib.sha256(url.encode()).hexdigest()[:16]
    if name is None:
        return f"url-{digest}.json"
    return f"{name.replace('/', '__')}@{version or 'latest'}-{digest}.json"


def _public_url(url: str) -> str:
    """The URL without credentials, query or fragment, safe to show in reports."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))
