"""Source connector for OGC WFS 1.0.0, 1.1.0 and 2.0.0 layers (MapServer, GeoServer, QGIS Server…).

One dataset per layer (`locator: {layer: NAME}`): GetCapabilities once, the best output format,
paging that never lets a short harvest through, axis order per version and CRS name,
geometries reprojected to WGS84 GeoJSON text (`moisson.connectors.sources.wfs.layer`).
The CSW source uses the same layer harvest for a record's `OGC:WFS` links.

Incremental: with `updated_at` in the locator, the fingerprint is the newest value of that
attribute (asked sorted, one feature, then checked with a filter: a server that ignores the
sort cannot fool it) and the count; with `checksum: true`, the count and a digest of the first
and last features. An unchanged fingerprint spares the download.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal
from xml.sax.saxutils import escape

from pydantic import BaseModel, ConfigDict, Field

from moisson.connectors.base import DatasetDescriptor, Extract
from moisson.connectors.geo import GeometryOutput
from moisson.connectors.sources.wfs.layer import WfsClient, harvest_layer, plan_layer, read_page
from moisson.connectors.sources.wfs.pages import FeatureServiceConfig
from moisson.connectors.sqlrows import parse_locator
from moisson.core.errors import RejectedError, tagged
from moisson.core.http import HttpClient
from moisson.core.ids import unique_slugs
from moisson.core.lazy import lazy
from moisson.core.metadata import DatasetMetadata
from moisson.core.secrets import reveal

if TYPE_CHECKING:
    import pyarrow.parquet as pq
else:
    pq = lazy("pyarrow.parquet")  # the catalog reads the `Config` without it

KIND = "wfs"
#: Features hashed at each end of the layer by the `checksum` fingerprint.
CHECKSUM_FEATURES = 100
_KEYS = "`layer`, puis `geometry`, `updated_at` et `checksum`"


class WfsLocator(BaseModel):
    """A layer of the WFS (`locator:` in the catalog).

    Attributes:
        layer: Layer name, with or without its prefix (`lieux` or `ms:lieux`).
        geometry: Text columns written from the geometry (default: `geometry`, GeoJSON in WGS84).
        updated_at: Attribute holding each feature's last modification (ISO 8601 text or date): when its
            newest value and the count did not move, the layer is not downloaded again.
        checksum: Without `updated_at`: skip the download when the count and the first and last features
            are unchanged (a change in the middle of an unchanged-size layer goes unseen until the next
            change at its ends, hence off by default).
    """

    model_config = ConfigDict(extra="forbid")

    layer: str = Field(min_length=1)
    geometry: GeometryOutput = Field(default_factory=GeometryOutput)
    updated_at: str | None = None
    checksum: bool = False


class WfsConfig(FeatureServiceConfig):
    """A WFS endpoint.

    Attributes:
        version: WFS version to speak; default: the highest the server offers.
    """

    version: Literal["2.0.0", "1.1.0", "1.0.0"] | None = None


class WfsSource:
    """Reads the layers of a WFS as datasets."""

    kind: ClassVar[str] = KIND
    #: The keys of a dataset's `locator:`, checked when the catalog is loaded.
    Locator: ClassVar[type[BaseModel]] = WfsLocator
    Config: ClassVar[type[BaseModel]] = WfsConfig

    def __init__(self, config: WfsConfig) -> None:
        self.config = config
        url = reveal(config.url, what="l'URL du WFS")
        self.http = HttpClient(timeout=config.timeout, retries=config.retries, connector=KIND)
        self.client = WfsClient(url, self.http, max_bytes=config.max_response_bytes, version=config.version)

    def __repr__(self) -> str:
        return f"WfsSource({self.client.where})"

    def check(self) -> None:
        """GetCapabilities answers and lists at least one layer.

        Raises:
            ConnectorError: Unreachable, an exception report, or not a WFS.
        """
        caps = tagged(KIND, self.client.capabilities)
        if not caps.layers:
            raise RejectedError(f"le WFS {self.client.where} ne liste aucune couche", connector=KIND)

    def discover(self) -> Iterator[DatasetDescriptor]:
        """Yield one dataset per layer, with the title, description and keywords of the capabilities."""
        layers = tagged(KIND, self.client.capabilities).layers
        for layer, dataset_id in zip(layers, unique_slugs((ft.name.rpartition(":")[2] for ft in layers),
                                                          default="layer"), strict=True):
            known = {"title": layer.title, "description": layer.abstract, "keywords": list(layer.keywords)}
            yield DatasetDescriptor(id=dataset_id, locator={"layer": layer.name},
                                    metadata=DatasetMetadata(**{k: v for k, v in known.items() if v}))

    def extract(self, dataset: DatasetDescriptor, dest: Path) -> Extract:
        """Page the layer into `dest/<id>.parquet`: attributes as text, geometry as GeoJSON in WGS84.

        Raises:
            ConfigError: Bad locator.
            NotFoundError: No such layer (the message lists the server's).
            RejectedError: Exception report, unreadable answer, or fewer features than the server matched.
            UnavailableError: The server failed after retries (retryable).
        """
        locator = parse_locator(WfsLocator, dataset, KIND, _KEYS)
        dest.mkdir(parents=True, exist_ok=True)
        out = dest / f"{dataset.id}.parquet"
        layer = tagged(KIND, lambda: harvest_layer(self.client, locator.layer, out, page_size=self.config.page_size,
                                                   max_pages=self.config.max_pages, output=locator.geometry,
                                                   dataset_id=dataset.id))
        if locator.updated_at:
            newest = _newest_value(out, locator.updated_at)
            if newest:  # the layer's last change, which portals show (Opendatasoft requires it)
                layer.metadata["modified"] = newest
        return Extract(path=out, rows=layer.rows, metadata=layer.metadata, geometry=layer.geometry,
                       notes=layer.notes, first_row=1)

    def fingerprint(self, dataset: DatasetDescriptor) -> str | None:
        """A short text that changes when the layer's features do, or None when the server cannot tell.

        Raises:
            ConfigError, NotFoundError, RejectedError, UnavailableError: As `extract`.
        """
        locator = parse_locator(WfsLocator, dataset, KIND, _KEYS)
        if locator.updated_at:
            return tagged(KIND, lambda: self._newest(locator, dataset.id))
        if locator.checksum:
            return tagged(KIND, lambda: self._checksum(locator, dataset.id))
        return None

    def _newest(self, locator: WfsLocator, dataset_id: str) -> str | None:
        """`max(updated_at)|count`, from one feature sorted descending, confirmed by a filter counting newer ones."""
        plan = plan_layer(self.client, locator.layer, 1)
        if not plan.version.startswith("2"):
            return None  # SORTBY and numberMatched are WFS 2.0
        attribute = locator.updated_at or ""
        params = {**plan.params(0, 1), "SORTBY": f"{attribute} DESC"}
        page = read_page(self.client.get_feature(params, dataset_id=dataset_id), plan, what="la réponse GetFeature",
                         where=self.client.where)
        if page.matched is None:
            return None
        if not page.properties:
            return f"|{page.matched}"
        newest = page.properties[0].get(attribute)
        if newest is None:
            raise RejectedError(f"la couche WFS {plan.layer.name} n'a pas d'attribut {attribute!r} (`updated_at`) ; "
                                f"ses attributs : {', '.join(page.properties[0])}", dataset_id=dataset_id,
                                connector=KIND)
        fes = ('<fes:Filter xmlns:fes="http://www.opengis.net/fes/2.0"><fes:PropertyIsGreaterThan>'
               f"<fes:ValueReference>{escape(attribute)}</fes:ValueReference><fes:Literal>{escape(newest)}"
               "</fes:Literal></fes:PropertyIsGreaterThan></fes:Filter>")
        newer = read_page(self.client.get_feature({**plan.params(0, 1), "FILTER": fes}, dataset_id=dataset_id),
                          plan, what="la réponse GetFeature", where=self.client.where)
        if newer.matched != 0:  # the server did not sort: its first feature is not the newest
            return None
        return f"{newest}|{page.matched}"

    def _checksum(self, locator: WfsLocator, dataset_id: str) -> str | None:
        """`count|sha256` of the first and last `CHECKSUM_FEATURES` features."""
        plan = plan_layer(self.client, locator.layer, CHECKSUM_FEATURES)
        digest = hashlib.sha256()
        first = read_page(self.client.get_feature(plan.params(0, plan.page), dataset_id=dataset_id), plan,
                          what="la réponse GetFeature", where=self.client.where)
        if first.matched is None:
            return None
        pages = [first]
        if first.matched > plan.page:
            start = first.matched - plan.page
            pages.append(read_page(self.client.get_feature(plan.params(start, plan.page), dataset_id=dataset_id),
                                   plan, what="la réponse GetFeature", where=self.client.where))
        for page in pages:
            for props, wkb in zip(page.properties, page.wkb, strict=True):
                digest.update(repr(sorted(props.items())).encode() + (wkb or b""))
        return f"{first.matched}|{digest.hexdigest()[:16]}"


def _newest_value(path: Path, column: str) -> str | None:
    """The largest ISO 8601 date or date-time of a text column (None when absent or not a date)."""
    if column not in pq.read_schema(path).names:
        return None
    values = [v for v in pq.read_table(path, columns=[column]).column(column).to_pylist() if v]
    newest = max(values, default=None)
    try:
        return dt.datetime.fromisoformat(newest).isoformat() if newest else None
    except ValueError:
        return None
