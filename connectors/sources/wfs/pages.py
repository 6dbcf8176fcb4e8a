"""Pages of features, whatever the protocol: GeoJSON pages read, and written to Parquet row group by row group.

Shared by the WFS layer harvest and the OGC API Features source: attributes become text
(numbers and booleans as JSON writes them), geometries WKB in x/y order then the WGS84
GeoJSON text columns every geographic source writes (`moisson.connectors.geo`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field

from moisson.connectors.base import ConnectorConfig
from moisson.connectors.geo import GeometryOutput, GeometryStats, add_geometry_columns
from moisson.connectors.sources.wfs.gml import epsg_code, lat_first
from moisson.core.errors import RejectedError, UnavailableError
from moisson.core.lazy import lazy
from moisson.core.notes import Note
from moisson.core.secrets import Secret

# The catalog reads `FeatureServiceConfig`: the array and GIS libraries are imported when features are written.
if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq
    import pyproj
    import shapely
else:
    np, pd, pa, pq = lazy("numpy"), lazy("pandas"), lazy("pyarrow"), lazy("pyarrow.parquet")
    pyproj, shapely = lazy("pyproj"), lazy("shapely")


@dataclass
class Page:
    """One GetFeature answer, read.

    Attributes:
        matched: `numberMatched` (None when absent or `unknown`).
        has_next: Whether the answer names a `next` page (None when the format never says).
        next_url: The `next` link of a GeoJSON page, when it has one.
        ids: Feature ids (or a digest of each feature when the server gives none), to spot a repeated page.
        properties: One dict of attribute texts per feature.
        wkb: One WKB geometry per feature, x/y order, in `crs`.
        crs: EPSG code of the geometries.
    """

    matched: int | None
    has_next: bool | None
    ids: list[str]
    properties: list[dict[str, str | None]]
    wkb: list[bytes | None]
    crs: int | None
    next_url: str | None = None



def within(bounds: list[float] | tuple[float, ...], extent: tuple[float, float, float, float]) -> bool:
    """Whether `[west, south, east, north]` lies in `extent`, give or take 5 % of its size (and 0.01)."""
    margin = 0.01 + 0.05 * max(extent[2] - extent[0], extent[3] - extent[1])
    west, south, east, north = bounds
    return (west >= extent[0] - margin and east <= extent[2] + margin
            and south >= extent[1] - margin and north <= extent[3] + margin)


def geojson_page(data: bytes, *, srs: str | None, counts: bool, what: str,
                 wgs84_bbox: tuple[float, float, float, float] | None = None) -> Page:
    """Read a GeoJSON FeatureCollection page (WFS GeoJSON output or OGC API Features items).

    Args:
        data: The body.
        srs: CRS asked for, for a document that names none.
        counts: Whether its `numberMatched` is to be trusted (WFS 2.0, OGC API).
        what: How to name the answer in errors.
        wgs84_bbox: The layer's advertised WGS84 extent. A document naming no CRS whose coordinates all
            fall in it (or, without it, in the area of use of the projected CRS asked) is in WGS84 whatever
            `srs` asked: QGIS Server writes its GeoJSON so (RFC 7946), and metres never fit such a degree extent.

    Raises:
        RejectedError: Not a GeoJSON FeatureCollection.
    """
    try:
        doc = json.loads(data)
        features = doc["features"]
    except (ValueError, KeyError, TypeError):
        raise RejectedError(f"{what} est du JSON mais pas une FeatureCollection GeoJSON") from None
    crs_name = ((doc.get("crs") or {}).get("properties") or {}).get("name")
    # GeoJSON is x/y unless it names its CRS in the URN form, which then orders the axes (GeoServer does).
    code = epsg_code(crs_name) or epsg_code(srs) or 4326
    swap = bool(crs_name) and crs_name.lower().startswith("urn:") and lat_first(crs_name, "2.0.0")
    texts = np.array([json.dumps(f["geometry"]) if f.get("geometry") else None for f in features], dtype=object)
    geometries = shapely.from_geojson(texts, on_invalid="ignore") if len(texts) else texts
    if swap and len(geometries):
        geometries = shapely.transform(geometries, lambda c: c[:, ::-1])
    area = None if crs_name else _projected_area(code)
    if area and len(geometries):
        bounds = shapely.total_bounds(geometries)
        if np.all(np.isfinite(bounds)) and within(bounds.tolist(), wgs84_bbox or area):
            code = 4326
    properties = [_texts(f.get("properties") or {}) for f in features]
    # A geometry GEOS cannot read becomes b"": counted as damaged, never as missing.
    wkb = [b"" if g is None and t is not None else w
           for g, t, w in zip(geometries, texts, shapely.to_wkb(geometries).tolist(), strict=True)]
    matched = doc.get("numberMatched") if counts else None
    links = [link for link in doc.get("links") or [] if isinstance(link, dict)]
    next_url = next((str(link["href"]) for link in links if link.get("rel") == "next" and link.get("href")), None)
    has_next = next_url is not None if "links" in doc else None
    ids = [str(f["id"]) if f.get("id") is not None else digest(p, w)
           for f, p, w in zip(features, properties, wkb, strict=True)]
    return Page(matched=matched if isinstance(matched, int) else None, has_next=has_next, next_url=next_url, ids=ids,
                properties=properties, wkb=wkb, crs=code)


@cache
def _projected_area(code: int) -> tuple[float, float, float, float] | None:
    """The WGS84 area of use of a projected CRS; None for a geographic or unknown one."""
    try:
        crs = pyproj.CRS.from_epsg(code)
    except pyproj.exceptions.CRSError:
        return None
    if crs.is_geographic or crs.area_of_use is None:
        return None
    return crs.area_of_use.bounds


def _texts(properties: dict[str, Any]) -> dict[str, str | None]:
    return {k: None if v is None else v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
            for k, v in properties.items()}


def digest(properties: dict[str, str | None], wkb: bytes | None) -> str:
    """A stand-in id for a feature the server gives none: its attributes and geometry hashed."""
    return hashlib.sha1(json.dumps(properties, sort_keys=True).encode() + (wkb or b"")).hexdigest()



class PageWriter:
    """Writes pages as Parquet row groups as they come.

    A column first seen on a later page (an attribute DescribeFeatureType did not announce)
    sends the following pages to side files; `close` then streams everything once into the
    final file with every column, so no cell is dropped and memory stays flat.
    """

    def __init__(self, out: Path, attributes: list[str], output: GeometryOutput, *, has_geometry: bool) -> None:
        self.out, self.attributes, self.has_geometry = out, list(attributes), has_geometry
        default = output.geometry_column == "geometry" and "geometry" in attributes
        self.output = output.model_copy(update={"geometry_column": "geometry_geojson"}) if default else output
        self.stats = GeometryStats()
        self.rows = 0
        self.late: list[str] = []
        self._writer: pq.ParquetWriter | None = None
        self._columns: list[str] = []
        self._parts: list[Path] = []

    @property
    def geometry_column(self) -> str | None:
        """The GeoJSON column, when the layer has geometries."""
        return self.output.geometry_column if self.has_geometry else None

    @property
    def columns(self) -> list[str]:
        """Every column known so far, geometry outputs last."""
        return self.attributes + (self.output.columns if self.has_geometry else [])

    def write(self, page: Page) -> None:
        """Write one page (its attributes as text, its geometries to WGS84 text columns)."""
        if self._writer is None:
            self.has_geometry = self.has_geometry or any(w is not None for w in page.wkb)
        for props in page.properties:
            self.late += [k for k in props if k not in self.attributes and k not in self.late]
        if self._writer is None:
            self.attributes += self.late
            self.late = []
        else:
            self.attributes += [k for k in self.late if k not in self.attributes]
        frame = pd.DataFrame({c: [p.get(c) for p in page.properties] for c in self.attributes},
                             index=pd.RangeIndex(len(page.properties)), dtype=object)
        if self.has_geometry:
            add_geometry_columns(frame, page.wkb, page.crs or 4326, self.output, self.stats)
        columns = self.columns
        table = pa.Table.from_pandas(frame[columns], schema=_text_schema(columns), preserve_index=False)
        if self._writer is None:
            self._columns = columns
            self._writer = pq.ParquetWriter(self.out, _text_schema(columns))
        if columns == self._columns and not self._parts:
            self._writer.write_table(table)
        else:
            part = self.out.with_name(f"{self.out.stem}.part{len(self._parts)}.parquet")
            pq.write_table(table, part)
            self._parts.append(part)
        self.rows += len(page.properties)

    def close(self) -> int:
        """Finish the file (an empty layer gives a file with its columns and no row); return the rows."""
        if self._writer is None:
            pq.write_table(pa.table({c: pa.array([], pa.string()) for c in self.columns}), self.out)
            return 0
        self._writer.close()
        if self._parts:
            self._merge()
        return self.rows

    def abort(self) -> None:
        """Close and remove what was written."""
        if self._writer is not None:
            self._writer.close()
        for path in (self.out, *self._parts):
            path.unlink(missing_ok=True)

    def _merge(self) -> None:
        merged = self.out.with_name(f"{self.out.stem}.merged.parquet")
        schema = _text_schema(self.columns)
        with pq.ParquetWriter(merged, schema) as writer:
            for path in (self.out, *self._parts):
                for batch in pq.ParquetFile(path).iter_batches():
                    table = pa.Table.from_batches([batch])
                    for column in schema.names:
                        if column not in table.column_names:
                            table = table.append_column(column, pa.nulls(len(table), pa.string()))
                    writer.write_table(table.select(schema.names))
        for path in self._parts:
            path.unlink()
        merged.replace(self.out)

    def notes(self) -> list[str]:
        """Geometry problems and late attributes, for the data officer."""
        notes = self.stats.notes(first_row=1)
        if self.late:
            notes.append(Note("wfs.late-attributes", names=", ".join(self.late)))
        return notes


def _text_schema(columns: list[str]) -> pa.Schema:
    return pa.schema([(c, pa.string()) for c in columns])


class PagingGuard:
    """The stop and completeness rules every feature paging shares (WFS `STARTINDEX`, OGC API `next` links).

    Args:
        label: The layer or collection, as messages name it.
        where: The server's host (never a token).
        repeated: What a page sent twice means, for the message.
        dataset_id: For messages.
    """

    def __init__(self, label: str, where: str, *, repeated: str, dataset_id: str | None = None) -> None:
        self.label, self.where, self.repeated, self.dataset_id = label, where, repeated, dataset_id
        self.matched: int | None = None
        self._last: list[str] = []

    def take(self, page: Page) -> bool:
        """Check one page against the earlier ones; False when it is the empty page that ends the paging.

        Raises:
            UnavailableError: The count moved while paging (the layer changed: retry later).
            RejectedError: The page repeats the previous one (the server does not advance).
        """
        if page.matched is not None:
            if self.matched is not None and page.matched != self.matched:
                raise UnavailableError(f"{self.label} de {self.where} a changé pendant la pagination "
                                       f"({self.matched} puis {page.matched} objets trouvés) ; moisson réessaiera",
                                       dataset_id=self.dataset_id)
            self.matched = page.matched
        if not page.ids:
            return False
        if page.ids == self._last:
            raise RejectedError(f"{self.label} de {self.where} a renvoyé les mêmes {len(page.ids)} objets : "
                                f"{self.repeated}", dataset_id=self.dataset_id)
        self._last = page.ids
        return True

    def finish(self, rows: int, *, limits: str) -> None:
        """Refuse a harvest whose row count is not the count the server matched.

        Args:
            rows: Features written.
            limits: What to check on the server, for the message.

        Raises:
            RejectedError: Fewer or more features than `numberMatched`.
        """
        if self.matched is None or rows == self.matched:
            return
        gap = f"{self.matched - rows} manquant(s)" if rows < self.matched else f"{rows - self.matched} en trop"
        raise RejectedError(f"{self.label} de {self.where} annonçait {self.matched} objets mais en a servi {rows} "
                            f"({gap}) : rien n'est publié d'une moisson incomplète ; vérifiez {limits} ou relancez",
                            dataset_id=self.dataset_id)

    def too_many_pages(self, pages: int, rows: int) -> RejectedError:
        """The error for a paging still going after `max_pages`."""
        return RejectedError(f"{self.label} de {self.where} envoyait encore des objets après {pages} pages "
                             f"({rows} objets) : relevez `max_pages` ou `page_size`", dataset_id=self.dataset_id)


class FeatureServiceConfig(ConnectorConfig):
    """Settings every feature service source shares (WFS, OGC API Features).

    Attributes:
        url: The endpoint (its other query keys, such as an API key, are kept). A secret when it holds a
            key: give it as `{env: NAME}`; only its host is ever shown.
        page_size: Features asked per page (servers cap it: paging follows what comes back).
        timeout: Seconds each answer may take, from connecting to its last byte.
        retries: Further attempts on timeouts, dropped connections, 5xx and 429.
        max_pages: A layer still sending features after this many pages fails.
        max_response_bytes: Largest answer accepted.
    """

    url: Secret
    page_size: int = Field(1000, ge=1, le=100_000)
    timeout: float = Field(120, gt=0)
    retries: int = Field(4, ge=0, le=10)
    max_pages: int = Field(100_000, ge=1)
    max_response_bytes: int = Field(200_000_000, ge=1_000)
