"""The catalog: which datasets to take from which source, how to check them, where to publish them.

`deployments/catalog.yaml` is the bundled example; `--catalog PATH` or `MOISSON_CATALOG`
picks another. The file is validated by pydantic with unknown keys refused, each
connector's `config` by that connector's own `Config`, and every error names the file,
the line and the key path, in words a data officer understands. Relative paths in the
file (spreadsheet folders, GeoPackages, schemas, the portal directory) are relative to
the catalog file, so a catalog runs the same from any working directory.
"""

from __future__ import annotations

import importlib.resources
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from moisson.catalog.load import Lines, dotted, line_of, read_text, read_yaml, validation_error
from moisson.connectors import registry
from moisson.connectors.base import RecordSource
from moisson.connectors.geocoder import GeocoderConfig
from moisson.core.errors import CatalogError, ConfigError
from moisson.core.frequencies import check_frequency, check_schedule
from moisson.core.ids import DATASET_ID, record_dataset_id, slugify
from moisson.core.metadata import DatasetMetadata
from moisson.prepare.merge import MergeRule
from moisson.prepare.recipe import Organization, Recipe
from moisson.quality.policy import QualityPolicy

#: The catalog shipped with moisson: the demo of an imaginary commune.
BUNDLED = Path(str(importlib.resources.files("moisson.deployments") / "catalog.yaml"))


def default_path() -> Path:
    """The catalog to use when none is given: `MOISSON_CATALOG`, else the bundled example."""
    return Path(os.environ.get("MOISSON_CATALOG") or BUNDLED)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConnectorRef(_Strict):
    """A source or target: which connector, configured how (credentials as references).

    `concurrency` caps how many runs talk to it at once (default: `moisson.tasks.limits`).
    """

    connector: str
    config: dict[str, Any] = Field(default_factory=dict)
    concurrency: int | None = Field(None, ge=1)


class Defaults(_Strict):
    """Values every dataset inherits unless it says otherwise."""

    timezone: str = "Europe/Paris"
    targets: list[str] = Field(default_factory=list)
    quality: QualityPolicy = Field(default_factory=QualityPolicy)
    metadata: DatasetMetadata = Field(default_factory=DatasetMetadata)
    organization: Organization = Field(default_factory=Organization)


class _DatasetSettings(_Strict):
    """How a dataset is checked, scheduled and published: shared by datasets and collections.

    Attributes:
        schema_: Table Schema: a file, a URL or a schema.data.gouv.fr `name@version`.
        frequency: Update frequency (data.gouv.fr id); also sets the schedule.
        schedule: Explicit schedule overriding the one derived from the frequency: a cron
            expression, an RRULE or `manual` (see `deployments/schedules.py`).
        targets: Target ids, or a mapping target id → per-dataset options (remote ids…).
        metadata: Publication metadata overriding what the source says.
        quality: Quality policy overriding `defaults.quality` key by key.
        prepare: Recipe fitting the source's columns to the schema, applied before quality.
    """

    schema_: str | None = Field(None, alias="schema")
    frequency: str | None = None
    schedule: str | None = None
    targets: list[str] | dict[str, dict[str, Any]] | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    quality: dict[str, Any] = Field(default_factory=dict)
    prepare: Recipe | None = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_validator("frequency")
    @classmethod
    def _frequency(cls, value: str | None) -> str | None:
        return None if value is None else check_frequency(value)

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str | None) -> str | None:
        return None if value is None else check_schedule(value)

    @field_validator("metadata")
    @classmethod
    def _metadata(cls, value: dict[str, Any]) -> dict[str, Any]:
        DatasetMetadata.model_validate(value)
        return value

    @field_validator("quality")
    @classmethod
    def _quality(cls, value: dict[str, Any]) -> dict[str, Any]:
        QualityPolicy.model_validate(value)
        return value


def _check_id(value: str, what: str) -> str:
    if not DATASET_ID.match(value):
        raise ValueError(f"{what} {value!r} : n'utilisez que des minuscules sans accents, des chiffres et "
                         "des tirets simples, comme equipements-sportifs")
    return value


class SourcePart(_Strict):
    """One of the sources of a dataset made from several (`sources:`), with its own recipe.

    Attributes:
        source: Id of a source of the catalog.
        locator: Where the data is in that source.
        prepare: Recipe fitting this source's columns to the dataset's schema, before the merge.
    """

    source: str
    locator: dict[str, Any] = Field(default_factory=dict)
    prepare: Recipe | None = None


class Dataset(_DatasetSettings):
    """One dataset of the catalog (the settings of `_DatasetSettings`, plus where it comes from).

    Attributes:
        id: `[a-z0-9-]+`, stable: it names the deployment, the artifacts and the remote datasets.
        source: Id of a source of the catalog (for a dataset with `sources:`, the first one's).
        locator: Where the data is in that source (its keys are the source connector's).
        sources: Several sources of one dataset, by name, each prepared to the schema then merged.
        merge: How the rows of `sources` are matched and whom to trust per field.
    """

    id: str
    source: str
    locator: dict[str, Any] = Field(default_factory=dict)
    sources: dict[str, SourcePart] | None = None
    merge: MergeRule | None = None

    @model_validator(mode="before")
    @classmethod
    def _first_source(cls, value: Any) -> Any:
        # The first source stands for the dataset where one is expected (deployment tags, discovery).
        if isinstance(value, dict) and value.get("sources") and "source" not in value:
            first = next(iter(value["sources"].values()))
            if isinstance(first, dict):
                value = {**value, "source": first.get("source"), "locator": first.get("locator", {})}
        return value

    @model_validator(mode="after")
    def _merged(self) -> Dataset:
        if self.sources is not None and (len(self.sources) < 2 or self.merge is None):
            raise ValueError("un jeu de données à `sources:` en demande au moins deux et un bloc `merge:` "
                             "(ou indiquez une seule `source:` et son `locator:`)")
        if self.merge is not None and self.sources is None:
            raise ValueError("`merge:` va avec `sources:` (plusieurs sources pour un même jeu de données)")
        return self

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        return _check_id(value, "l'identifiant de jeu de données")


class Collection(_DatasetSettings):
    """Every record of a CSW source, each a dataset with the settings of `_DatasetSettings`.

    The records are those the discovery flow last found in the source (present in the state
    store, service records left out); narrow them with the source's `constraints`. A record
    also listed under `datasets:` keeps that entry. `frequency` defaults to the record's own.

    Attributes:
        source: Id of a `csw` source of the catalog.
        id_prefix: Start of the dataset ids (`<prefix>-<slug of the record identifier>-<hash>`);
            default: the source id.
    """

    source: str
    id_prefix: str | None = None

    @field_validator("id_prefix")
    @classmethod
    def _prefix(cls, value: str | None) -> str | None:
        return None if value is None else _check_id(value, "le préfixe `id_prefix`")

    @property
    def prefix(self) -> str:
        """The id prefix in force."""
        return self.id_prefix or slugify(self.source)


class CatalogModel(_Strict):
    """The whole catalog file."""

    version: int = 1
    defaults: Defaults = Field(default_factory=Defaults)
    sources: dict[str, ConnectorRef] = Field(default_factory=dict)
    targets: dict[str, ConnectorRef] = Field(default_factory=dict)
    datasets: list[Dataset] = Field(default_factory=list)
    collections: list[Collection] = Field(default_factory=list)
    geocoder: GeocoderConfig = Field(default_factory=GeocoderConfig)

    @field_validator("version")
    @classmethod
    def _version(cls, value: int) -> int:
        if value != 1:
            raise ValueError(f"cette version de moisson lit la version 1 du catalogue, pas la {value} : "
                             "écrivez `version: 1`")
        return value

    def check_references(self) -> None:
        """Refuse duplicate ids and references to undeclared sources and targets.

        Done after validation, outside pydantic, so the error keeps its key path.
        """
        seen: set[str] = set()
        for i, ds in enumerate(self.datasets):
            if ds.id in seen:
                raise _AtPath(("datasets", i, "id"), f"l'identifiant de jeu de données {ds.id!r} est utilisé "
                                                     "deux fois : renommez l'un des deux")
            seen.add(ds.id)
            parts = {name: part.source for name, part in (ds.sources or {}).items()}
            for where, source in ([(("datasets", i, "sources", n, "source"), s) for n, s in parts.items()]
                                  or [(("datasets", i, "source"), ds.source)]):
                if source not in self.sources:
                    raise _AtPath(where, f"source inconnue {source!r} ; le catalogue déclare : "
                                         f"{', '.join(self.sources) or 'aucune source'}")
            self._check_targets(ds, ("datasets", i, "targets"))
        prefixes: set[str] = set()
        for i, coll in enumerate(self.collections):
            if coll.source not in self.sources:
                raise _AtPath(("collections", i, "source"),
                              f"source inconnue {coll.source!r} ; le catalogue déclare : "
                              f"{', '.join(self.sources) or 'aucune source'}")
            if coll.prefix in prefixes:
                raise _AtPath(("collections", i, "id_prefix"),
                              f"deux collections font des identifiants de jeux de données commençant par "
                              f"{coll.prefix!r} : donnez à celle-ci un autre `id_prefix`")
            prefixes.add(coll.prefix)
            self._check_targets(coll, ("collections", i, "targets"))
        for j, t in enumerate(self.defaults.targets):
            if t not in self.targets:
                raise _AtPath(("defaults", "targets", j), f"cible inconnue {t!r} ; le catalogue déclare : "
                                                           f"{', '.join(self.targets) or 'aucune cible'}")

    def _check_targets(self, entry: _DatasetSettings, where: tuple[str | int, ...]) -> None:
        for t in entry.targets if entry.targets is not None else self.defaults.targets:
            if t not in self.targets:
                raise _AtPath(where, f"cible inconnue {t!r} ; le catalogue déclare : "
                                     f"{', '.join(self.targets) or 'aucune cible'}")


class _AtPath(ValueError):
    """A cross-reference error that knows its key path (pydantic would point at the root)."""

    def __init__(self, path: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.path = path


@dataclass(frozen=True)
class Catalog:
    """A validated catalog, with the helpers the flows need.

    Attributes:
        model: The validated file.
        path: Where it was read from.
        records: Record ids of the collections' sources, by source id, that collections make datasets of.
        text: The file's text this catalog was read from (one version for a whole run).
    """

    model: CatalogModel
    path: Path
    records: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    text: str = field(default="", repr=False)

    @property
    def base_dir(self) -> Path:
        """Directory that relative paths in the catalog are relative to."""
        return self.path.parent

    @cached_property
    def datasets(self) -> dict[str, Dataset]:
        """Datasets by id: those of `datasets:` in file order, then those each collection makes of its records.

        Collection datasets come from the records handed to `with_records` (none before): loading
        a catalog reads its file and nothing else.
        """
        explicit = {ds.id: ds for ds in self.model.datasets}
        listed = {(ds.source, ds.locator.get("record")) for ds in self.model.datasets}
        collected: dict[str, Dataset] = {}
        for coll in self.model.collections:
            for record_id in sorted(self.records.get(coll.source, ())):
                if (coll.source, record_id) in listed:
                    continue  # the explicit entry stands for this record
                ds = self.collection_dataset(coll, record_id)
                if ds.id not in explicit:
                    collected.setdefault(ds.id, ds)
        return explicit | collected

    def with_records(self, records: Mapping[str, Iterable[str]]) -> Catalog:
        """This catalog with the present dataset records of its collections' sources (source id → record ids)."""
        return replace(self, records={source: tuple(ids) for source, ids in records.items()})

    def collection_dataset(self, collection: Collection, record_id: str) -> Dataset:
        """The dataset a collection makes of one record: id derived from the identifier only, never the title."""
        settings = collection.model_dump(exclude={"source", "id_prefix"})
        return Dataset.model_construct(id=f"{collection.prefix}-{record_dataset_id(record_id)}",
                                       source=collection.source, locator={"record": record_id}, **settings)

    def datasets_of_record(self, source_id: str, record_id: str) -> list[Dataset]:
        """The datasets a record of a source feeds: its explicit entries, else its collection datasets.

        Works for records no longer present (to archive what they fed).
        """
        explicit = [ds for ds in self.model.datasets
                    if ds.source == source_id and ds.locator.get("record") == record_id]
        return explicit or [self.collection_dataset(coll, record_id)
                            for coll in self.model.collections if coll.source == source_id]

    def dataset(self, dataset_id: str) -> Dataset:
        """Return a dataset by id.

        Raises:
            CatalogError: No such dataset (the message lists the ids that exist).
        """
        try:
            return self.datasets[dataset_id]
        except KeyError:
            raise CatalogError(f"pas de jeu de données {dataset_id!r} dans ce catalogue ; il contient : "
                               f"{', '.join(self.datasets) or 'aucun'}", file=str(self.path)) from None

    def targets_of(self, dataset: Dataset) -> dict[str, dict[str, Any]]:
        """Target ids of a dataset with their per-dataset options."""
        chosen = dataset.targets if dataset.targets is not None else self.model.defaults.targets
        if isinstance(chosen, list):
            return {t: {} for t in chosen}
        return dict(chosen)

    def skipped_targets(self, dataset: Dataset) -> dict[str, str]:
        """Targets not to publish a dataset to, with the reason (double publication guard).

        data.gouv.fr harvests some Opendatasoft portals; a catalog declares it with
        `harvested_by_datagouv: true` on that portal's target. A dataset going to such a portal
        then skips the direct data.gouv.fr target, which would make a second copy there.
        """
        chosen = self.targets_of(dataset)
        refs = self.model.targets
        harvested = [t for t in chosen if refs[t].config.get("harvested_by_datagouv") is True]
        if not harvested:
            return {}
        return {t: f"pas de publication directe : data.gouv.fr moissonne déjà {', '.join(harvested)}, où ce "
                   "jeu de données est publié ; une publication directe le montrerait deux fois sur data.gouv.fr"
                for t in chosen if _harvests_flagged_portals(registry.load("target", refs[t].connector))}

    def quality_of(self, dataset: Dataset) -> QualityPolicy:
        """The dataset's quality policy: defaults, overridden key by key."""
        base = self.model.defaults.quality.model_dump()
        return QualityPolicy.model_validate({**base, **dataset.quality})

    def metadata_of(self, dataset: Dataset, from_source: Mapping[str, Any] | None = None) -> DatasetMetadata:
        """Metadata to publish: source < catalog defaults < dataset overrides < dataset frequency."""
        merged = DatasetMetadata.model_validate(from_source or {}).merged(
            self.model.defaults.metadata, dataset.metadata)
        if dataset.frequency:
            merged = merged.merged({"frequency": dataset.frequency})
        return merged


def _harvests_flagged_portals(target: type) -> bool:
    """The `PortalHarvester` ability, read on the class (protocols with attributes refuse `issubclass`)."""
    return getattr(target, "harvests_flagged_portals", False) is True


def load_catalog(path: Path | str | None = None, *, text: str | None = None) -> Catalog:
    """Read and validate a catalog file, including each connector's `config`.

    Args:
        path: The catalog file; relative paths in it are relative to its folder.
        text: Its text as an earlier load read it (`Catalog.text`): a run of several datasets
            uses that one version even if the file is edited meanwhile.

    Raises:
        CatalogError: The file is missing, is not YAML, or does not validate; the message
            names the file, the line and the key path.
    """
    path = Path(path) if path is not None else default_path()
    hint = "indiquez `--catalog CHEMIN` ou définissez `MOISSON_CATALOG`"
    text = read_text(path, what="catalogue", hint=hint) if text is None else text
    raw, lines = read_yaml(path, what="catalogue", hint=hint, text=text)
    if not isinstance(raw, dict):
        raise CatalogError("le catalogue doit être un dictionnaire avec `sources`, `targets` et `datasets`",
                           file=str(path), line=1)
    try:
        model = CatalogModel.model_validate(raw)
        model.check_references()
    except ValidationError as exc:
        raise validation_error(exc, path, lines, model=CatalogModel) from None
    except _AtPath as exc:
        raise CatalogError(str(exc), file=str(path), line=line_of(lines, exc.path),
                           path=dotted(exc.path)) from None
    _validate_connector_configs(model, path, lines)
    _validate_collection_sources(model, path, lines)
    return Catalog(model=model, path=path.resolve(), text=text)


def _validate_connector_configs(model: CatalogModel, path: Path, lines: Lines) -> None:
    for section, role in (("sources", "source"), ("targets", "target")):
        for name, ref in getattr(model, section).items():
            try:
                cls = registry.load(role, ref.connector)
            except ConfigError as exc:
                key = (section, name, "connector")
                raise CatalogError(exc.message, file=str(path), line=line_of(lines, key),
                                   path=dotted(key)) from None
            try:
                cls.Config.model_validate(ref.config)
            except ValidationError as exc:
                raise validation_error(exc, path, lines, prefix=(section, name, "config"), model=cls.Config) from None
    for i, ds in enumerate(model.datasets):
        parts = [(("datasets", i, "sources", n, "locator"), p.source, p.locator) for n, p in (ds.sources or {}).items()]
        for where, source, locator in parts or [(("datasets", i, "locator"), ds.source, ds.locator)]:
            locator_model = getattr(registry.load("source", model.sources[source].connector), "Locator", None)
            if locator_model is None:
                continue  # a source that declares no `Locator` checks its locators at extraction
            try:
                locator_model.model_validate(locator)
            except ValidationError as exc:
                raise validation_error(exc, path, lines, prefix=where, model=locator_model) from None


def _validate_collection_sources(model: CatalogModel, path: Path, lines: Lines) -> None:
    # Only a source that lists records (`RecordSource`) has records to turn into datasets one by one.
    for i, coll in enumerate(model.collections):
        ref = model.sources[coll.source]
        if not issubclass(registry.load("source", ref.connector), RecordSource):
            key = ("collections", i, "source")
            raise CatalogError(f"la source {coll.source!r} est de type {ref.connector} : une collection prend chaque "
                               "fiche d'une source qui liste des fiches (csw) ; décrivez plutôt les jeux de données "
                               "de cette source sous `datasets:`",
                               file=str(path), line=line_of(lines, key), path=dotted(key))
