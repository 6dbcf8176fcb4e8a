"""Source connector for OGC CSW 2.0.2 catalogs (Isogeo, GeoNetwork, geOrchestra, pycsw) with ISO 19139 records.

Each dataset record becomes a dataset: its metadata from the ISO record
(`moisson.connectors.sources.csw.iso19139`), its data from the WFS layer or file the record links to
(`moisson.connectors.sources.csw.data`), or, when it links to nothing usable, a table of its
links so the dataset is still published with its metadata. `harvest()` is incremental:
it lists identifiers and change dates cheaply and fetches full records only for new or
changed ones, with a full pass (content hashes) every `full_every_days`.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

from lxml import etree
from owslib import fes
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from moisson.connectors.base import ConnectorConfig, DatasetDescriptor, Extract
from moisson.connectors.records import Changes, Harvest, Seen, Skipped, reconcile
from moisson.connectors.sources.csw.client import CswClient, Paged
from moisson.connectors.sources.csw.data import is_ogcapi, write_links, write_resource
from moisson.connectors.sources.csw.iso19139 import IsoRecord, datestamp, file_identifier, parse_record, record_hash
from moisson.core.errors import ConfigError, NotFoundError, RejectedError, redact_url, tagged
from moisson.core.http import HttpClient
from moisson.core.ids import record_dataset_id
from moisson.core.notes import Note
from moisson.core.records import RecordState
from moisson.core.secrets import Secret, reveal
from moisson.core.validation import described

KIND = "csw"


class CswConstraints(BaseModel):
    """Which records of the catalog to take (all of them by default).

    Attributes:
        keywords: Records having any of these keywords (`apiso:Subject`).
        type: Resource type (`apiso:Type`): dataset, series, service…
        bbox: Records intersecting `[west, south, east, north]` (WGS84 degrees).
        text: Free text searched in every field (`csw:AnyText`).
    """

    model_config = ConfigDict(extra="forbid")

    keywords: list[str] = Field(default_factory=list)
    type: str | None = None
    bbox: tuple[float, float, float, float] | None = None
    text: str | None = None

    def expressions(self) -> list[fes.OgcExpression]:
        """The OGC filter expressions (AND-ed by the client)."""
        out: list[fes.OgcExpression] = []
        if self.keywords:
            # Catalogs store a record's keywords as one field: match each word inside it.
            words = [fes.PropertyIsLike("apiso:Subject", f"%{k}%", matchCase=False) for k in self.keywords]
            out.append(words[0] if len(words) == 1 else fes.Or(words))
        if self.type:
            out.append(fes.PropertyIsEqualTo("apiso:Type", self.type))
        if self.bbox:
            west, south, east, north = self.bbox
            out.append(fes.BBox([south, west, north, east], crs="urn:ogc:def:crs:EPSG::4326"))
        if self.text:
            out.append(fes.PropertyIsLike("csw:AnyText", f"%{self.text}%", matchCase=False))
        return out


class DeletionPolicy(BaseModel):
    """When records gone from the catalog are archived on the targets (never deleted).

    Attributes:
        grace_days: Days a record must stay missing before it is archived.
        max_share: Largest share of the catalog that may disappear at once and still be archived.
    """

    model_config = ConfigDict(extra="forbid")

    grace_days: float = Field(7, ge=0)
    max_share: float = Field(0.1, ge=0, le=1)


class CswLocator(BaseModel):
    """A dataset of a CSW source in the catalog.

    Attributes:
        record: The record's `gmd:fileIdentifier`.
        resource: Which link to take the data from (its URL or layer name); default: the first
            WFS layer, else the first CSV/XLSX/ODS/GeoJSON file.
    """

    model_config = ConfigDict(extra="forbid")

    record: str = Field(min_length=1)
    resource: str | None = None


class CswSource:
    """Reads datasets from a CSW 2.0.2 catalog of ISO 19139 records."""

    kind: ClassVar[str] = KIND
    #: The keys of a dataset's `locator:`, checked when the catalog is loaded.
    Locator: ClassVar[type[BaseModel]] = CswLocator

    class Config(ConnectorConfig):
        """Settings of a CSW source.

        Attributes:
            url: Endpoint of the catalog. A secret: Isogeo puts its token in the path, so give it as
                `{env: NAME}` or `{block: "secret/NAME"}`; only its host is ever shown.
            constraints: Which records to take.
            page_size: Records asked per page (servers may send fewer: paging follows what comes back).
            timeout: Seconds to wait for each answer.
            retries: Further attempts on timeouts, dropped connections, 5xx and 429.
            username: HTTP basic user, when the catalog needs one.
            password: HTTP basic password (a secret).
            services: `skip` service records (WMS/WFS descriptions) or `keep` them as datasets.
            deletion: Grace period and largest share for archiving records gone from the catalog.
            full_every_days: Days between full passes that re-read every record (content hashes catch
                records changed without a new date); passes in between are incremental.
            max_pages: Paging stops (and the run counts as incomplete) after this many pages.
            max_response_bytes: Largest answer or data file accepted.
        """

        url: Secret
        constraints: CswConstraints = Field(default_factory=CswConstraints)
        page_size: int = Field(50, ge=1, le=1000)
        timeout: float = Field(60, gt=0)
        retries: int = Field(4, ge=0, le=10)
        username: str | None = None
        password: Secret | None = None
        services: Literal["skip", "keep"] = "skip"
        deletion: DeletionPolicy = Field(default_factory=DeletionPolicy)
        full_every_days: float = Field(7, ge=0)
        max_pages: int = Field(10_000, ge=1)
        max_response_bytes: int = Field(100_000_000, ge=1_000)

    def __init__(self, config: Config) -> None:
        self.config = config
        url = reveal(config.url, what="l'URL du catalogue CSW")
        self.where = redact_url(url)
        headers: dict[str, str] = {}
        auth = None
        if config.username:
            password = reveal(config.password, what="le mot de passe du catalogue CSW") if config.password else ""
            auth = (config.username, password)
        self.http = HttpClient(headers=headers, timeout=config.timeout, retries=config.retries, connector=KIND)
        probe = HttpClient(headers=headers, timeout=config.timeout, retries=min(1, config.retries), connector=KIND)
        for client in (self.http, probe):
            client.session.auth = auth
        self.client = CswClient(url, self.http, probe, max_bytes=config.max_response_bytes,
                                max_pages=config.max_pages)

    def __repr__(self) -> str:
        return f"CswSource({self.where})"

    def check(self) -> None:
        """GetCapabilities: the catalog answers and offers GetRecords and GetRecordById.

        Raises:
            ConnectorError: Unreachable, refused credentials, or not a usable CSW catalog.
        """
        tagged(KIND, self.client.capabilities)

    def discover(self) -> Iterator[DatasetDescriptor]:
        """Yield one dataset per record of the catalog (a full pass, nothing remembered).

        Use `harvest()` for the incremental pass with record states.
        """
        result = self.harvest({})
        for record_id, record in result.records.items():
            yield self.descriptor(record_id, record)

    def descriptor(self, record_id: str, record: IsoRecord) -> DatasetDescriptor:
        """The dataset of a record: stable id from the identifier, the record's metadata."""
        return DatasetDescriptor(id=record_dataset_id(record_id), locator={"record": record_id},
                                 metadata=record.metadata)

    # --- harvesting -------------------------------------------------------------------------------
    def harvest(self, known: Mapping[str, RecordState], *, full: bool | None = None,
                now: dt.datetime | None = None) -> Harvest:
        """List the catalog and compare it with the record states of the last run.

        A full pass (first run, every `full_every_days`, or `full=True`) fetches every record in
        pages and compares content hashes; otherwise the count, a summary listing of recently
        changed records, and full records only for new or changed ones; every identifier is
        listed (to find deletions and new records with old dates) when the count does not add up.

        Args:
            known: Record states from the store (`StateStore.records(source)`).
            full: Force (True) or forbid (False) a full pass; default: decided as above.
            now: Time of the run (UTC), for tests.

        Raises:
            ConnectorError: The catalog cannot be read at all (first page and count failed).
        """
        now = now or dt.datetime.now(dt.UTC)
        present = [s for s in known.values() if s.missing_since is None]
        oldest = min((s.last_seen for s in present if s.last_seen), default=None)
        if full is None:
            full = not present or oldest is None or oldest < now - dt.timedelta(days=self.config.full_every_days)
        result = tagged(KIND, lambda: self._full(known, now) if full else self._incremental(known, now))
        return result

    def _full(self, known: Mapping[str, RecordState], now: dt.datetime) -> Harvest:
        constraints = self.config.constraints.expressions()
        harvest = Harvest(mode="full", matched=None, collected=0, complete=False, changes=Changes())
        seen: dict[str, Seen] = {}
        paged = self.client.page_all("full", self.config.page_size, constraints,
                                     consume=lambda records: self._take(records, harvest, seen))
        harvest.requests["GetRecords"] = paged.requests
        if paged.shortfall and not paged.failed:
            # Servers that lose records between pages: page again the other way, smaller pages.
            paged.notes.append(Note("csw.paged-again", short=paged.shortfall, matched=paged.matched))
            before = len(seen)
            again = self.client.page_all(
                "full", max(1, min(10, self.config.page_size // 2)), constraints, descending=True,
                consume=lambda records: self._take([e for e in records if file_identifier(e) not in seen],
                                                   harvest, seen))
            harvest.requests["GetRecords"] += again.requests
            paged.received += len(seen) - before
            paged.failed, paged.notes = again.failed, paged.notes + again.notes
            paged.stopped_early = paged.stopped_early and again.stopped_early
        harvest.matched, harvest.notes = paged.matched, paged.notes
        self._report_failures(paged, harvest)
        harvest.complete = _complete(paged, harvest, seen)
        harvest.changes = self._reconcile(known, seen, listed_all=True, complete=harvest.complete, now=now)
        return harvest

    def _incremental(self, known: Mapping[str, RecordState], now: dt.datetime) -> Harvest:
        constraints = self.config.constraints.expressions()
        matched = self.client.hits(constraints)
        requests = Counter(GetRecords=1)
        stamps = [s.datestamp[:10] for s in known.values() if s.datestamp]
        since = (dt.date.fromisoformat(max(stamps)) - dt.timedelta(days=1)).isoformat() if stamps else "0001-01-01"
        listed: dict[str, str | None] = {}
        recent = self.client.page_all("summary", self.config.page_size,
                                      [*constraints, fes.PropertyIsGreaterThanOrEqualTo("apiso:Modified", since)],
                                      consume=lambda records: _list(records, listed))
        requests["GetRecords"] += recent.requests
        present = {r for r, s in known.items() if s.missing_since is None}
        expected = len(present | set(listed))
        listed_all = False
        paged = recent
        notes = [*recent.notes]
        if matched != expected or recent.failed:
            notes.append(Note("csw.listing-all", matched=matched, expected=expected, since=since))
            listed, listed_all = {}, True
            paged = self.client.page_all("summary", self.config.page_size, constraints,
                                         consume=lambda records: _list(records, listed))
            requests["GetRecords"] += paged.requests
            notes += paged.notes
        harvest = Harvest(mode="incremental", matched=matched, collected=len(listed), complete=False,
                          changes=Changes(), notes=notes, requests=requests)
        stale = [r for r, stamp in listed.items() if r not in known or known[r].missing_since is not None
                 or known[r].datestamp != stamp]
        fetched: list[etree._Element] = []
        for ids, answer in self.client.iter_by_id(stale, self.config.page_size):
            requests["GetRecordById"] += 1
            if isinstance(answer, str):
                harvest.skipped += [Skipped(i, f"fiche complète impossible à obtenir : {answer}") for i in ids]
            else:
                fetched += answer
        seen = {r: Seen(r, stamp) for r, stamp in listed.items() if r not in stale}
        self._take(fetched, harvest, seen)
        self._report_failures(paged, harvest)
        if listed_all:
            harvest.collected = len(listed)
            harvest.complete = _complete(paged, harvest, listed) and matched == len(listed)
        else:  # the count adds up: every record is accounted for without listing them all
            harvest.collected, harvest.complete = expected, not recent.failed
        harvest.changes = self._reconcile(known, seen, listed_all=listed_all, complete=harvest.complete, now=now)
        return harvest

    def _reconcile(self, known: Mapping[str, RecordState], seen: Mapping[str, Seen], *, listed_all: bool,
                   complete: bool, now: dt.datetime) -> Changes:
        policy = self.config.deletion
        return reconcile(known, seen, listed_all=listed_all, complete=complete, now=now,
                         grace=dt.timedelta(days=policy.grace_days), max_share=policy.max_share)

    def _take(self, elements: list[etree._Element], harvest: Harvest, seen: dict[str, Seen]) -> None:
        """Read each record on its own into `seen` and `harvest`: a bad record is skipped with its reason."""
        for element in elements:
            record_id = file_identifier(element)
            if not record_id:
                harvest.skipped.append(Skipped(f"fiche n° {len(seen) + len(harvest.skipped) + 1} de la liste",
                                               "pas de gmd:fileIdentifier : elle ne peut pas être suivie "
                                               "d'un passage à l'autre"))
                continue
            if record_id in seen:
                harvest.skipped.append(Skipped(record_id, "doublon : une autre fiche a le même "
                                                          "fileIdentifier (la première est gardée)"))
                continue
            try:
                record = parse_record(element)
                digest = record_hash(element)
            except Exception as exc:  # per-record isolation: any surprise in one record skips that record only
                harvest.skipped.append(Skipped(record_id, f"illisible : {type(exc).__name__} : {exc}"))
                continue
            seen[record_id] = Seen(record_id, datestamp(element), digest)
            harvest.collected = len(seen)
            if record.is_service and self.config.services == "skip":
                harvest.skipped.append(Skipped(record_id, "fiche de service (description WMS/WFS) : ignorée "
                                                          "(`services: skip`)"))
                continue
            harvest.records[record_id] = record

    def _report_failures(self, paged: Paged, harvest: Harvest) -> None:
        for failed in paged.failed:
            name = failed.record_id or f"fiche à la position {failed.position}"
            harvest.skipped.append(Skipped(name, f"le catalogue échoue sur cette fiche : {failed.reason}"))
        if paged.shortfall and not paged.failed:
            harvest.notes.append(Note("csw.shortfall", matched=paged.matched, received=paged.received))

    # --- extraction -------------------------------------------------------------------------------
    def record(self, record_id: str, dataset_id: str | None = None) -> IsoRecord:
        """Fetch and read one record by identifier.

        Raises:
            NotFoundError: The catalog has no such record.
        """
        elements = tagged(KIND, lambda: self.client.get_record_by_id([record_id]))
        for element in elements:
            if file_identifier(element) == record_id:
                return parse_record(element)
        raise NotFoundError(f"la fiche {record_id!r} n'est pas dans le catalogue {self.where} : elle a été "
                            "supprimée ou son identifiant a changé ; corrigez `locator.record` dans le "
                            "catalogue", dataset_id=dataset_id,
                            connector=KIND)

    def extract(self, dataset: DatasetDescriptor, dest: Path) -> Extract:
        """Write the dataset's data (WFS layer or file the record links to) to `dest/<id>.parquet`.

        A record with no usable link yields a table of its links (url, protocol, kind, name,
        description), so the dataset is still published with its metadata; the notes say so.

        Returns:
            The Parquet file, with the record's metadata in `Extract.metadata`.

        Raises:
            ConfigError: The locator is wrong.
            NotFoundError: No such record, or the chosen resource is not in the record.
            RejectedError: The record has no link at all, or the data cannot be read.
        """
        locator = self._locator(dataset)
        record = self.record(locator.record, dataset.id)
        dest.mkdir(parents=True, exist_ok=True)
        out = dest / f"{dataset.id}.parquet"
        metadata = record.metadata.model_dump(exclude_unset=True, exclude_none=True)
        notes: list[str] = [Note("csw.record-warning", record=locator.record, warning=w) for w in record.warnings]
        notes.append(Note("csw.licence", evidence=record.license_evidence))
        usable = [r for r in record.resources if r.kind in ("wfs", "download") or is_ogcapi(r)]
        if locator.resource:
            usable = [r for r in record.resources if locator.resource in (r.url, r.name)]
            if not usable:
                links = ", ".join(r.name or r.kind for r in record.resources) or "aucun"
                raise NotFoundError(f"la fiche {locator.record} n'a aucun lien dont le nom ou l'adresse "
                                    f"est {locator.resource!r} ; ses liens : {links}", dataset_id=dataset.id,
                                    connector=KIND)
        problems = []
        for resource in usable:
            try:
                written = write_resource(self.http, resource, out, dataset_id=dataset.id,
                                         max_bytes=self.config.max_response_bytes)
            except RejectedError as exc:
                problems.append(exc.message)
                continue
            notes += written.notes
            return Extract(path=out, rows=written.rows, metadata=metadata, geometry=written.geometry,
                           notes=notes, first_row=written.first_row)
        if not record.resources:
            raise RejectedError(f"la fiche {locator.record} ne renvoie vers aucune donnée, page ni service : il n'y a "
                                "rien à publier hormis sa description ; ajoutez un lien de distribution à la fiche "
                                "du catalogue",
                                dataset_id=dataset.id, connector=KIND)
        rows = write_links(record.resources, out)
        why = " ; ".join(problems) if problems else Note("csw.no-usable-link")
        notes.append(Note("csw.links-only", rows=rows, why=why))
        return Extract(path=out, rows=rows, metadata=metadata, notes=notes)

    def _locator(self, dataset: DatasetDescriptor) -> CswLocator:
        try:
            return CswLocator.model_validate(dict(dataset.locator))
        except ValidationError as exc:
            raise ConfigError("le `locator` de ce jeu de données est incorrect "
                              f"({described(exc, CswLocator.model_fields)}) : un jeu de données CSW s'écrit "
                              "`locator: {record: <fileIdentifier>}`", dataset_id=dataset.id,
                              connector=KIND) from None


def _list(elements: list[etree._Element], listed: dict[str, str | None]) -> None:
    """Add identifiers and change dates of a listing page to `listed` (first occurrence wins)."""
    for element in elements:
        record_id = file_identifier(element)
        if record_id and record_id not in listed:
            listed[record_id] = datestamp(element)


def _complete(paged: Paged, harvest: Harvest, seen: Mapping[str, Any]) -> bool:
    accounted = paged.received + len(paged.failed)
    return (not paged.failed and not paged.stopped_early and paged.matched is not None
            and accounted >= paged.matched and bool(seen or paged.matched == 0))
