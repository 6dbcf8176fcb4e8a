"""The `wfs` source against a real QGIS Server 3.22, the second WFS implementation after MapServer.

The same GeoPackage as the MapServer tests (1,200 Lambert-93 points near Lille, 16 polygons), published by
a QGIS project. QGIS Server 3.22 speaks WFS 1.0.0 and 1.1.0 (no 2.0), never caps a page, counts only with
`resultType=hits`, and writes its GeoJSON in WGS84 whatever `SRSNAME` asks (RFC 7946): read as the
Lambert-93 it was asked in, Lille would land in the Gulf of Guinea.
"""

from __future__ import annotations

import dataclasses
import json
import re
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pyarrow.parquet as pq
import pytest
import requests
import shapely
from pydantic import SecretStr

from moisson.connectors.base import DatasetDescriptor
from moisson.connectors.sources.wfs import WfsSource
from moisson.connectors.sources.wfs.layer import plan_layer, read_page
from tests.fakes.proxy import Proxy, Seen
from tests.peers import mapserver_peer, qgis_peer
from tests.peers.mapserver_peer import LayerData

N_POINTS = 1200
PAGE = 500
TOLERANCE = 1e-6  # QGIS writes 6 decimals of a degree in its GeoJSON (about 10 cm)
GML3 = "text/xml; subtype=gml/3.1.1"

pytestmark = pytest.mark.skipif(not qgis_peer.available(),
                                reason="QGIS Server is not installed: run scripts/peer-qgis-server")


@pytest.fixture(scope="module")
def layer(tmp_path_factory: pytest.TempPathFactory) -> LayerData:
    return mapserver_peer.write_layer_data(tmp_path_factory.mktemp("qgis-layer"), N_POINTS)


@pytest.fixture(scope="module")
def qgis_url(layer, tmp_path_factory) -> Iterator[str]:
    with qgis_peer.running_qgis_server(tmp_path_factory.mktemp("qgis"), layer) as url:
        yield url


@pytest.fixture
def proxy(qgis_url) -> Iterator[Proxy]:
    p = Proxy(qgis_url, prefix="/ows")
    yield p
    p.close()


def without_geojson(seen: Seen, status: int, body: bytes) -> tuple[int, bytes] | None:
    """A QGIS Server offering GML only: GeoJSON struck from its capabilities (1.1 `ows:Value`, 1.0 element)."""
    if "GetCapabilities" not in seen.query:
        return None
    return status, re.sub(rb"<ows:Value>application/vnd\.geo\+json</ows:Value>|<GeoJSON\s*/>", b"", body)


def source(url: str, **config: Any) -> WfsSource:
    return WfsSource(WfsSource.Config(url=SecretStr(url), retries=0, page_size=PAGE, **config))


def dataset(layer: str = "lieux") -> DatasetDescriptor:
    return DatasetDescriptor(id="lieux-lille", locator={"layer": layer})


def rows_of(result) -> list[dict]:
    return pq.read_table(result.path).to_pylist()


def hits(url: str, layer: str = "lieux") -> int:
    """What QGIS Server says it matches (`resultType=hits`, WFS 1.1), asked without moisson."""
    answer = requests.get(url, params={"SERVICE": "WFS", "VERSION": "1.1.0", "REQUEST": "GetFeature",
                                       "TYPENAME": layer, "RESULTTYPE": "hits"}, timeout=60)
    return int(re.search(rb'numberOfFeatures="([0-9]+)"', answer.content)[1])


def formats_asked(proxy: Proxy) -> set[str]:
    """The OUTPUTFORMAT of the GetFeature requests that went through `proxy`."""
    return {q.get("OUTPUTFORMAT", "") for s in proxy.seen if "GetFeature" in s.query
            for q in [{k.upper(): v for k, v in urllib.parse.parse_qsl(s.query)}]}


def test_qgis_server_offers_wfs_1_1_and_1_0_and_both_layers(qgis_url):
    wfs = source(qgis_url)
    assert wfs.client.version == "1.1.0"  # the highest it answers, asked for 2.0.0 first
    found = {d.id: d for d in wfs.discover()}
    assert set(found) == {"lieux", "zones"}
    assert found["lieux"].locator == {"layer": "lieux"} and found["zones"].metadata.title == "zones"


@pytest.mark.parametrize("version", [None, "1.0.0"])
@pytest.mark.parametrize("geojson", [True, False], ids=["geojson", "gml"])
def test_every_version_and_format_pages_the_whole_layer_with_lon_lat_right(proxy, qgis_url, layer, version,
                                                                         geojson, tmp_path):
    if not geojson:
        proxy.fault = without_geojson
    result = source(proxy.url, **({"version": version} if version else {})).extract(dataset(), tmp_path)
    assert result.rows == N_POINTS == hits(qgis_url)  # collected == matched
    assert result.metadata["extras"]["source"]["wfs"] == (version or "1.1.0")
    # The names its capabilities give: MIME types in 1.1, element names in 1.0.
    names = ("GeoJSON", "GML3") if version == "1.0.0" else ("application/vnd.geo+json", GML3)
    assert formats_asked(proxy) == {names[0] if geojson else names[1]}
    rows = rows_of(result)
    assert [r["code"] for r in rows] == [p.code for p in layer.points]
    for row, point in zip(rows, layer.points, strict=True):
        assert (row["name"], row["type"], row["population"]) == (point.name, point.type, str(point.population))
        lon, lat = json.loads(row["geometry"])["coordinates"]
        assert 2.9 < lon < 3.2 and 50.5 < lat < 50.8, (row["code"], lon, lat)  # Lille, not the sea
        assert abs(lon - point.lon) <= TOLERANCE and abs(lat - point.lat) <= TOLERANCE, (row["code"], lon, lat)
    # No cap on QGIS's side: pages of page_size, then the empty page that ends an uncounted layer (besides
    # them, only the page asked ahead while the last one was read).
    starts = {int(q["STARTINDEX"]) for s in proxy.seen if "GetFeature" in s.query
              for q in [{k.upper(): v for k, v in urllib.parse.parse_qsl(s.query)}]}
    assert {0, 500, 1000, 1200} <= starts <= {0, 500, 1000, 1200, 1500, 1700}, starts
    assert proxy.count("GetCapabilities") == 1


@pytest.mark.parametrize("geojson", [True, False], ids=["geojson", "gml"])
def test_polygons_are_reprojected_ring_by_ring(proxy, layer, geojson, tmp_path):
    if not geojson:
        proxy.fault = without_geojson
    rows = rows_of(source(proxy.url).extract(dataset("zones"), tmp_path))
    layer.assert_polygons(rows, TOLERANCE)


def test_attributes_are_typed_from_describefeaturetype(qgis_url, tmp_path):
    result = source(qgis_url).extract(dataset(), tmp_path)
    types = {f["name"]: f["type"] for f in result.metadata["extras"]["source"]["fields"]}
    assert {k: types[k] for k in ("code", "name", "population")} == {"code": "string", "name": "string",
                                                                      "population": "integer"}


def test_gml_in_the_urn_crs_comes_latitude_first_and_is_read_longitude_first(qgis_url, layer):
    client = source(qgis_url).client
    plan = dataclasses.replace(plan_layer(client, "lieux", 3), fmt=GML3, srs="urn:ogc:def:crs:EPSG::4326")
    data = client.get_feature(plan.params(0, 3))
    first = layer.points[0]
    assert re.search(rb"<pos[^>]*>50\.6[0-9]* 2\.9", data), data[:2000]  # QGIS writes latitude first here
    page = read_page(data, plan, what="GetFeature", where="qgis")
    assert page.crs == 4326
    point = shapely.from_wkb(page.wkb[0])
    assert abs(point.x - first.lon) <= TOLERANCE and abs(point.y - first.lat) <= TOLERANCE


def test_a_project_whose_crs_is_only_an_epsg_id_still_lands_in_lille(layer, tmp_path_factory, tmp_path):
    # QGIS 3.22 then transforms nothing: metres in its GeoJSON, and metres in its "WGS84" bounding box.
    crs = '<spatialrefsys nativeFormat="Wkt"><authid>EPSG:2154</authid></spatialrefsys>'
    with qgis_peer.running_qgis_server(tmp_path_factory.mktemp("qgis-authid"), layer, crs=crs) as url:
        proxy = Proxy(url, prefix="/ows")
        try:
            result = source(proxy.url).extract(dataset(), tmp_path)
        finally:
            proxy.close()
    assert formats_asked(proxy) == {"application/vnd.geo+json"}
    for row, point in zip(rows_of(result), layer.points, strict=True):
        lon, lat = json.loads(row["geometry"])["coordinates"]
        assert abs(lon - point.lon) <= TOLERANCE and abs(lat - point.lat) <= TOLERANCE, (row["code"], lon, lat)
