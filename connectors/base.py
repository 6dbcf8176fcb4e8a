"""Connector protocols: what a source and a target must offer, and the values they exchange.

Connectors are plain Python (no Prefect import), like pygeoapi providers or dlt sources:
they are unit-testable without a server and reusable outside moisson. The task layer
(`tasks/`) wraps them with retries, secrets and state.

A source turns a *locator* (file + sheet, table, CSW record id…) into a Parquet file;
a target publishes a checked Parquet file with its metadata and reports what it did.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from moisson.connectors.records import Harvest
from moisson.core.metadata import DatasetMetadata
from moisson.core.records import RecordState, RemoteState


class ConnectorConfig(BaseModel):
    """Base of every connector's `Config`: unknown keys are errors, so typos surface."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class DatasetDescriptor:
    """A dataset as a source offers it, before extraction.

    Attributes:
        id: Stable id, `[a-z0-9-]+`; deployment name and artifact key.
        locator: Where the data is in the source (file and sheet, table, CSW record id…).
        metadata: Publication metadata known so far.
        schema: Table Schema reference (file in `schemas/`, URL or `name@version`).
    """

    id: str
    locator: Mapping[str, Any]
    metadata: DatasetMetadata = field(default_factory=DatasetMetadata)
    schema: str | None = None

    @property
    def title(self) -> str:
        """The metadata title, or the id when the source has none."""
        return self.metadata.title or self.id


@dataclass
class Extract:
    """What `extract()` wrote.

    Attributes:
        path: Parquet file, every column as text (quality casts it with the schema).
        rows: Number of data rows written.
        metadata: Metadata the source knows (modified date, CRS, provenance), as
            `DatasetMetadata` fields; the catalog's overrides win over it.
        geometry: Column holding GeoJSON geometries in WGS84, if any.
        notes: Things the data officer should know (normalisations, skipped title rows).
        first_row: Row number, in the source file, of the first data row (2 when the header
            is the first line), so quality reports name the rows the data officer sees.
        row_gaps: `(position, skipped)` pairs: before the data row at `position`, `skipped` rows of
            the file were left out (blank rows, repeated headers), so later rows keep their file numbers.
        findings: Rows out of shape, by kind, with their file row numbers (what `notes` says in words).
        fields: Per column, what a multi-row header said besides the name: `title` (label row),
            `description` (unit row), `declared_type` (type row), for the publishers' field docs.
    """

    path: Path
    rows: int
    metadata: dict[str, Any] = field(default_factory=dict)
    geometry: str | None = None
    notes: list[str] = field(default_factory=list)
    first_row: int = 2
    row_gaps: tuple[tuple[int, int], ...] = ()
    findings: tuple[RowFinding, ...] = ()
    fields: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def cut_last_row(self) -> RowFinding | None:
        """The evidence that the file's last row is cut (fewer cells than the header, a quote left open)."""
        return next((f for f in self.findings if f.kind == "cut-last-row"), None)


FindingKind = Literal["extra-cell", "missing-cell", "blank-row", "repeated-header", "cut-last-row"]


@dataclass(frozen=True)
class RowFinding:
    """Rows of a source file out of shape, named as Validata names them (`extra-cell`, `missing-cell`, `blank-row`).

    Attributes:
        kind: `extra-cell` (more values than the header has labels; the values are kept in `columns`),
            `missing-cell` (fewer; left empty), `blank-row` and `repeated-header` (rows left out, see
            `Extract.row_gaps`), `cut-last-row` (the last row is truncated; the shrink guard refuses it).
        rows: File row numbers, as a spreadsheet program shows them (at most the first 10,000).
        count: How many rows in all.
        columns: The columns concerned (for `extra-cell`: where the extra values are).
        detail: The evidence in words (for `cut-last-row`: what is cut).
    """

    kind: FindingKind
    rows: tuple[int, ...]
    count: int
    columns: tuple[str, ...] = ()
    detail: str = ""


@dataclass(frozen=True)
class Publication:
    """Everything a target needs to publish one dataset.

    Attributes:
        dataset: The dataset, with its final merged metadata.
        data: Parquet file of the checked, typed rows.
        rows: Row count of `data`.
        content_hash: sha256 of the data content.
        metadata_hash: sha256 of the metadata as published.
        table_schema: Table Schema descriptor, when the dataset has one.
        geometry: Column of `data` holding GeoJSON geometries (WGS84).
        previous: What the state store knows of an earlier publication on this target.
        options: Per-dataset options for this target from the catalog (e.g. a remote id).
    """

    dataset: DatasetDescriptor
    data: Path
    rows: int
    content_hash: str
    metadata_hash: str
    table_schema: Mapping[str, Any] | None = None
    geometry: str | None = None
    previous: RemoteState | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def unchanged(self) -> bool:
        """True when the target already holds this exact content and metadata."""
        prev = self.previous
        return bool(prev and prev.remote_id and prev.content_hash == self.content_hash
                    and prev.metadata_hash == self.metadata_hash)


Action = Literal["create", "update", "unchanged", "archive", "skip"]
PublishStatus = Literal["created", "updated", "unchanged", "archived", "skipped", "failed"]


@dataclass(frozen=True)
class Plan:
    """What `publish()` would do, for `--dry-run`."""

    action: Action
    changes: tuple[str, ...] = ()
    note: str | None = None


@dataclass(frozen=True)
class PublishResult:
    """What a target did (or, under `--dry-run`, would do): the one result type from connector to report.

    Attributes:
        status: created, updated, unchanged, archived, skipped or failed; under `--dry-run` the
            planned action: create, update, unchanged, archive or skip.
        remote_id: Id of the dataset on the target, to store for next time.
        url: Public page of the dataset.
        changes: Fields or files that changed.
        extra: Other ids to remember (resource ids…).
        error: Why it failed, for people.
        note: What a person should know (why a target was skipped, what a plan would do).
    """

    status: PublishStatus | Action
    remote_id: str | None = None
    url: str | None = None
    changes: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None
    note: str | None = None


@runtime_checkable
class SourceConnector(Protocol):
    """Reads datasets from where a department keeps them."""

    kind: ClassVar[str]
    Config: ClassVar[type[BaseModel]]

    def check(self) -> None:
        """Raise a `ConnectorError` if the source cannot be reached or read."""

    def discover(self) -> Iterator[DatasetDescriptor]:
        """Yield every dataset the source offers."""

    def extract(self, dataset: DatasetDescriptor, dest: Path) -> Extract:
        """Write the dataset's rows as Parquet into the directory `dest`."""


@runtime_checkable
class IncrementalSource(Protocol):
    """A source that can tell cheaply, before extracting, whether a dataset's rows changed."""

    def fingerprint(self, dataset: DatasetDescriptor) -> str | None:
        """Return a short text that changes whenever the rows change, or `None` when it cannot tell."""


@runtime_checkable
class ChecksDatasets(Protocol):
    """A source that can check a dataset offline and cheaply (its file and sheet exist), for `moisson check`."""

    def check_dataset(self, dataset: DatasetDescriptor) -> None:
        """Raise a `ConnectorError` naming what to fix when the dataset cannot be read as the catalog says."""


@runtime_checkable
class RecordSource(Protocol):
    """A source whose catalog lists records it harvests incrementally (a CSW catalog; a DCAT one would be another).

    Discovery (`discover-source`), catalog `collections:` and the weekly discovery deployment use
    this protocol and nothing else: a third-party source implementing it gets all three.
    """

    def harvest(self, known: Mapping[str, RecordState], *, full: bool | None = None) -> Harvest:
        """List the catalog against the record states of the last run; fetch what is new or changed."""

    def descriptor(self, record_id: str, record: Any) -> DatasetDescriptor:
        """The dataset one harvested record stands for (id from `core.ids.record_dataset_id`)."""


@runtime_checkable
class ShowsBlocked(Protocol):
    """A target that can say a dataset's new version was blocked while its last good one stays online (a portal)."""

    def block(self, dataset: DatasetDescriptor, reason: str, since: str | None = None) -> PublishResult:
        """Mark the dataset blocked since `since` (kept from the first time), for `reason`; publish nothing."""


@runtime_checkable
class PortalHarvester(Protocol):
    """A target that itself harvests the portals flagged `harvested_by_datagouv` (data.gouv.fr does).

    A dataset going to such a flagged portal skips a target with this ability: publishing it
    there directly would show it twice.
    """

    harvests_flagged_portals: ClassVar[bool]


@runtime_checkable
class PlansOffline(Protocol):
    """A target whose `plan` reads only what is on this machine (a portal folder), never an API.

    The flow may then settle an unchanged publication itself, without a publish task or a slot of the
    target's limit: holding a slot is what lets a remote target's plan call its API.
    """

    plans_offline: ClassVar[bool]


@runtime_checkable
class TargetConnector(Protocol):
    """Publishes checked datasets to a portal."""

    kind: ClassVar[str]
    Config: ClassVar[type[BaseModel]]

    def plan(self, publication: Publication) -> Plan:
        """Say what `publish` would do, writing nothing."""

    def publish(self, publication: Publication) -> PublishResult:
        """Create or update the dataset; never duplicate it."""

    def archive(self, dataset: DatasetDescriptor, previous: RemoteState) -> PublishResult:
        """Withdraw a dataset whose source is gone, keeping it (archive, never delete)."""
