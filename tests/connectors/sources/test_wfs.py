"""The `wfs` source against a real MapServer 8 (WFS 1.0.0, 1.1.0, 2.0.0), with a fault proxy in front.

The layer is 1,200 Lambert-93 points near Lille whose WGS84 lon/lat the peer computed with the exact
projection formulas, served with `wfs_maxfeatures 500`: every harvest must page, reproject and keep
the axes right (swapped, Lille's points would land in the Indian Ocean, lon ≈ 50.6, lat ≈ 3.0).
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from typing import Any, ClassVar

import pyarrow.parquet as pq
import pytest
from pydantic import SecretStr

from moisson.connectors.base import DatasetDescriptor
from moisson.connectors.sources.wfs import WfsSource
from moisson.connectors.sources.wfs.gml import epsg_code, lat_first
from moisson.connectors.sources.wfs.layer import plan_layer, read_page
from moisson.connectors.testing import SourceContract
from moisson.core.errors import NotFoundError, RejectedError, UnavailableError
from tests.fakes.proxy import Proxy, Seen
from tests.peers import mapserver_peer
from tests.peers.mapserver_peer import LayerData

N_POINTS = 1200
MAXFEATURES = 500
TOLERANCE = 1e-6  # MapServer writes 6 decimals of a degree in EPSG:4326 GML (about 10 cm)

pytestmark = pytest.mark.skipif(not mapserver_peer.available(),
                                reason="MapServer's mapserv is not installed: run scripts/peer-mapserver")


@pytest.fixture(scope="module")
def layer(tmp_path_factory: pytest.TempPathFactory) -> LayerData:
    return mapserver_peer.write_layer_data(tmp_path_factory.mktemp("wfs-layer"), N_POINTS)


def _server(layer: LayerData, tmp_path_factory: pytest.TempPathFactory, name: str, **options: Any) -> Iterator[str]:
    with mapserver_peer.running_mapserver(tmp_path_factory.mktemp(name), data=layer, maxfeatures=MAXFEATURES,
                                          **options) as url:
        yield url


@pytest.fixture(scope="module")
def ms_url(layer, tmp_path_factory) -> Iterator[str]:
    """GML 2, GML 3 and GeoJSON offered; default CRS Lambert-93."""
    yield from _server(layer, tmp_path_factory, "ms")


@pytest.fixture(scope="module")
def gml_url(layer, tmp_path_factory) -> Iterator[str]:
    """Only GML offered (no GeoJSON)."""
    yield from _server(layer, tmp_path_factory, "ms-gml", formats=("gml2", "gml3"))


@pytest.fixture(scope="module")
def wgs84_url(layer, tmp_path_factory) -> Iterator[str]:
    """Only GML, default CRS EPSG:4326: WFS 1.1/2.0 answer latitude first, 1.0 longitude first."""
    yield from _server(layer, tmp_path_factory, "ms-wgs84", formats=("gml2", "gml3"), srs=("EPSG:4326", "EPSG:2154"))


@pytest.fixture(scope="module")
def uncounted_url(layer, tmp_path_factory) -> Iterator[str]:
    """As most MapServers are configured: no `wfs_compute_number_matched` (numberMatched="unknown")."""
    yield from _server(layer, tmp_path_factory, "ms-plain", compute_number_matched=False)


def source(url: str, **config: Any) -> WfsSource:
    wfs = WfsSource(WfsSource.Config(url=SecretStr(url), retries=config.pop("retries", 0), **config))
    wfs.http.sleep = lambda seconds: None  # retries without waiting
    return wfs


def dataset(layer: str = "lieux", **locator: Any) -> DatasetDescriptor:
    return DatasetDescriptor(id="lieux-lille", locator={"layer": layer, **locator})


def rows_of(result) -> list[dict]:
    return pq.read_table(result.path).to_pylist()


def assert_points(rows: list[dict], layer: LayerData) -> None:
    """Same features, same order, same attributes, WGS84 lon/lat to the centimetre."""
    assert [r["code"] for r in rows] == [p.code for p in layer.points]
    for row, point in zip(rows, layer.points, strict=True):
        assert (row["name"], row["type"], row["population"]) == (point.name, point.type, str(point.population))
        assert (row["created_on"], row["updated_at"]) == (point.created_on, point.updated_at)
        lon, lat = json.loads(row["geometry"])["coordinates"]
        assert 2.9 < lon < 3.2 and 50.5 < lat < 50.8, (lon, lat)  # Lille, not the Indian Ocean
        assert abs(lon - point.lon) <= TOLERANCE and abs(lat - point.lat) <= TOLERANCE, (row["code"], lon, lat)


class TestWfsSource(SourceContract):
    missing_locator: ClassVar[dict[str, Any]] = {"layer": "no_such_layer"}

    @pytest.fixture
    def source(self, ms_url):
        return source(ms_url)

    @pytest.fixture
    def dataset(self, source):
        return next(d for d in source.discover() if d.locator["layer"] == "ms:zones")


def test_discover_lists_layers_with_their_titles(ms_url):
    found = {d.id: d for d in source(ms_url).discover()}
    assert set(found) == {"lieux", "zones"}
    assert found["lieux"].locator == {"layer": "ms:lieux"} and found["lieux"].metadata.title == "Lieux"


@pytest.mark.parametrize("server", ["ms_url", "gml_url", "wgs84_url"])
@pytest.mark.parametrize("version", ["2.0.0", "1.1.0", "1.0.0"])
def test_every_version_format_and_crs_gives_the_same_points(request, server, version, layer, tmp_path):
    result = source(request.getfixturevalue(server), version=version).extract(dataset(), tmp_path)
    assert result.rows == N_POINTS and result.geometry == "geometry"
    assert_points(rows_of(result), layer)
    expected_format = "GeoJSON" if server == "ms_url" else "GML"
    assert f"WFS {version}, {expected_format}" in result.notes[0]
    west, south, east, north = result.metadata["spatial"]["bbox"]
    assert 2.9 < west < east < 3.2 and 50.5 < south < north < 50.8


@pytest.mark.parametrize("server", ["ms_url", "gml_url", "wgs84_url"])
def test_polygons_are_reprojected_ring_by_ring(request, server, layer, tmp_path):
    rows = rows_of(source(request.getfixturevalue(server)).extract(dataset("zones"), tmp_path))
    layer.assert_polygons(rows, TOLERANCE)


def test_attributes_are_typed_from_describefeaturetype(ms_url, tmp_path):
    result = source(ms_url).extract(dataset(), tmp_path)
    fields = result.metadata["extras"]["source"]["fields"]
    assert fields == [{"name": "code", "type": "string"}, {"name": "name", "type": "string"},
                      {"name": "type", "type": "string"}, {"name": "population", "type": "integer"},
                      {"name": "created_on", "type": "date"}, {"name": "updated_at", "type": "string"}]
    assert pq.read_schema(result.path).names == [f["name"] for f in fields] + ["geometry"]


def test_geometry_options_of_the_locator(ms_url, layer, tmp_path):
    result = source(ms_url).extract(dataset(geometry={"geometry_column": "geom", "lonlat": ["lon", "lat"],
                                                      "xy": "coordonneesxy"}), tmp_path)
    first = rows_of(result)[0]
    assert result.geometry == "geom" and abs(float(first["lon"]) - layer.points[0].lon) <= TOLERANCE
    assert json.loads(first["coordonneesxy"]) == [float(first["lon"]), float(first["lat"])]


def test_axis_order_rules():
    assert lat_first("urn:ogc:def:crs:EPSG::4326", "2.0.0") and lat_first("urn:ogc:def:crs:EPSG::4326", "1.1.0")
    assert lat_first("http://www.opengis.net/def/crs/EPSG/0/4326", "2.0.0")
    assert lat_first("EPSG:4326", "1.1.0") and not lat_first("EPSG:4326", "1.0.0")
    assert not lat_first("urn:ogc:def:crs:EPSG::2154", "2.0.0")  # Lambert-93 is easting first
    assert not lat_first("urn:ogc:def:crs:OGC:1.3:CRS84", "2.0.0") and epsg_code("CRS:84") == 4326
    assert epsg_code("http://www.opengis.net/gml/srs/epsg.xml#2154") == 2154


# --- paging ---------------------------------------------------------------------------------------------------


@pytest.fixture
def proxy(ms_url) -> Iterator[Proxy]:
    p = Proxy(ms_url, prefix="/ows")  # a path: a secret URL equal to its redacted host would be scrubbed whole
    yield p
    p.close()


def getfeature_params(proxy: Proxy) -> list[dict[str, str]]:
    found = [{k.upper(): v for k, v in urllib.parse.parse_qsl(s.query)} for s in proxy.seen]
    return [q for q in found if q.get("REQUEST") == "GetFeature"]


def test_pages_never_ask_more_than_countdefault_and_capabilities_are_read_once(proxy, layer, tmp_path):
    result = source(proxy.url, page_size=5000).extract(dataset(), tmp_path)
    assert result.rows == N_POINTS
    pages = getfeature_params(proxy)
    assert {p["COUNT"] for p in pages} == {str(MAXFEATURES)}
    assert [int(p["STARTINDEX"]) for p in pages] == [0, 500, 1000]
    assert proxy.count("GetCapabilities") == 1


def test_uncounted_layer_pages_until_an_empty_page(uncounted_url, layer, tmp_path):
    result = source(uncounted_url, page_size=400).extract(dataset(), tmp_path)
    assert_points(rows_of(result), layer)
    assert any("numberMatched inconnu" in n for n in result.notes)


def _json_fault(change):
    def fault(seen: Seen, status: int, body: bytes) -> tuple[int, bytes] | None:
        if "GetFeature" not in seen.query or not body.lstrip().startswith(b"{"):
            return None
        return change(seen, status, json.loads(body))
    return fault


def test_short_pages_are_followed_by_what_came_back(proxy, layer, tmp_path):
    def halve(seen, status, doc):
        doc["features"] = doc["features"][: max(1, len(doc["features"]) // 2)]
        return status, json.dumps(doc).encode()

    proxy.fault = _json_fault(halve)
    result = source(proxy.url).extract(dataset(), tmp_path)
    assert_points(rows_of(result), layer)
    assert len(getfeature_params(proxy)) > 3


def test_a_server_that_stops_early_fails_the_dataset_naming_the_shortfall(proxy, tmp_path):
    def stop(seen, status, doc):
        if "STARTINDEX=1000" in seen.query.upper():
            doc["features"] = []
        return status, json.dumps(doc).encode()

    proxy.fault = _json_fault(stop)
    with pytest.raises(RejectedError) as info:
        source(proxy.url).extract(dataset(), tmp_path)
    assert "annonçait 1200 objets mais en a servi 1000 (200 manquant(s))" in info.value.message
    assert "127.0.0.1" in info.value.message and info.value.dataset_id == "lieux-lille"
    assert list(tmp_path.iterdir()) == []  # nothing half-written is left


def test_a_server_ignoring_startindex_is_refused(proxy, tmp_path):
    first: list[bytes] = []

    def same(seen, status, doc):
        first.append(json.dumps(doc).encode()) if not first else None
        return status, first[0]

    proxy.fault = _json_fault(same)
    with pytest.raises(RejectedError, match="ignore STARTINDEX"):
        source(proxy.url).extract(dataset(), tmp_path)


def test_a_500_mid_harvest_is_retried(proxy, layer, tmp_path):
    failed: list[str] = []

    def once(seen, status, body):
        if "STARTINDEX=500" in seen.query.upper() and not failed:
            failed.append(seen.query)
            return 500, b"Internal Server Error"
        return None

    proxy.fault = once
    result = source(proxy.url, retries=2).extract(dataset(), tmp_path)
    assert failed and result.rows == N_POINTS
    assert_points(rows_of(result), layer)


def test_a_lasting_500_is_retryable_and_leaves_nothing(proxy, tmp_path):
    proxy.fault = lambda seen, status, body: (503, b"down") if "STARTINDEX=500" in seen.query.upper() else None
    with pytest.raises(UnavailableError) as info:
        source(proxy.url, retries=1).extract(dataset(), tmp_path)
    assert info.value.retryable and "127.0.0.1" in info.value.message
    assert list(tmp_path.iterdir()) == []


EXCEPTION_200 = (b'<?xml version="1.0" encoding="UTF-8"?><ows:ExceptionReport xmlns:ows="http://www.opengis.net/ows/1.1"'
                 b' version="2.0.0"><ows:Exception exceptionCode="OperationProcessingFailed" locator="typenames">'
                 b"<ows:ExceptionText>msWFSGetFeature(): backend database unavailable</ows:ExceptionText>"
                 b"</ows:Exception></ows:ExceptionReport>")


def test_an_exception_report_with_status_200_names_the_host_and_the_message(proxy, tmp_path):
    proxy.fault = lambda seen, status, body: (200, EXCEPTION_200) if "GetFeature" in seen.query else None
    with pytest.raises(RejectedError) as info:
        source(proxy.url).extract(dataset(), tmp_path)
    message = info.value.message
    assert "127.0.0.1" in message and "OperationProcessingFailed" in message
    assert "backend database unavailable" in message


def test_the_servers_own_400_exception_is_quoted(ms_url):
    # MapServer refuses CRS:84 in WFS 2.0 with HTTP 400 and an ows:ExceptionReport.
    wfs = source(ms_url)
    plan = plan_layer(wfs.client, "lieux", 10)
    plan.srs = "CRS:84"
    data = wfs.client.get_feature(plan.params(0, 10))
    with pytest.raises(RejectedError) as info:
        read_page(data, plan, what="la réponse GetFeature", where=wfs.client.where)
    assert "InvalidParameterValue (paramètre srsname)" in info.value.message and "127.0.0.1" in info.value.message


def test_slow_answers_fail_within_the_timeout(proxy, tmp_path):
    release = threading.Event()

    def stall(seen, status, body):
        if "GetFeature" in seen.query:
            release.wait(120)
        return None

    proxy.fault = stall
    try:
        with pytest.raises(UnavailableError, match="n'a pas envoyé toute sa réponse en"):
            source(proxy.url, timeout=10).extract(dataset(), tmp_path)
    finally:
        release.set()


def test_unknown_layer_lists_the_servers_layers(ms_url, tmp_path):
    with pytest.raises(NotFoundError) as info:
        source(ms_url).extract(dataset("arceaux"), tmp_path)
    assert "ms:lieux, ms:zones" in info.value.message


# --- incremental ----------------------------------------------------------------------------------------------


def test_fingerprint_follows_updated_at_and_the_count(tmp_path):
    data = mapserver_peer.write_layer_data(tmp_path / "data", 300)
    with mapserver_peer.running_mapserver(tmp_path / "ms", data=data, maxfeatures=100) as url:
        wfs = source(url)
        by_date = dataset(updated_at="updated_at")
        first = wfs.fingerprint(by_date)
        assert first == f"{max(p.updated_at for p in data.points)}|300"
        assert wfs.fingerprint(by_date) == first
        summed = wfs.fingerprint(dataset(checksum=True))
        assert summed and summed.startswith("300|") and wfs.fingerprint(dataset(checksum=True)) == summed
        assert wfs.fingerprint(dataset()) is None
        mapserver_peer.write_layer_data(tmp_path / "data", 301)  # one feature more, same file
        assert wfs.fingerprint(by_date) != first
        assert wfs.fingerprint(dataset(checksum=True)) != summed


def test_updated_at_gives_the_layers_modified_date(ms_url, layer, tmp_path):
    result = source(ms_url).extract(dataset(updated_at="updated_at"), tmp_path)
    newest = max(p.updated_at for p in layer.points)
    assert result.metadata["modified"] == newest.replace("Z", "+00:00")
