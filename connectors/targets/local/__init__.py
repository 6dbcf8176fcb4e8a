"""The `local` target: a static open-data portal in a directory, for a commune's own website.

Each dataset gets a folder `<path>/<id>/` with `<id>.csv`, `<id>.geojson` (when it has
geometries) and a Frictionless `datapackage.json` carrying the moisson metadata. The portal
root holds `catalog.jsonld` (DCAT-AP 2, harvestable by data.gouv.fr) and `index.html`, both
rebuilt from every `*/datapackage.json` after each change. Folders are built aside and swapped
in, so a failed run never leaves a half-written dataset nor loses the previous version.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import html
import json
import math
import os
import re
import shutil
import sys
import uuid
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from string import Template
from typing import IO, Any, ClassVar

import pyarrow.parquet as pq

from moisson.connectors.base import ConnectorConfig, DatasetDescriptor, Plan, Publication, PublishResult
from moisson.connectors.csvfile import BATCH_ROWS, cell_text, write_csv
from moisson.connectors.targets.local.dcat import build_catalog, link, package_metadata
from moisson.core.errors import ConfigError, ConnectorError, NotFoundError, RejectedError, UnavailableError
from moisson.core.frequencies import label as frequency_label
from moisson.core.ids import DATASET_ID
from moisson.core.metadata import LICENSES, DatasetMetadata
from moisson.core.records import RemoteState

if sys.platform == "win32":
    import msvcrt

    def _lock(handle: IO[str]) -> None:
        msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)
else:
    import fcntl

    def _lock(handle: IO[str]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)

PACKAGE = "datapackage.json"
_STAGING, _BACKUP = ".new-", ".old-"
# Only names moisson makes: a portal folder may hold the website's own hidden files (.htaccess).
_LEFTOVER = re.compile(r"^\.(?P<id>[a-z0-9-]+)\.(?P<kind>new|old)-[0-9a-f]{32}$")
_TEMPORARY = re.compile(r"^\.[^/]+\.[0-9a-f]{32}$")
_EXTRAS = {"producer", "contact", "attribution", "frequency", "spatial", "temporal", "modified", "language"}
_ZONE_LEVELS_FR = {"commune": "commune", "departement": "département", "region": "région",
                   "epci": "intercommunalité (EPCI)", "arrondissement": "arrondissement",
                   "canton": "canton", "iris": "IRIS", "country": "pays"}


class LocalTarget:
    """Publishes datasets as files of a static portal directory.

    Args:
        config: Where the portal lives and how it presents itself.
    """

    kind: ClassVar[str] = "local"

    class Config(ConnectorConfig):
        """Settings of a local portal.

        Attributes:
            path: Directory of the portal.
            base_url: Public URL where the directory is served, for absolute links in the
                DCAT catalog; links stay relative without it.
            title: Portal title.
            publisher: Organisation running the portal (the commune).
        """

        path: Path = Path("var/portal")
        base_url: str | None = None
        title: str = "Données ouvertes"
        publisher: str | None = None

    def __init__(self, config: LocalTarget.Config | None = None) -> None:
        self.config = config or self.Config()

    def plan(self, publication: Publication) -> Plan:
        """Say whether `publish` would create, update or leave the dataset, writing nothing.

        The files on disk are compared with the publication, so a folder removed or edited by
        hand is written again even when the state store believes it is current.
        """
        dataset_id = self._checked_id(publication.dataset.id)
        current = self._current(dataset_id)
        if current is None:
            return Plan("create", ("data", "metadata"))
        extras = current.get("moisson", {})
        changes = tuple(name for name, key, value in (
            ("data", "content_hash", publication.content_hash),
            ("metadata", "metadata_hash", publication.metadata_hash)) if extras.get(key) != value)
        if extras.get("archived"):
            changes += ("unarchived",)
        return Plan("update", changes) if changes else Plan("unchanged")

    def publish(self, publication: Publication) -> PublishResult:
        """Write the dataset's files, then rebuild the catalog and the index page.

        Returns:
            `created` when the dataset folder did not exist, `updated` with what changed
            (`data`, `metadata`, `unarchived`), or `unchanged` having written nothing.

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
        if not publication.data.is_file():
            raise NotFoundError(f"the checked data file {publication.data} is missing; run the harvest "
                                "again", dataset_id=dataset_id, connector=self.kind)
        with self._locked(dataset_id):
            plan = self.plan(publication)
            if plan.action == "unchanged":
                return PublishResult("unchanged", dataset_id, url)
            # Not mkdtemp: its 0700 mode would hide the files from the web server.
            staging = self.config.path / f".{dataset_id}{_STAGING}{uuid.uuid4().hex}"
            staging.mkdir()
            try:
                self._write_dataset(publication, staging, self._current(dataset_id))
                self._swap_in(staging, self.config.path / dataset_id)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            self._regenerate()
        status = "created" if plan.action == "create" else "updated"
        return PublishResult(status, dataset_id, url, plan.changes)

    def archive(self, dataset: DatasetDescriptor, previous: RemoteState) -> PublishResult:
        """Mark the dataset archived in its `datapackage.json`, keeping its files.

        It moves to the "archived" section of the index page and leaves the DCAT catalog, so
        data.gouv.fr archives its harvested copy too.

        Raises:
            NotFoundError: The portal has no such dataset.
        """
        dataset_id = self._checked_id(dataset.id)
        if self._current(dataset_id) is None:
            raise NotFoundError(f"the portal {self.config.path} has no dataset {dataset_id!r} to archive: "
                                "it was never published there or its folder was removed",
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
        """Rebuild `catalog.jsonld` and `index.html` from the datasets present, e.g. after a config change."""
        with self._locked(None):
            self._regenerate()

    # Writing one dataset.

    def _write_dataset(self, publication: Publication, folder: Path, current: Mapping[str, Any] | None) -> None:
        dataset_id = publication.dataset.id
        schema = publication.table_schema
        dates = frozenset(f["name"] for f in (schema or {}).get("fields", []) if f.get("type") == "date")
        rows = pq.ParquetFile(publication.data).metadata.num_rows
        csv_path = folder / f"{dataset_id}.csv"
        write_csv(publication.data, csv_path, dates)
        resources = [_resource(csv_path, dataset_id, "csv", "text/csv", schema=schema)]
        if publication.geometry:
            geojson_path = folder / f"{dataset_id}.geojson"
            _write_geojson(publication.data, geojson_path, publication.geometry, dates, dataset_id)
            resources.append(_resource(geojson_path, f"{dataset_id}-geojson", "geojson", "application/geo+json"))
        metadata = publication.dataset.metadata
        published = _now()
        previous_extras = (current or {}).get("moisson", {})
        extras = {
            **metadata.model_dump(mode="json", include=_EXTRAS, exclude_none=True),
            "issued": (metadata.issued.isoformat() if metadata.issued
                       else previous_extras.get("issued", published[:10])),
            "rows": rows,
            "published": published,
            "content_hash": publication.content_hash,
            "metadata_hash": publication.metadata_hash,
        }
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

    def _regenerate(self) -> None:
        entries = []
        for folder in sorted(self.config.path.iterdir()):
            descriptor = folder / PACKAGE
            if folder.name.startswith(".") or not descriptor.is_file():
                continue
            package = {**_read_json(descriptor), "name": folder.name}
            entries.append((package, package_metadata(package, str(descriptor))))
        catalog = build_catalog(entries, title=self.config.title, publisher=self.config.publisher,
                                base_url=self.config.base_url)
        _write_text(self.config.path / "catalog.jsonld", _dump(catalog))
        _write_text(self.config.path / "index.html", _render_index(entries, self.config))

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
            raise RejectedError(f"the dataset id {dataset_id!r} cannot name a folder of the portal: use "
                                "lowercase letters, digits and hyphens", dataset_id=dataset_id,
                                connector=self.kind)
        return dataset_id

    def _url(self, dataset_id: str) -> str:
        return link(self.config.base_url, f"{dataset_id}/") if self.config.base_url \
            else f"{(self.config.path / dataset_id).as_posix()}/"

    def _io_error(self, err: OSError, dataset_id: str | None) -> ConnectorError:
        where = err.filename or self.config.path
        if isinstance(err, PermissionError):
            return ConfigError(f"moisson may not write in {where}: give the account that runs moisson "
                               "write access to the portal folder, or set another `path`",
                               dataset_id=dataset_id, connector=self.kind)
        return UnavailableError(f"could not write the portal in {where} ({err.strerror or err}); check "
                                "the disk has free space and the folder is reachable, then run again",
                                dataset_id=dataset_id, connector=self.kind)


# Files.


def _write_geojson(data: Path, dest: Path, geometry: str, dates: frozenset[str], dataset_id: str) -> None:
    """Write an RFC 7946 FeatureCollection, one feature per row, streamed batch by batch.

    Raises:
        RejectedError: The geometry column is missing, or a value is not WGS84 GeoJSON.
    """
    parquet = pq.ParquetFile(data)
    names = parquet.schema_arrow.names
    if geometry not in names:
        raise RejectedError(f"the geometry column {geometry!r} is not in the data (columns: "
                            f"{', '.join(names)}); fix `geometry` in the catalog", dataset_id=dataset_id,
                            connector=LocalTarget.kind)
    properties = [name for name in names if name != geometry]
    row = 0
    separator = "\n"
    with dest.open("w", encoding="utf-8") as out:
        out.write('{"type": "FeatureCollection", "features": [')
        for batch in parquet.iter_batches(batch_size=BATCH_ROWS):
            columns = {name: batch.column(name).to_pylist() for name in names}
            for index, value in enumerate(columns[geometry]):
                row += 1
                feature = {
                    "type": "Feature",
                    "geometry": _geometry(value, geometry, row, dataset_id),
                    "properties": {name: _json_value(columns[name][index], name in dates)
                                   for name in properties},
                }
                out.write(separator + json.dumps(feature, ensure_ascii=False, allow_nan=False, default=str))
                separator = ",\n"
        out.write("\n]}\n")


def _geometry(value: Any, column: str, row: int, dataset_id: str) -> dict[str, Any] | None:
    """Parse one GeoJSON geometry and check its positions are longitude/latitude degrees."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    where = f"row {row}, column {column!r}"
    try:
        geometry = json.loads(value) if isinstance(value, str) else value
        positions = list(_positions(geometry))
    except (ValueError, TypeError, AttributeError) as err:
        raise RejectedError(f"{where}: {str(value)[:60]!r} is not a GeoJSON geometry; the source must give "
                            "GeoJSON text in WGS84", dataset_id=dataset_id, connector=LocalTarget.kind) from err
    for position in positions:
        if len(position) < 2 or not (-180 <= position[0] <= 180 and -90 <= position[1] <= 90):
            raise RejectedError(f"{where}: the coordinates {position} are not longitude/latitude degrees; "
                                "reproject the source to WGS84 (EPSG:4326)", dataset_id=dataset_id,
                                connector=LocalTarget.kind)
    return geometry


def _positions(geometry: Mapping[str, Any]) -> Iterator[list[float]]:
    if geometry["type"] == "GeometryCollection":
        for part in geometry["geometries"]:
            yield from _positions(part)
        return
    stack = [geometry["coordinates"]]
    while stack:
        item = stack.pop()
        if not isinstance(item, list):
            raise TypeError(f"coordinates must be arrays, not {item!r}")
        if item and all(isinstance(v, int | float) and not isinstance(v, bool) for v in item):
            yield item
        else:
            stack.extend(item)


def _json_value(value: Any, as_date: bool) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.date):
        return cell_text(value, as_date)
    return value


def _resource(path: Path, name: str, fmt: str, mediatype: str, **extra: Any) -> dict[str, Any]:
    with path.open("rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
    resource = {"name": name, "path": path.name, "format": fmt, "mediatype": mediatype, "encoding": "utf-8",
                "bytes": path.stat().st_size, "hash": f"sha256:{digest}"}
    resource.update({key: value for key, value in extra.items() if value is not None})
    return resource


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as err:
        raise RejectedError(f"{path} is not valid JSON ({err}); fix the file by hand or publish the dataset "
                            "again", dataset_id=path.parent.name, connector=LocalTarget.kind) from err


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


# The index page.

_PAGE = Template("""<!DOCTYPE html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title>
<link rel="alternate" type="application/ld+json" href="catalog.jsonld" title="Catalogue DCAT-AP">
<style>
body { font-family: system-ui, sans-serif; line-height: 1.5; max-width: 60rem; margin: 0 auto; padding: 1rem;
       color: #1e1e1e; background: #fff; }
a { color: #000091; }
a:focus { outline: 3px solid #0a76f6; outline-offset: 2px; }
article { border-top: 1px solid #ccc; padding: 1rem 0; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; }
dt { font-weight: bold; }
dd { margin: 0; }
.archive { color: #555; }
</style>
</head>
<body>
<header>
<h1>$title</h1>
$intro
</header>
<main>
<section aria-labelledby="publies">
<h2 id="publies">Jeux de données publiés ($count)</h2>
$active
</section>
$archived
</main>
<footer>
<p>Catalogue au format DCAT-AP, moissonnable par data.gouv.fr :
<a href="catalog.jsonld">catalog.jsonld</a>. Page générée le $generated.</p>
</footer>
</body>
</html>
""")


def _render_index(entries: list[tuple[dict[str, Any], DatasetMetadata]], config: LocalTarget.Config) -> str:
    def key(entry: tuple[dict[str, Any], DatasetMetadata]) -> str:
        return (entry[1].title or entry[0]["name"]).casefold()

    active = sorted((e for e in entries if not e[0].get("moisson", {}).get("archived")), key=key)
    archived = sorted((e for e in entries if e[0].get("moisson", {}).get("archived")), key=key)
    archived_html = ""
    if archived:
        archived_html = ('<section aria-labelledby="archives" class="archive">\n'
                         f'<h2 id="archives">Jeux de données archivés ({len(archived)})</h2>\n'
                         "<p>Ces données ne sont plus mises à jour ; elles restent téléchargeables.</p>\n"
                         + "\n".join(_render_dataset(*e) for e in archived) + "\n</section>")
    intro = f"<p>Données ouvertes publiées par {html.escape(config.publisher)}.</p>" if config.publisher else ""
    return _PAGE.substitute(
        title=html.escape(config.title), intro=intro, count=len(active),
        active="\n".join(_render_dataset(*e) for e in active) or "<p>Aucun jeu de données publié.</p>",
        archived=archived_html, generated=_date_fr(_now()),
    )


def _render_dataset(package: Mapping[str, Any], metadata: DatasetMetadata) -> str:
    name = package["name"]
    extras = package.get("moisson", {})
    esc = html.escape
    facts: list[tuple[str, str]] = []
    if metadata.keywords:
        facts.append(("Mots-clés", esc(", ".join(metadata.keywords))))
    licence = LICENSES.get(metadata.license or "")
    if licence:
        facts.append(("Licence", f'<a href="{esc(licence[1])}">{esc(licence[0])}</a>' if licence[1]
                      else esc(licence[0])))
    else:
        facts.append(("Licence", "non précisée"))
    if metadata.producer:
        facts.append(("Producteur", esc(metadata.producer)))
    if metadata.attribution:
        facts.append(("Mention à faire figurer", esc(metadata.attribution)))
    if metadata.contact and (metadata.contact.email or metadata.contact.url):
        target = f"mailto:{metadata.contact.email}" if metadata.contact.email else metadata.contact.url or ""
        label = metadata.contact.name or metadata.contact.email or metadata.contact.url or ""
        facts.append(("Contact", f'<a href="{esc(target)}">{esc(label)}</a>'))
    if metadata.frequency:
        facts.append(("Mise à jour", esc(frequency_label(metadata.frequency))))
    if metadata.temporal and (metadata.temporal.start or metadata.temporal.end):
        start, end = metadata.temporal.start, metadata.temporal.end
        period = (f"du {_time(start)} au {_time(end)}" if start and end
                  else f"depuis le {_time(start)}" if start else f"jusqu'au {_time(end)}")
        facts.append(("Période couverte", period))
    if metadata.spatial and (metadata.spatial.zones or metadata.spatial.description):
        places = [_zone_fr(zone) for zone in metadata.spatial.zones]
        places += [metadata.spatial.description] if metadata.spatial.description else []
        facts.append(("Territoire couvert", esc(", ".join(places))))
    modified = metadata.modified.isoformat() if metadata.modified else extras.get("published")
    if modified:
        facts.append(("Dernière mise à jour", _time(modified)))
    if "rows" in extras:
        facts.append(("Nombre de lignes", f"{extras['rows']:,}".replace(",", "\u202f")))
    if extras.get("archived"):
        facts.append(("Archivé le", _time(extras["archived"])))
    links = [f'<li><a href="{esc(name)}/{esc(r["path"])}">{esc(r["path"])}</a> '
             f"({esc(str(r.get('format', '')).upper())}, {_size_fr(r.get('bytes', 0))})</li>"
             for r in package.get("resources", [])]
    links.append(f'<li><a href="{esc(name)}/{PACKAGE}">{PACKAGE}</a> (description Data Package)</li>')
    paragraphs = [p.strip() for p in (metadata.description or "").split("\n\n") if p.strip()]
    description = "".join(f"<p>{esc(p).replace(chr(10), '<br>')}</p>\n" for p in paragraphs)
    return (f'<article id="{esc(name)}" aria-labelledby="{esc(name)}-titre">\n'
            f'<h3 id="{esc(name)}-titre">{esc(metadata.title or name)}</h3>\n{description}'
            "<dl>\n" + "".join(f"<dt>{label}</dt><dd>{value}</dd>\n" for label, value in facts) + "</dl>\n"
            f'<h4>Télécharger</h4>\n<ul>\n{chr(10).join(links)}\n</ul>\n</article>')


def _time(value: dt.date | str) -> str:
    iso = value.isoformat() if isinstance(value, dt.date) else value
    return f'<time datetime="{html.escape(iso)}">{_date_fr(iso)}</time>'


def _date_fr(iso: str) -> str:
    year, month, day = iso[:10].split("-")
    return f"{day}/{month}/{year}"


def _size_fr(size: int) -> str:
    for unit, scale in (("Go", 1e9), ("Mo", 1e6), ("ko", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}".replace(".", ",")
    return f"{size} octets"


def _zone_fr(zone: str) -> str:
    parts = zone.split(":")
    level = parts[-2] if len(parts) >= 2 else ""
    return f"{_ZONE_LEVELS_FR[level]} {parts[-1]}" if level in _ZONE_LEVELS_FR else zone
