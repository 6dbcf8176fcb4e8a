"""The `local` target: a static open-data portal in a directory, for a commune's own website.

Each dataset gets a folder `<path>/<id>/` with `<id>.csv`, `<id>.geojson` (when it has
geometries), a Frictionless `datapackage.json` carrying the moisson metadata and its web page
(`index.html`, see `site`). The portal root holds `catalog.jsonld` and `catalog.ttl` (DCAT-AP 2,
harvestable by data.gouv.fr), `feed.atom` and `index.html`, all rebuilt from every
`*/datapackage.json` after each change; a dataset's page only when what it shows changed, so a
publication costs little more in a portal of hundreds of datasets. Folders are built aside and
swapped in, so a failed run never leaves a half-written dataset nor loses the previous version;
every page records what it was built from, so a run killed before the rebuild finished is
repaired by the next one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import sys
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, ClassVar

from pydantic import model_validator

from moisson.connectors.base import ConnectorConfig, DatasetDescriptor, Plan, Publication, PublishResult
from moisson.connectors.csvfile import write_csv
from moisson.connectors.targets.local.dcat import build_catalog, link, package_metadata, turtle
from moisson.connectors.targets.local.geojson import write_geojson
from moisson.core.errors import ConfigError, ConnectorError, NotFoundError, RejectedError, UnavailableError
from moisson.core.ids import DATASET_ID
from moisson.core.lazy import lazy
from moisson.core.metadata import LICENSES
from moisson.core.records import RemoteState

# `moisson check` loads this target for its `Config`: pyarrow and the pages' Markdown when something is published.
if TYPE_CHECKING:
    import pyarrow.parquet as pq

    from moisson.connectors.targets.local import site
else:
    pq, site = lazy("pyarrow.parquet"), lazy("moisson.connectors.targets.local.site")

if sys.platform == "win32":
    import msvcrt

    def _lock(handle: IO[str]) -> None:
        msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)
else:
    import fcntl

    def _lock(handle: IO[str]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)

PACKAGE = "datapackage.json"
PAGE = "index.html"
_STAGING, _BACKUP = ".new-", ".old-"
# Only names moisson makes: a portal folder may hold the website's own hidden files (.htaccess).
_LEFTOVER = re.compile(r"^\.(?P<id>[a-z0-9-]+)\.(?P<kind>new|old)-[0-9a-f]{32}$")
_TEMPORARY = re.compile(r"^\.[^/]+\.[0-9a-f]{32}$")
_EXTRAS = {"producer", "contact", "attribution", "frequency", "spatial", "temporal", "modified", "language",
           "themes", "legal", "lineage"}


class LocalTarget:
    """Publishes datasets as files of a static portal directory.

    Args:
        config: Where the portal lives and how it presents itself.
    """

    kind: ClassVar[str] = "local"
    plans_offline: ClassVar[bool] = True

    class Config(ConnectorConfig):
        """Settings of a local portal.

        Attributes:
            path: Directory of the portal.
            base_url: Public URL where the directory is served: the DCAT catalog needs absolute
                links, or data.gouv.fr's harvester rejects every dataset.
            harvestable: False for a portal nobody harvests; only then may `base_url` be left out.
            title: Portal title.
            publisher: Organisation running the portal (the commune).
        """

        path: Path = Path("var/portal")
        base_url: str | None = None
        harvestable: bool = True
        title: str = "Données ouvertes"
        publisher: str | None = None

        @model_validator(mode="after")
        def _public_url(self) -> LocalTarget.Config:
            if self.harvestable and not self.base_url:
                raise ValueError("`base_url` est obligatoire : donnez l'adresse publique où le dossier du "
                                 "portail est servi (par exemple https://www.commune.fr/opendata/), pour que "
                                 "data.gouv.fr puisse moissonner son catalogue ; ou écrivez `harvestable: false` si "
                                 "personne ne le moissonne")
            if self.base_url and not self.base_url.startswith(("http://", "https://")):
                raise ValueError(f"`base_url` {self.base_url!r} doit être une adresse http(s) absolue")
            return self

    def __init__(self, config: LocalTarget.Config) -> None:
        self.config = config

    def plan(self, publication: Publication) -> Plan:
        """Say whether `publish` would create, update or leave the dataset, writing nothing.

        The files on disk are compared with the publication, so a folder removed or edited by
        hand is written again even when the state store believes it is current; `--force` (a
        previous publication whose hashes were forgotten) rewrites everything; and a catalog or
        page that disagrees with the datasets on disk (a run killed before its rebuild) is
        rebuilt (`portal`).
        """
        dataset_id = self._checked_id(publication.dataset.id)
        current = self._current(dataset_id)
        if current is None:
            return Plan("create", ("data", "metadata"))
        extras = current.get("moisson", {})
        previous = publication.previous
        if previous is not None and previous.content_hash is None and previous.metadata_hash is None:
            return Plan("update", ("data", "metadata"), note="republié en entier (--force)")
        changes = tuple(name for name, key, value in (
            ("data", "content_hash", publication.content_hash),
            ("metadata", "metadata_hash", publication.metadata_hash)) if extras.get(key) != value)
        if extras.get("archived"):
            changes += ("unarchived",)
        if extras.get("blocked"):
            changes += ("unblocked",)
        if not changes and self._stale(dataset_id):
            changes = ("portal",)
        return Plan("update", changes) if changes else Plan("unchanged")

    def publish(self, publication: Publication) -> PublishResult:
        """Write the dataset's files, then rebuild the catalogs, the feed and the pages.

        Returns:
            `created` when the dataset folder did not exist, `updated` with what changed
            (`data`, `metadata`, `unarchived`, `unblocked`, or only `portal` when the catalog and
            pages were out of date with the files), or `unchanged` having written nothing.

        Raises:
            NotFoundError: The checked Parquet file is missing.
            RejectedError: A geometry is not WGS84 GeoJSON, or the id cannot name a folder.
            ConfigError: The portal directory is not writable.
            UnavailableError: Another write error (disk full, network share gone).
        """
        dataset_id = publication.dataset.id
        url = self._url(dataset_id)
        if self.plan(publication).action == "unchanged":
            return PublishResult("unchanged", dataset_id, url)
        with self._locked(dataset_id):
            plan = self.plan(publication)
            if plan.action == "unchanged":
                return PublishResult("unchanged", dataset_id, url)
            if plan.changes != ("portal",):
                self._write_and_swap(publication)
            self._regenerate()
        status = "created" if plan.action == "create" else "updated"
        return PublishResult(status, dataset_id, url, plan.changes)

    def block(self, dataset: DatasetDescriptor, reason: str, since: str | None = None) -> PublishResult:
        """Say on the dataset's page that its last version was blocked by quality, keeping the good one online.

        The published files stay as they were (the refused rows are never written); the page
        shows since when the dataset is blocked, and why, until a version passes again.

        Raises:
            NotFoundError: The portal has no such dataset (a dataset blocked before its first publication).
        """
        dataset_id = self._checked_id(dataset.id)
        if self._current(dataset_id) is None:
            raise NotFoundError(f"le portail {self.config.path} n'a pas de jeu de données {dataset_id!r} : sa "
                                "première version a été bloquée, il n'y a donc pas de bonne version à garder en "
                                "ligne",
                                dataset_id=dataset_id, connector=self.kind)
        with self._locked(dataset_id):
            descriptor = self.config.path / dataset_id / PACKAGE
            package = _read_json(descriptor)
            extras = package.setdefault("moisson", {})
            first = (extras.get("blocked") or {}).get("since") or since or _now()
            extras["blocked"] = {"since": first, "reason": reason}
            _write_text(descriptor, _dump(package))
            self._regenerate()
        return PublishResult("skipped", dataset_id, self._url(dataset_id), ("blocked",))

    def archive(self, dataset: DatasetDescriptor, previous: RemoteState) -> PublishResult:
        """Mark the dataset archived in its `datapackage.json`, keeping its files.

        It moves to the "archived" section of the index page and leaves the DCAT catalog, so
        data.gouv.fr archives its harvested copy too.

        Raises:
            NotFoundError: The portal has no such dataset.
        """
        dataset_id = self._checked_id(dataset.id)
        if self._current(dataset_id) is None:
            raise NotFoundError(f"le portail {self.config.path} n'a pas de jeu de données {dataset_id!r} à "
                                "archiver : il n'y a jamais été publié ou son dossier a été supprimé",
                                dataset_id=dataset_id, connector=self.kind)
        with self._locked(dataset_id):
            descriptor = self.config.path / dataset_id / PACKAGE
            package = _read_json(descriptor)
            extras = package.setdefault("moisson", {})
            newly = not extras.get("archived")
            if newly:
                extras["archived"] = _now()
                _write_text(descriptor, _dump(package))
            self._regenerate()
        return PublishResult("archived", dataset_id, self._url(dataset_id), ("archived",) if newly else ())

    def rebuild(self) -> None:
        """Rebuild the catalogs, the feed and every page from the datasets present, e.g. after an upgrade.

        Unlike a publication's rebuild, the pages whose package did not change are rendered again
        too: a new moisson may render them differently.
        """
        with self._locked(None):
            self._regenerate(every_page=True)

    # Writing one dataset.

    def _write_and_swap(self, publication: Publication) -> None:
        dataset_id = publication.dataset.id
        if not publication.data.is_file():
            raise NotFoundError(f"le fichier de données contrôlé {publication.data} est absent ; relancez la "
                                "moisson", dataset_id=dataset_id, connector=self.kind)
        # Not mkdtemp: its 0700 mode would hide the files from the web server.
        staging = self.config.path / f".{dataset_id}{_STAGING}{uuid.uuid4().hex}"
        staging.mkdir()
        try:
            self._write_dataset(publication, staging, self._current(dataset_id))
            self._swap_in(staging, self.config.path / dataset_id)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _write_dataset(self, publication: Publication, folder: Path, current: Mapping[str, Any] | None) -> None:
        dataset_id = publication.dataset.id
        schema = publication.table_schema
        dates = frozenset(f["name"] for f in (schema or {}).get("fields", []) if f.get("type") == "date")
        rows = pq.ParquetFile(publication.data).metadata.num_rows
        csv_path = folder / f"{dataset_id}.csv"
        write_csv(publication.data, csv_path, dates)
        resources = [_resource(csv_path, dataset_id, "csv", "text/csv", title=f"{publication.dataset.title} (CSV)",
                               schema=schema)]
        extent = None
        if publication.geometry:
            geojson_path = folder / f"{dataset_id}.geojson"
            extent = write_geojson(publication.data, geojson_path, publication.geometry, dates, dataset_id)
            resources.append(_resource(geojson_path, f"{dataset_id}-geojson", "geojson", "application/geo+json",
                                       title=f"{publication.dataset.title} (GeoJSON)"))
        site.write_view(publication.data, folder, dataset_id, schema, publication.geometry, dates)
        metadata = publication.dataset.metadata
        published = _now()
        previous_extras = (current or {}).get("moisson", {})
        extras = {
            **metadata.model_dump(mode="json", include=_EXTRAS, exclude_none=True, exclude_defaults=True),
            "language": metadata.language,
            "issued": (metadata.issued.isoformat() if metadata.issued
                       else previous_extras.get("issued", published[:10])),
            "rows": rows,
            "published": published,
            "content_hash": publication.content_hash,
            "metadata_hash": publication.metadata_hash,
        }
        if publication.dataset.schema:
            extras["schema"] = publication.dataset.schema
        if extent:
            extras["extent"] = list(extent)
        if quality := _quality(publication):
            extras["quality"] = quality
        package: dict[str, Any] = {"name": dataset_id, "title": publication.dataset.title}
        if metadata.description:
            package["description"] = metadata.description
        if metadata.keywords:
            package["keywords"] = metadata.keywords
        if metadata.license:
            title, url = LICENSES[metadata.license]
            package["licenses"] = [{"name": metadata.license, "title": title, **({"path": url} if url else {})}]
        if metadata.landing_page:
            package["homepage"] = metadata.landing_page
        package.update(created=published, resources=resources, moisson=extras)
        _write_text(folder / PACKAGE, _dump(package))

    def _swap_in(self, staging: Path, final: Path) -> None:
        # No portable atomic exchange of two folders: move the old one aside, move the new one
        # in, and let `_recover` put the old one back if we die in between.
        backup = final.with_name(f".{final.name}{_BACKUP}{uuid.uuid4().hex}")
        if final.exists():
            os.replace(final, backup)
        try:
            os.replace(staging, final)
        except BaseException:
            if backup.exists():
                os.replace(backup, final)
            raise
        shutil.rmtree(backup, ignore_errors=True)

    # The whole portal.

    def _regenerate(self, every_page: bool = False) -> None:
        """Rebuild from the packages on disk; the home page last, so it marks a finished rebuild.

        Args:
            every_page: Render every dataset's page; otherwise only those not rendered from their
                package and the portal's settings as they are now (the published, edited or missing).
        """
        root = self.config.path
        entries, digests = self._entries()
        portal = self._portal()
        site.copy_static(root)
        for package, metadata in entries:
            folder = root / package["name"]
            source = self._page_source(digests[package["name"]])
            if not every_page and site.recorded_source(folder / PAGE) == source:
                continue
            view = _read_json(folder / site.VIEW) if (folder / site.VIEW).is_file() else {}
            _write_text(folder / PAGE, site.dataset_page(package, metadata, view, portal, source))
        catalog = build_catalog(entries, title=self.config.title, publisher=self.config.publisher,
                                base_url=self.config.base_url)
        _write_text(root / "feed.atom", site.atom_feed(entries, portal))
        _write_text(root / "catalog.ttl", turtle(catalog))
        _write_text(root / "catalog.jsonld", _dump(catalog))
        _write_text(root / PAGE, site.index_page(entries, portal, self._index_source(digests)))

    def _entries(self) -> tuple[list[tuple[dict[str, Any], Any]], dict[str, str]]:
        entries, digests = [], {}
        for folder in sorted(self.config.path.iterdir()):
            descriptor = folder / PACKAGE
            if folder.name.startswith(".") or not descriptor.is_file():
                continue
            raw = descriptor.read_bytes()
            digests[folder.name] = hashlib.sha256(raw).hexdigest()
            package = {**_read_json(descriptor), "name": folder.name}
            entries.append((package, package_metadata(package, str(descriptor))))
        return entries, digests

    def _portal(self) -> site.Portal:
        return site.Portal(self.config.title, self.config.publisher, self.config.base_url)

    def _page_source(self, digest: str) -> str:
        return hashlib.sha256(json.dumps([digest, *self._portal(), site.renderer_digest()]).encode()).hexdigest()

    def _index_source(self, digests: Mapping[str, str]) -> str:
        return hashlib.sha256(json.dumps([sorted(digests.items()), *self._portal(), site.renderer_digest()]
                                         ).encode()).hexdigest()

    def _stale(self, dataset_id: str) -> bool:
        """True when the catalog or a page disagrees with the datasets on disk (checksums and sources)."""
        root = self.config.path
        descriptor = root / dataset_id / PACKAGE
        digests = {folder.name: hashlib.sha256((folder / PACKAGE).read_bytes()).hexdigest()
                   for folder in root.iterdir() if not folder.name.startswith(".") and (folder / PACKAGE).is_file()}
        if dataset_id not in digests or not (root / "catalog.jsonld").is_file():
            return True
        pages = ((root / PAGE, self._index_source(digests)),
                 (root / dataset_id / PAGE, self._page_source(digests[dataset_id])))
        if any(site.recorded_source(page) != source for page, source in pages):
            return True
        package = _read_json(descriptor)
        if package.get("moisson", {}).get("archived"):
            return False
        try:
            catalog = json.loads((root / "catalog.jsonld").read_text(encoding="utf-8"))
        except ValueError:
            return True
        listed = next((d for d in catalog.get("dcat:dataset", []) if d.get("dct:identifier") == dataset_id), None)
        if listed is None:
            return True
        published = sorted(str(r.get("hash", "")).rpartition(":")[2] for r in package.get("resources", []))
        announced = sorted((d.get("spdx:checksum") or {}).get("spdx:checksumValue", "")
                           for d in listed.get("dcat:distribution", []))
        return published != announced

    def _recover(self) -> None:
        """Put back a folder a crash left aside, and drop what interrupted runs left behind."""
        for leftover in sorted(self.config.path.iterdir()):
            if match := _LEFTOVER.match(leftover.name):
                final = self.config.path / match["id"]
                if match["kind"] == "old" and not final.exists():
                    os.replace(leftover, final)
                else:
                    shutil.rmtree(leftover, ignore_errors=True)
            elif _TEMPORARY.match(leftover.name) and leftover.is_file():
                leftover.unlink()
            elif leftover.is_dir() and not leftover.name.startswith("."):
                for page in leftover.glob(f".{PAGE}.*"):
                    if _TEMPORARY.match(page.name):
                        page.unlink()

    @contextlib.contextmanager
    def _locked(self, dataset_id: str | None) -> Iterator[None]:
        """Hold the portal lock: datasets publish concurrently, the catalog must list them all."""
        try:
            self.config.path.mkdir(parents=True, exist_ok=True)
            with (self.config.path / ".moisson.lock").open("a") as handle:
                _lock(handle)
                self._recover()
                yield
        except OSError as err:
            raise self._io_error(err, dataset_id) from err

    # Reading.

    def _current(self, dataset_id: str) -> dict[str, Any] | None:
        """The published descriptor, or the one a crash left aside (which `_recover` restores)."""
        candidates = [self.config.path / dataset_id]
        if self.config.path.is_dir():
            candidates += sorted(self.config.path.glob(f".{dataset_id}{_BACKUP}*"), reverse=True)
        for folder in candidates:
            if (folder / PACKAGE).is_file():
                return _read_json(folder / PACKAGE)
        return None

    def _checked_id(self, dataset_id: str) -> str:
        if not DATASET_ID.match(dataset_id):
            raise RejectedError(f"l'identifiant de jeu de données {dataset_id!r} ne peut pas nommer un dossier du "
                                "portail : utilisez des lettres minuscules, des chiffres et des tirets",
                                dataset_id=dataset_id, connector=self.kind)
        return dataset_id

    def _url(self, dataset_id: str) -> str:
        return link(self.config.base_url, f"{dataset_id}/") if self.config.base_url \
            else (self.config.path / dataset_id / PAGE).as_posix()

    def _io_error(self, err: OSError, dataset_id: str | None) -> ConnectorError:
        where = err.filename or self.config.path
        if isinstance(err, PermissionError):
            return ConfigError(f"moisson n'a pas le droit d'écrire dans {where} : donnez au compte qui exécute "
                               "moisson l'accès en écriture au dossier du portail, ou indiquez un autre `path`",
                               dataset_id=dataset_id, connector=self.kind)
        return UnavailableError(f"impossible d'écrire le portail dans {where} ({err.strerror or err}) ; "
                                "vérifiez que le disque a de la place libre et que le dossier est accessible, "
                                "puis relancez",
                                dataset_id=dataset_id, connector=self.kind)


# Files.


def _resource(path: Path, name: str, fmt: str, mediatype: str, **extra: Any) -> dict[str, Any]:
    with path.open("rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
    resource = {"name": name, "path": path.name, "format": fmt, "mediatype": mediatype, "encoding": "utf-8",
                "bytes": path.stat().st_size, "hash": f"sha256:{digest}"}
    resource.update({key: value for key, value in extra.items() if value is not None})
    return resource


def _quality(publication: Publication) -> dict[str, Any] | None:
    """The last run's conformance verdict, when the publication carries one (quality adds it)."""
    verdict = getattr(publication, "verdict", None) or publication.options.get("verdict")
    return {"verdict": str(verdict)} if verdict else None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as err:
        raise RejectedError(f"{path} n'est pas un JSON valide ({err}) ; corrigez le fichier à la main ou "
                            "publiez à nouveau le jeu de données",
                            dataset_id=path.parent.name, connector=LocalTarget.kind) from err


def _write_text(path: Path, text: str) -> None:
    """Replace a file atomically: readers see the old or the new content, never a part."""
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    try:
        with temporary.open("x", encoding="utf-8", newline="\n") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def _dump(document: Mapping[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
