"""Source connector for OGC API - Features (pygeoapi, the IGN Géoplateforme, GeoServer's OGC API module…).

One dataset per collection (`locator: {collection: ID}`): `/collections/{id}/items` in pages
of `limit`, following the `next` links the server writes (never building offsets itself),
GeoJSON in CRS84 (longitude first, the API's default). Filters from the locator: `bbox`
(CRS84), `datetime` (an instant or an interval) and property equality (`properties`).
Attributes are typed from `/collections/{id}/queryables` where the server offers it.

Paging stops on a page with no `next` link or no feature; the features collected must equal
`numberMatched` when the server gives it, and a server sending the same page again fails the
dataset rather than loop (pygeoapi still gives a `next` link on a full last page: the empty
page after it ends the walk).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

from pydantic import BaseModel, ConfigDict, Field

from moisson.connectors.base import DatasetDescriptor, Extract
from moisson.connectors.geo import GeometryOutput
from moisson.connectors.sources.csw.client import read_capped
from moisson.connectors.sources.wfs.pages import FeatureServiceConfig, PageWriter, PagingGuard, geojson_page
from moisson.connectors.sqlrows import parse_locator
from moisson.core.errors import ConnectorError, NotFoundError, RejectedError, redact_url
from moisson.core.http import HttpClient
from moisson.core.ids import unique_slugs
from moisson.core.metadata import DatasetMetadata
from moisson.core.notes import Note
from moisson.core.secrets import reveal

KIND = "ogcapi"
ACCEPT = "application/geo+json, application/json;q=0.9"
#: JSON Schema types of the queryables → Table Schema types (a `format` refines strings).
JSON_TYPES = {"integer": "integer", "number": "number", "boolean": "boolean", "string": "string"}
STRING_FORMATS = {"date": "date", "date-time": "datetime", "time": "time"}
_KEYS = "`collection`, puis `bbox`, `datetime`, `properties` et `geometry`"


class OgcApiLocator(BaseModel):
    """A collection of the API, optionally filtered (`locator:` in the catalog).

    Attributes:
        collection: Collection id (`/collections/{id}`).
        bbox: Only features intersecting `[west, south, east, north]` (CRS84 degrees).
        datetime: Only features at this instant or in this interval (`2024-01-01/..`).
        properties: Only features whose property equals the value (`{type: école}`).
        geometry: Text columns written from the geometry (default: `geometry`, GeoJSON in WGS84).
    """

    model_config = ConfigDict(extra="forbid")

    collection: str = Field(min_length=1)
    bbox: tuple[float, float, float, float] | None = None
    datetime: str | None = None
    properties: dict[str, str | int | float | bool] = Field(default_factory=dict)
    geometry: GeometryOutput = Field(default_factory=GeometryOutput)

    def query(self, limit: int) -> list[tuple[str, str]]:
        """The query of the first items page."""
        params = [("f", "json"), ("limit", str(limit))]
        if self.bbox:
            params.append(("bbox", ",".join(repr(v) for v in self.bbox)))
        if self.datetime:
            params.append(("datetime", self.datetime))
        params += [(k, json.dumps(v) if isinstance(v, bool) else str(v)) for k, v in self.properties.items()]
        return params


class OgcApiConfig(FeatureServiceConfig):
    """An OGC API - Features service: `url` is its landing page (`https://…/ogcapi`), without `/collections`."""


class OgcApiSource:
    """Reads the collections of an OGC API - Features service as datasets."""

    kind: ClassVar[str] = KIND
    #: The keys of a dataset's `locator:`, checked when the catalog is loaded.
    Locator: ClassVar[type[BaseModel]] = OgcApiLocator
    Config: ClassVar[type[BaseModel]] = OgcApiConfig

    def __init__(self, config: OgcApiConfig, *, http: HttpClient | None = None) -> None:
        self.config = config
        url = reveal(config.url, what="l'URL de l'OGC API")
        parts = urlsplit(url)
        self.base, self.query = url.split("?", 1)[0].rstrip("/"), parts.query
        self.where = redact_url(url)
        self.http = http or HttpClient(headers={"Accept": ACCEPT}, timeout=config.timeout, retries=config.retries,
                                       connector=KIND)

    def __repr__(self) -> str:
        return f"OgcApiSource({self.where})"

    def check(self) -> None:
        """The service lists its collections.

        Raises:
            ConnectorError: Unreachable, or not an OGC API - Features service.
        """
        self._collections()

    def discover(self) -> Iterator[DatasetDescriptor]:
        """Yield one dataset per collection, with its title, description and keywords."""
        collections = self._collections()
        ids = unique_slugs((str(c.get("id")) for c in collections), default="collection")
        for collection, dataset_id in zip(collections, ids, strict=True):
            yield DatasetDescriptor(id=dataset_id, locator={"collection": collection["id"]},
                                    metadata=DatasetMetadata(**_metadata(collection)))

    def extract(self, dataset: DatasetDescriptor, dest: Path) -> Extract:
        """Page the collection's items into `dest/<id>.parquet`: attributes as text, geometry as GeoJSON in WGS84.

        Raises:
            ConfigError: Bad locator.
            NotFoundError: No such collection.
            RejectedError: An unreadable page, a repeated page, or fewer features than `numberMatched`.
            UnavailableError: The server failed after retries (retryable).
        """
        locator = parse_locator(OgcApiLocator, dataset, KIND, _KEYS)
        try:
            return self._extract(locator, dataset.id, dest)
        except ConnectorError as exc:
            exc.connector, exc.dataset_id = exc.connector or KIND, exc.dataset_id or dataset.id
            raise

    def _extract(self, locator: OgcApiLocator, dataset_id: str, dest: Path) -> Extract:
        path = f"collections/{quote(locator.collection, safe='')}"
        try:
            collection = self._json(path, "la collection")
        except NotFoundError:
            known = ", ".join(str(c.get("id")) for c in self._collections()) or "aucune"
            raise NotFoundError(f"l'OGC API {self.where} n'a pas de collection {locator.collection!r} ; ses "
                                f"collections : {known}. Corrigez `collection` dans le `locator` du jeu de "
                                "données") from None
        types, notes = self._queryables(path)
        dest.mkdir(parents=True, exist_ok=True)
        out = dest / f"{dataset_id}.parquet"
        writer = PageWriter(out, list(types), locator.geometry, has_geometry=True)
        label = f"la collection {locator.collection}"
        try:
            matched = self._page_all(f"{path}/items", locator, writer, label)
            rows = writer.close()
        except BaseException:
            writer.abort()
            raise
        notes.insert(0, Note("ogcapi.from", collection=locator.collection, where=self.where))
        notes += writer.notes()
        metadata = _metadata(collection)
        if writer.stats.bounds:
            metadata["spatial"] = {"bbox": writer.stats.bounds}
        metadata["extras"] = {"source": {"ogcapi": locator.collection, "matched": matched,
                                         "fields": [{"name": c, "type": types.get(c, "string")}
                                                    for c in writer.attributes]}}
        return Extract(path=out, rows=rows, metadata=metadata, geometry=writer.geometry_column, notes=notes,
                       first_row=1)

    def _page_all(self, path: str, locator: OgcApiLocator, writer: PageWriter, label: str) -> int | None:
        url: str | None = self._url(path)
        params: list[tuple[str, str]] | None = locator.query(self.config.page_size)
        guard = PagingGuard(label, self.where, repeated="son lien `next` n'avance pas, la collection ne peut "
                                                        "pas être paginée")
        for pages in range(self.config.max_pages + 1):
            if url is None:
                break
            if pages == self.config.max_pages:
                raise guard.too_many_pages(pages, writer.rows)
            what = f"la page d'objets de {label} de {self.where}"
            data = read_capped(self.http, "GET", url, max_bytes=self.config.max_response_bytes, what=what,
                               params=params)
            page = geojson_page(data, srs=None, counts=True, what=what)
            if not guard.take(page):
                break
            writer.write(page)
            url, params = page.next_url, None  # the next link carries the whole query
        guard.finish(writer.rows, limits="la pagination du serveur")
        return guard.matched

    def _queryables(self, path: str) -> tuple[dict[str, str], list[str]]:
        """Attribute types from the queryables (geometry left out), and a note when the server has none."""
        try:
            doc = self._json(f"{path}/queryables", "les queryables")
        except (NotFoundError, RejectedError) as exc:
            return {}, [Note("ogcapi.untyped", error=exc.message)]
        types: dict[str, str] = {}
        for name, spec in (doc.get("properties") or {}).items():
            if not isinstance(spec, dict) or str(spec.get("format", "")).startswith("geometry") \
                    or spec.get("x-ogc-role") == "primary-geometry" or "$ref" in spec:
                continue
            kind = JSON_TYPES.get(str(spec.get("type")), "string")
            types[name] = STRING_FORMATS.get(str(spec.get("format")), kind) if kind == "string" else kind
        return types, []

    def _collections(self) -> list[dict[str, Any]]:
        doc = self._json("collections", "la liste des collections")
        collections = doc.get("collections") if isinstance(doc, dict) else None
        if not isinstance(collections, list):
            raise RejectedError(f"{self.where} a répondu à /collections sans liste `collections` : ce n'est pas un "
                                "service OGC API - Features", connector=KIND)
        return [c for c in collections if isinstance(c, dict) and c.get("id")]

    def _json(self, path: str, what: str) -> Any:
        data = read_capped(self.http, "GET", self._url(path), max_bytes=self.config.max_response_bytes,
                           what=f"{what} de {self.where}", params=[("f", "json")])
        try:
            return json.loads(data)
        except ValueError:
            raise RejectedError(f"{what} de {self.where} n'est pas du JSON", connector=KIND) from None

    def _url(self, path: str) -> str:
        return f"{self.base}/{path}" + (f"?{self.query}" if self.query else "")


def _metadata(collection: dict[str, Any]) -> dict[str, Any]:
    keywords = [k for k in collection.get("keywords") or [] if isinstance(k, str)]
    known = {"title": collection.get("title"), "description": collection.get("description"), "keywords": keywords}
    return {k: v for k, v in known.items() if v}
