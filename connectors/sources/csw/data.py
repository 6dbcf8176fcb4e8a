"""The data a CSW record links to, as Parquet: a WFS or OGC API Features layer, or a CSV/XLSX/ODS/GeoJSON file.

WFS layers are paged by the `wfs` source's layer harvest and OGC API collections by the
`ogcapi` source (complete or failed, never short; WGS84). Downloads go through `HttpClient`
(retries, host-only messages) with a size cap; tables are read by the spreadsheet reader,
GeoJSON features get the same geometry columns as every geographic source
(`moisson.connectors.geo`). A record that links to nothing usable gets a table of its links
instead, so it is published as metadata with its links.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pydantic import SecretStr

from moisson.connectors.base import DatasetDescriptor
from moisson.connectors.geo import GeometryOutput, GeometryStats, add_geometry_columns
from moisson.connectors.sources.csw.client import read_capped
from moisson.connectors.sources.csw.iso19139 import OnlineResource
from moisson.connectors.tabular import ReadOptions, read_table
from moisson.core.errors import RejectedError, redact_url
from moisson.core.http import HttpClient
from moisson.core.lazy import lazy
from moisson.core.notes import Note

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq
    import shapely
else:  # imported when a record's data is downloaded, not when the catalog is read
    pd, pa, pq, shapely = lazy("pandas"), lazy("pyarrow"), lazy("pyarrow.parquet"), lazy("shapely")

TABLE_EXTENSIONS = (".csv", ".xlsx", ".xls", ".ods")
GEOJSON_EXTENSIONS = (".geojson", ".json")


@dataclass
class Written:
    """What `write_resource` wrote."""

    rows: int
    geometry: str | None = None
    first_row: int = 2
    notes: list[str] = field(default_factory=list)


def is_ogcapi(resource: OnlineResource) -> bool:
    """True for an OGC API - Features link (protocol `OGC:API-Features`, as GeoNetwork and Isogeo write it)."""
    protocol = (resource.protocol or "").upper().replace(" ", "-")
    return protocol.startswith(("OGC:API-FEATURES", "OGCAPI-FEATURES", "OGC-API-FEATURES"))


def write_resource(http: HttpClient, resource: OnlineResource, out: Path, *, dataset_id: str,
                   max_bytes: int) -> Written:
    """Harvest a WFS layer or an OGC API collection, or download a data file, and write it to `out` as text columns.

    Raises:
        RejectedError: The link is not a format moisson reads, or the content cannot be read.
    """
    path = urlsplit(resource.url).path.lower()
    if resource.kind == "wfs":
        return _write_wfs(http, resource, out, dataset_id=dataset_id, max_bytes=max_bytes)
    if is_ogcapi(resource):
        return _write_ogcapi(http, resource, out, dataset_id=dataset_id, max_bytes=max_bytes)
    if path.endswith(GEOJSON_EXTENSIONS):
        return _write_geojson(_download(http, resource.url, dataset_id, max_bytes), out, Path(path).name)
    if path.endswith(TABLE_EXTENSIONS):
        name = Path(path).name
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / name
            local.write_bytes(_download(http, resource.url, dataset_id, max_bytes))
            result = read_table(local, out, ReadOptions(), name=name)
        return Written(rows=result.rows, first_row=result.first_row,
                       notes=[Note("csw.file", name=name, url=redact_url(resource.url)), *result.notes])
    raise RejectedError(f"le lien {redact_url(resource.url)} ({resource.protocol or 'sans protocole'}) n'est ni "
                        f"une couche WFS, ni une collection OGC API, ni un fichier CSV, XLSX, ODS ou GeoJSON")


def write_links(resources: Sequence[OnlineResource], out: Path) -> int:
    """Write one row per link (url, protocol, kind, name, description, function); returns the row count."""
    columns = ("url", "protocol", "kind", "name", "description", "function")
    table = pa.table({c: pa.array([getattr(r, c) for r in resources], pa.string()) for c in columns})
    pq.write_table(table, out)
    return len(resources)


def _write_wfs(http: HttpClient, resource: OnlineResource, out: Path, *, dataset_id: str,
               max_bytes: int) -> Written:
    # Imported here: the WFS source reads XML with this package's safe parser, so a module-level
    # import would be circular.
    from moisson.connectors.sources.wfs.layer import WfsClient, harvest_layer

    if not resource.name:
        raise RejectedError(f"le lien WFS vers {redact_url(resource.url)} ne nomme aucune couche (gmd:name est vide)")
    layer = harvest_layer(WfsClient(resource.url, http, max_bytes=max_bytes), resource.name, out,
                          dataset_id=dataset_id)
    return Written(rows=layer.rows, geometry=layer.geometry, first_row=1, notes=layer.notes)


def _write_ogcapi(http: HttpClient, resource: OnlineResource, out: Path, *, dataset_id: str,
                  max_bytes: int) -> Written:
    from moisson.connectors.sources.ogcapi import OgcApiSource  # circular at module level, as above

    base, _, rest = resource.url.partition("/collections/")
    collection = rest.split("/", 1)[0].split("?", 1)[0] if rest else resource.name
    if not collection:
        raise RejectedError(f"le lien OGC API vers {redact_url(resource.url)} ne nomme aucune collection (ni "
                            "adresse /collections/<id>, ni gmd:name)")
    source = OgcApiSource(OgcApiSource.Config(url=SecretStr(base), max_response_bytes=max_bytes), http=http)
    extract = source.extract(DatasetDescriptor(id=out.stem, locator={"collection": collection}), out.parent)
    return Written(rows=extract.rows, geometry=extract.geometry, first_row=1, notes=extract.notes)


def _download(http: HttpClient, url: str, dataset_id: str, max_bytes: int) -> bytes:
    return read_capped(http, "GET", url, max_bytes=max_bytes, what=redact_url(url), dataset_id=dataset_id)


def _write_geojson(body: bytes, out: Path, what: str) -> Written:
    try:
        document = json.loads(body)
    except ValueError:
        start = body[:200].decode("utf-8", "replace").strip()
        hint = " (le serveur a répondu par une exception XML)" if start.startswith("<") else ""
        raise RejectedError(f"{what} n'est pas du GeoJSON{hint}") from None
    features = document.get("features") if isinstance(document, dict) else None
    if not isinstance(features, list):
        raise RejectedError(f"{what} est du JSON mais pas une FeatureCollection GeoJSON")
    frame = pd.DataFrame([_text_properties(f.get("properties") or {}) for f in features]).astype("string")
    if frame.columns.empty:
        frame = pd.DataFrame(index=range(len(features)))
    output = GeometryOutput(geometry_column="geometry" if "geometry" not in frame.columns else "geometry_geojson")
    geoms = [shapely.from_geojson(json.dumps(f["geometry"])) if f.get("geometry") else None for f in features]
    wkb = [shapely.to_wkb(g) if g is not None else None for g in geoms]
    stats = GeometryStats()
    frame = add_geometry_columns(frame, wkb, 4326, output, stats)
    pq.write_table(pa.Table.from_pandas(frame.astype("string"), preserve_index=False,
                                        schema=pa.schema([(c, pa.string()) for c in frame.columns])), out)
    return Written(rows=len(frame), geometry=output.geometry_column, first_row=1, notes=stats.notes(first_row=1))


def _text_properties(properties: dict) -> dict[str, str | None]:
    return {k: None if v is None else (v if isinstance(v, str) else json.dumps(v, ensure_ascii=False))
            for k, v in properties.items()}
