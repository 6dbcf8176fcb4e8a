"""One WFS layer, paged into Parquet: the part the `wfs` source and the CSW source's `OGC:WFS` links share.

GetCapabilities is read once per client; the output format is GeoJSON when the layer offers
it (MapServer names it `geojson`, MIME `application/json; subtype=geojson`), else GML 3.2,
3.1 or 2. Pages are asked with `COUNT`/`STARTINDEX` (2.0) or `MAXFEATURES`/`STARTINDEX`
(1.x), never larger than the server's `CountDefault`, and advance by the features actually
returned. Stop rules, as strict as the CSW paging: the count the server matched is reached;
an empty page; the server's `next` missing after it gave one. A harvest is never short in
silence: fewer (or more) features than `numberMatched` fail the dataset naming the gap, and
so does a server that sends the same page again (it ignores `STARTINDEX`) or whose count
moves while paging. Each page is written as a Parquet row group as it comes (memory flat
with the layer size), while the next page is already being fetched.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from lxml import etree

from moisson.connectors.geo import GeometryOutput
from moisson.connectors.sources.csw.client import read_capped
from moisson.connectors.sources.wfs.capabilities import (
    VERSIONS,
    Capabilities,
    FeatureType,
    Schema,
    parse_answer,
    parse_capabilities,
    parse_schema,
)
from moisson.connectors.sources.wfs.gml import epsg_code, read_features
from moisson.connectors.sources.wfs.pages import Page, PageWriter, PagingGuard, digest, geojson_page, within
from moisson.core.errors import ConnectorError, RejectedError, redact_url
from moisson.core.http import HttpClient
from moisson.core.notes import Note

#: Query keys moisson sets itself; any other key of the configured URL (an API key…) is kept.
OGC_KEYS = frozenset({"service", "version", "request", "typename", "typenames", "outputformat", "srsname", "count",
                      "maxfeatures", "startindex", "resulttype", "acceptversions", "propertyname", "sortby"})
_GML_PREFERENCE = (("3.2",), ("gml3", "3.1"), ("gml2", "2.1", "gml"))


def _is_geojson(fmt: str) -> bool:
    lowered = fmt.lower()
    return "json" in lowered and "topojson" not in lowered


def choose_format(layer: FeatureType) -> str | None:
    """The best output format of a layer: GeoJSON, else GML 3.2, 3.1, 2; None for the server's default (GML)."""
    json_formats = [f for f in layer.formats if _is_geojson(f)]
    if json_formats:
        return next((f for f in json_formats if "geojson" in f.lower()), json_formats[0])
    for needles in _GML_PREFERENCE:
        found = next((f for f in layer.formats if any(n in f.lower() for n in needles)), None)
        if found:
            return found
    return None


class WfsClient:
    """Talks to one WFS endpoint: capabilities (read once), DescribeFeatureType, GetFeature.

    Args:
        url: Endpoint; its WFS keys are dropped and its other query keys kept. Never shown: messages
            name the host only.
        http: The client (retries, backoff, deadlines).
        max_bytes: Largest answer accepted.
        version: WFS version to speak; None asks the server for its highest (2.0.0, 1.1.0, 1.0.0).
    """

    def __init__(self, url: str, http: HttpClient, *, max_bytes: int = 200_000_000, version: str | None = None) -> None:
        parts = urlsplit(url)
        self.params = [(k, v) for k, v in parse_qsl(parts.query) if k.lower() not in OGC_KEYS]
        self.endpoint = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        self.where = redact_url(url)
        self.http, self.max_bytes, self.wanted_version = http, max_bytes, version
        self._capabilities: Capabilities | None = None

    def capabilities(self) -> Capabilities:
        """GetCapabilities, asked once per client.

        Raises:
            ConnectorError: Unreachable, an exception report, or not a WFS.
        """
        if self._capabilities is None:
            versions = (self.wanted_version,) if self.wanted_version else VERSIONS
            data = self.read({"SERVICE": "WFS", "REQUEST": "GetCapabilities", "VERSION": versions[0],
                              "ACCEPTVERSIONS": ",".join(versions)}, "GetCapabilities")
            self._capabilities = parse_capabilities(data, where=self.where)
        return self._capabilities

    @property
    def version(self) -> str:
        """The version the server answered GetCapabilities with."""
        return self.capabilities().version

    def schema(self, layer: FeatureType) -> Schema:
        """The layer's attributes typed by DescribeFeatureType.

        Raises:
            ConnectorError: The server failed or refused the request.
        """
        key = "TYPENAMES" if self.version.startswith("2") else "TYPENAME"
        data = self.read({"SERVICE": "WFS", "VERSION": self.version, "REQUEST": "DescribeFeatureType",
                          key: layer.name}, "DescribeFeatureType")
        return parse_schema(data, layer, where=self.where)

    def get_feature(self, params: dict[str, str], *, dataset_id: str | None = None) -> bytes:
        """The raw body of one GetFeature request (`SERVICE`, `VERSION` and `REQUEST` added)."""
        return self.read({"SERVICE": "WFS", "VERSION": self.version, "REQUEST": "GetFeature", **params},
                         "GetFeature", dataset_id=dataset_id)

    def read(self, params: dict[str, str], what: str, *, dataset_id: str | None = None) -> bytes:
        """GET the endpoint with the kept keys plus `params`, body capped at `max_bytes`.

        A 400 answer is returned like a 200: WFS 2.0 servers send their exception report with
        it, and the parsers turn the report into an error quoting the server.

        Raises:
            RejectedError: An oversized answer.
            ConnectorError: Other HTTP failures, per `HttpClient`.
        """
        return read_capped(self.http, "GET", self.endpoint, max_bytes=self.max_bytes,
                           what=f"la réponse {what} de {self.where}", params=self.params + list(params.items()),
                           ok=(400,), dataset_id=dataset_id)


@dataclass
class LayerExtract:
    """What `harvest_layer` wrote.

    Attributes:
        rows: Features written.
        matched: Features the server said it matched (None when it does not count).
        geometry: Column with the GeoJSON geometry (WGS84), None for a layer without geometry.
        metadata: Title, description, keywords and WGS84 bbox of the layer, its typed fields in `extras`.
        notes: What the data officer should know.
        requests: GetFeature requests sent.
    """

    rows: int
    matched: int | None
    geometry: str | None
    metadata: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    requests: int = 0


@dataclass
class _Plan:
    """How one layer is asked for."""

    layer: FeatureType
    version: str
    fmt: str | None
    srs: str | None
    page: int

    def params(self, start: int, size: int) -> dict[str, str]:
        two = self.version.startswith("2")
        params = {"TYPENAMES" if two else "TYPENAME": self.layer.name, "COUNT" if two else "MAXFEATURES": str(size),
                  "STARTINDEX": str(start)}
        if self.fmt:
            params["OUTPUTFORMAT"] = self.fmt
        if self.srs and not self.version.startswith("1.0"):  # WFS 1.0 has no SRSNAME: the first SRS is used
            params["SRSNAME"] = self.srs
        return params


def plan_layer(client: WfsClient, name: str, page_size: int) -> _Plan:
    """The layer, format, CRS and page size to ask for (the page never above the server's cap)."""
    caps = client.capabilities()
    layer = caps.layer(name, where=client.where)
    page = min(page_size, caps.count_default) if caps.count_default else page_size
    return _Plan(layer, caps.version, choose_format(layer), layer.default_crs, page)


def read_page(data: bytes, plan: _Plan, *, what: str, where: str) -> Page:
    """Read one GetFeature body, GeoJSON or GML (sniffed: servers label formats loosely).

    Raises:
        RejectedError: An exception report (HTTP 200 or 400), or a body that is neither.
    """
    head = data[:64].lstrip()
    if head.startswith(b"{"):
        return geojson_page(data, srs=plan.srs, counts=plan.version.startswith("2"), what=what,
                            wgs84_bbox=plan.layer.wgs84_bbox)
    if not head.startswith(b"<"):
        shown = head[:40].decode("utf-8", "replace")
        raise RejectedError(f"{what} de {where} n'est ni du GeoJSON ni du GML (elle commence par {shown!r})")
    root = parse_answer(data, what=what, where=where)
    if etree.QName(root).localname != "FeatureCollection":
        raise RejectedError(f"{what} de {where} est un <{etree.QName(root).localname}> et non une FeatureCollection")
    features = list(read_features(root, version=plan.version, default_srs=plan.srs))
    codes = {epsg_code(f.srs) for f in features if f.wkb is not None}
    if len(codes) > 1:
        raise RejectedError(f"{what} de {where} mêle plusieurs systèmes de coordonnées "
                            f"({sorted(map(str, codes))}) dans une même page")
    matched = root.get("numberMatched") or root.get("numberOfFeatures")
    two = plan.version.startswith("2")
    return Page(matched=int(matched) if matched and matched.isdigit() and two else None,
                has_next=(root.get("next") is not None) if two else None,
                ids=[f.id or digest(f.properties, f.wkb) for f in features],
                properties=[f.properties for f in features], wkb=[f.wkb for f in features],
                crs=codes.pop() if codes else epsg_code(plan.srs))


def harvest_layer(client: WfsClient, name: str, out: Path, *, page_size: int = 1000, max_pages: int = 100_000,
                  output: GeometryOutput | None = None, dataset_id: str | None = None) -> LayerExtract:
    """Page every feature of a layer into `out` (Parquet, text columns, GeoJSON geometry in WGS84).

    Args:
        client: The endpoint's client.
        name: Layer name, with or without its namespace prefix.
        out: Parquet file to write (removed again when the harvest fails).
        page_size: Features asked per page (capped by the server's `CountDefault`).
        max_pages: Paging fails after this many pages rather than run forever.
        output: Geometry text columns to write (default: `geometry`).
        dataset_id: For messages.

    Raises:
        NotFoundError: No such layer.
        RejectedError: Exception report, unreadable page, a short or repeated harvest.
        UnavailableError: The server failed after retries, or the layer changed while paging.
    """
    plan = plan_layer(client, name, page_size)
    label = f"la couche WFS {plan.layer.name}"
    notes: list[str] = [Note("wfs.from", layer=plan.layer.name, where=client.where, version=plan.version,
                             fmt="GeoJSON" if plan.fmt and _is_geojson(plan.fmt) else "GML",
                             srs=plan.srs or Note("wfs.default-crs"))]
    try:
        schema = client.schema(plan.layer)
    except ConnectorError as exc:
        schema = Schema()
        notes.append(Note("wfs.untyped", error=exc.message))
    writer = PageWriter(out, [f.name for f in schema.attributes], output or GeometryOutput(),
                         has_geometry=schema.geometry is not None or not schema.fields)
    try:
        matched, requests = _page_all(client, plan, writer, max_pages=max_pages, label=label, dataset_id=dataset_id)
        _check_axes(writer.stats.bounds, plan.layer.wgs84_bbox, label=label, where=client.where, dataset_id=dataset_id)
        rows = writer.close()
    except BaseException:
        writer.abort()
        raise
    if matched is None:
        notes.append(Note("wfs.uncounted", rows=rows))
    notes += writer.notes()
    metadata: dict[str, Any] = {k: v for k, v in (("title", plan.layer.title), ("description", plan.layer.abstract),
                                                  ("keywords", list(plan.layer.keywords))) if v}
    if writer.stats.bounds:
        metadata["spatial"] = {"bbox": writer.stats.bounds}
    types = {f.name: f.type for f in schema.attributes}
    metadata["extras"] = {"source": {"wfs": plan.version, "layer": plan.layer.name, "crs": plan.srs,
                                     "fields": [{"name": c, "type": types.get(c, "string")}
                                                for c in writer.attributes]}}
    return LayerExtract(rows=rows, matched=matched, geometry=writer.geometry_column, metadata=metadata,
                        notes=notes, requests=requests)


def _check_axes(bounds: list[float] | None, advertised: tuple[float, float, float, float] | None, *, label: str,
                where: str, dataset_id: str | None) -> None:
    """Refuse a harvest whose WGS84 extent misses the layer's advertised one while its mirror image fits it.

    The last guard against swapped axes: a server that writes latitude first under a CRS name
    that says otherwise would put Lille's bicycle racks in the Indian Ocean.
    """
    if not bounds or not advertised:
        return
    west, south, east, north = bounds
    if not within(bounds, advertised) and within([south, west, north, east], advertised):
        raise RejectedError(f"{label} de {where} a donné des coordonnées dont la longitude et la latitude semblent "
                            f"inversées (emprise {bounds}, le serveur annonce {list(advertised)}) : rien n'est "
                            "publié ; signalez l'ordre des axes du serveur à son administrateur", dataset_id=dataset_id)


def _page_all(client: WfsClient, plan: _Plan, writer: PageWriter, *, max_pages: int, label: str,
              dataset_id: str | None) -> tuple[int | None, int]:
    """Fetch pages (the next one ahead, in a thread) and write them; returns (numberMatched, requests)."""
    what = f"la réponse GetFeature de {label}"
    guard = PagingGuard(label, client.where, dataset_id=dataset_id,
                        repeated="le serveur ignore STARTINDEX et ne peut donc pas être paginé ; passez en "
                                 "WFS 2.0 (`version`) ou relevez le nombre maximal d'objets du serveur")
    start, requests, seen_next = 0, 0, False
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="wfs-prefetch") as pool:
        ahead: tuple[int, Future[bytes]] | None = None
        while True:
            if requests >= max_pages:
                raise guard.too_many_pages(max_pages, writer.rows)
            if ahead is not None and ahead[0] == start:
                data = ahead[1].result()
            else:
                if ahead is not None:
                    ahead[1].cancel()
                requests += 1
                data = client.get_feature(plan.params(start, plan.page), dataset_id=dataset_id)
            ahead = None
            if guard.matched is None or start + plan.page < guard.matched:  # the next page, while this one is read
                requests += 1
                ahead = (start + plan.page, pool.submit(client.get_feature, plan.params(start + plan.page, plan.page),
                                                        dataset_id=dataset_id))
            page = read_page(data, plan, what=what, where=client.where)
            if not guard.take(page):
                break
            writer.write(page)
            start += len(page.ids)
            seen_next = seen_next or bool(page.has_next)
            if guard.matched is not None and start >= guard.matched:
                break
            if guard.matched is None and seen_next and page.has_next is False:
                break
        if ahead is not None:
            ahead[1].cancel()
    guard.finish(writer.rows, limits="les limites du serveur (wfs_maxfeatures, pagination)")
    return guard.matched, requests
