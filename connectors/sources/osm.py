"""Source connector for OpenStreetMap through the Overpass API: the things tagged so in a commune or a box.

One Overpass query per dataset run (`locator: {tags: {emergency: defibrillator}, area: "59350"}`):
nodes, and ways by their centre, inside the commune of that INSEE code (`ref:INSEE`) or a bbox;
every tag becomes a column, `id` is `osm:node/123`, coordinates go to the locator's geometry
columns. Polite use: a server timeout in the query, the HTTP client's deadline, 429 waited out
as Overpass asks, and a "runtime error" that Overpass reports inside a 200 answer taken as
a failure to retry, never as an empty result.

OpenStreetMap data is under the ODbL: the metadata this source gives says so (licence and
attribution), and the metadata check warns when a dataset with OSM rows is published otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from moisson.connectors.base import ConnectorConfig, DatasetDescriptor, Extract
from moisson.connectors.geo import GeometryOutput
from moisson.connectors.sources.wfs.pages import PageWriter, geojson_page
from moisson.connectors.sqlrows import parse_locator
from moisson.core.errors import RejectedError, UnavailableError
from moisson.core.http import HttpClient
from moisson.core.ids import unique_slugs
from moisson.core.metadata import DatasetMetadata
from moisson.core.notes import Note

KIND = "osm"
OVERPASS = "https://overpass-api.de/api/interpreter"
ATTRIBUTION = "© les contributrices et contributeurs d'OpenStreetMap (ODbL)"
_KEYS = "`tags` et `area` (un code INSEE) ou `bbox`, puis `geometry`"


class OsmConfig(ConnectorConfig):
    """Where the Overpass API is and how patiently to ask it.

    Attributes:
        url: Overpass interpreter endpoint.
        timeout: Seconds the server may spend on a query (sent in it) and one exchange may last.
        retries: Further attempts after a 429, a 5xx or a runtime error.
        queries: Named locators that `moisson discover` runs to say how many elements each returns.
    """

    url: str = OVERPASS
    timeout: int = Field(180, gt=0, le=900)
    retries: int = Field(3, ge=0)
    queries: dict[str, dict[str, Any]] = Field(default_factory=dict)


class OsmLocator(BaseModel):
    """What to fetch (`locator:` in the catalog).

    Attributes:
        tags: Tags every element has; a value `true` means any value (`{emergency: defibrillator}`).
        area: INSEE code of the commune to search in.
        bbox: Or a box `[south, west, north, east]` in degrees (Overpass' order).
        geometry: Text columns written from the point (default `geometry`, GeoJSON in WGS84).
    """

    model_config = ConfigDict(extra="forbid")

    tags: dict[str, str | bool] = Field(min_length=1)
    area: str | None = Field(None, pattern=r"^[0-9][0-9AB][0-9]{3}$")
    bbox: tuple[float, float, float, float] | None = None
    geometry: GeometryOutput = Field(default_factory=GeometryOutput)

    @field_validator("bbox")
    @classmethod
    def _box(cls, value: tuple[float, float, float, float] | None) -> tuple[float, float, float, float] | None:
        if value is not None and not (value[0] < value[2] and value[1] < value[3]):
            raise ValueError("`bbox` s'écrit [sud, ouest, nord, est] : sud < nord et ouest < est")
        return value

    def query(self, timeout: int) -> str:
        """The Overpass QL query."""
        filters = "".join(f'["{k}"]' if v is True else f'["{k}"="{v}"]' for k, v in self.tags.items()
                          if v is not False)
        if self.area:
            head = f'area["ref:INSEE"="{self.area}"]["boundary"="administrative"]->.commune;'
            where = "(area.commune)"
        elif self.bbox:
            head, where = "", "(" + ",".join(str(c) for c in self.bbox) + ")"
        else:
            raise ValueError("indiquez où chercher : `area` (un code INSEE) ou `bbox`")
        return (f"[out:json][timeout:{timeout}];{head}(node{filters}{where};way{filters}{where};);"
                "out center tags;")


class OsmSource:
    """Reads OpenStreetMap elements through an Overpass API."""

    kind: ClassVar[str] = KIND
    Config: ClassVar[type[BaseModel]] = OsmConfig
    #: The keys of a dataset's `locator:`, checked when the catalog is loaded.
    Locator: ClassVar[type[BaseModel]] = OsmLocator

    def __init__(self, config: OsmConfig) -> None:
        self.config = config
        self.client = HttpClient(timeout=config.timeout + 30, retries=config.retries, connector=KIND)

    def check(self) -> None:
        """Ask the server for its status.

        Raises:
            ConnectorError: The server is unreachable or refuses.
        """
        self._ask("[out:json][timeout:10];out count;")

    def discover(self) -> Iterator[DatasetDescriptor]:
        """One dataset per named query of the config, with how many elements it returns now."""
        for dataset_id, name in zip(unique_slugs(self.config.queries), self.config.queries, strict=True):
            dataset = DatasetDescriptor(id=dataset_id, locator=self.config.queries[name])
            locator = parse_locator(OsmLocator, dataset, KIND, _KEYS)
            counted = self._ask(locator.query(self.config.timeout).replace("out center tags;", "out count;"),
                                dataset_id=dataset_id)
            total = sum(int((e.get("tags") or {}).get("total", 0)) for e in counted if e.get("type") == "count")
            yield DatasetDescriptor(id=dataset_id, locator=dataset.locator, metadata=DatasetMetadata(
                title=name, description=f"{total} éléments OpenStreetMap", license="odc-odbl",
                attribution=ATTRIBUTION))

    def extract(self, dataset: DatasetDescriptor, dest: Path) -> Extract:
        """One query; each element a row, its tags as columns.

        Raises:
            ConfigError: The locator is wrong.
            UnavailableError: The server failed, or reported a runtime error (retried by the task).
        """
        locator = parse_locator(OsmLocator, dataset, KIND, _KEYS)
        try:
            query = locator.query(self.config.timeout)
        except ValueError as exc:
            raise RejectedError(f"{dataset.id}: {exc}", dataset_id=dataset.id, connector=KIND) from None
        elements = self._ask(query, dataset_id=dataset.id)
        features = [_feature(e) for e in elements if _point_of(e) is not None]
        tags = sorted({k for f in features for k in f["properties"]} - {"id"})
        out = dest / f"{dataset.id}.parquet"
        writer = PageWriter(out, ["id", *tags], locator.geometry, has_geometry=True)
        try:
            writer.write(geojson_page(json.dumps({"type": "FeatureCollection", "features": features}).encode(),
                                      srs="EPSG:4326", counts=False, what=f"la réponse d'Overpass {self.config.url}"))
            rows = writer.close()
        except BaseException:
            writer.abort()
            raise
        notes: list[str] = [Note("osm.unplaced", count=len(elements) - len(features))] if (
            len(elements) > len(features)) else []
        metadata = DatasetMetadata(license="odc-odbl", attribution=ATTRIBUTION).model_dump(exclude_none=True,
                                                                                            exclude_defaults=True)
        return Extract(path=out, rows=rows, metadata=metadata, geometry=writer.geometry_column, notes=notes)

    def _ask(self, query: str, *, dataset_id: str | None = None) -> list[dict]:
        response = self.client.request("POST", self.config.url, data={"data": query}, dataset_id=dataset_id)
        try:
            answer = response.json()
        except ValueError:
            raise UnavailableError(f"Overpass {self.client.url(self.config.url)} n'a pas répondu en JSON ; "
                                   "relancez plus tard",
                                   dataset_id=dataset_id, connector=KIND) from None
        remark = str(answer.get("remark") or "")
        if "runtime error" in remark.lower():
            raise UnavailableError(f"Overpass n'a pas pu terminer la requête ({remark[:200]}) ; elle sera relancée — "
                                   "relevez `timeout` dans la configuration de la source si l'échec persiste",
                                   dataset_id=dataset_id, connector=KIND)
        return list(answer.get("elements") or [])


def _point_of(element: dict) -> tuple[float, float] | None:
    where = element if "lat" in element else element.get("center") or {}
    if "lat" in where and "lon" in where:
        return float(where["lon"]), float(where["lat"])
    return None


def _feature(element: dict) -> dict:
    lon, lat = _point_of(element)
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": {"id": f"osm:{element['type']}/{element['id']}", **(element.get("tags") or {})}}
