"""Real OGC map servers as test peers: MapServer 8 (WFS 1.0.0/1.1.0/2.0.0) and pygeoapi (OGC API - Features).

These tests pin down how the real servers behave (names, formats, paging, axis orders, exceptions) for a
future WFS / OGC API Features source. They need `scripts/peer-mapserver` and `scripts/peer-pygeoapi`, and
only the stdlib and pytest in the interpreter that runs them.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.peers import mapserver_peer, pygeoapi_peer
from tests.peers.mapserver_peer import LayerData, PointFeature

N_POINTS = 2500
MAXFEATURES = 500
NS = {
    "wfs": "http://www.opengis.net/wfs/2.0",
    "wfs11": "http://www.opengis.net/wfs",
    "wfs10": "http://www.opengis.net/wfs",
    "ows": "http://www.opengis.net/ows/1.1",
    "ows10": "http://www.opengis.net/ows",
    "gml": "http://www.opengis.net/gml/3.2",
    "gml31": "http://www.opengis.net/gml",
    "ms": "http://mapserver.gis.umn.edu/mapserver",
    "xsd": "http://www.w3.org/2001/XMLSchema",
}
GEOJSON_MIME = "application/json; subtype=geojson"
URN_4326 = "urn:ogc:def:crs:EPSG::4326"

needs_mapserver = pytest.mark.skipif(not mapserver_peer.available(),
                                     reason="MapServer's mapserv is not installed: run scripts/peer-mapserver")
needs_pygeoapi = pytest.mark.skipif(not pygeoapi_peer.available(),
                                    reason="pygeoapi's venv is missing: run scripts/peer-pygeoapi")


def fetch(url: str, params: dict[str, str] | None = None) -> tuple[int, str, bytes]:
    """GET `url` with `params`; returns (status, content type, body) without raising on HTTP errors."""
    if params:
        url += ("&" if "?" in url else "?") + urllib.parse.urlencode(params)
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read()


def wfs(url: str, version: str, request: str, **params: str) -> tuple[int, str, bytes]:
    return fetch(url, {"SERVICE": "WFS", "VERSION": version, "REQUEST": request, **params})


def xml(body: bytes) -> ET.Element:
    return ET.fromstring(body)


def members(root: ET.Element) -> list[ET.Element]:
    """Features of a WFS 2.0 (wfs:member) or 1.x (gml:featureMember) FeatureCollection."""
    found = root.findall("wfs:member/*", NS) or root.findall("gml31:featureMember/*", NS)
    return found or root.findall("gml:featureMember/*", NS)


def gml_ids(root: ET.Element) -> list[str]:
    ids = []
    for feature in members(root):
        ident = feature.get(f"{{{NS['gml']}}}id") or feature.get(f"{{{NS['gml31']}}}id") or feature.get("fid")
        ids.append(ident or "")
    return ids


def assert_close(actual: tuple[float, float], expected: tuple[float, float], tol: float) -> None:
    assert abs(actual[0] - expected[0]) <= tol and abs(actual[1] - expected[1]) <= tol, (actual, expected)


@pytest.fixture(scope="module")
def layer(tmp_path_factory: pytest.TempPathFactory) -> LayerData:
    return mapserver_peer.write_layer_data(tmp_path_factory.mktemp("layer"), N_POINTS)


@pytest.fixture(scope="module")
def ms_url(layer: LayerData, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """MapServer with `wfs_compute_number_matched` on, default CRS EPSG:2154."""
    if not mapserver_peer.available():
        pytest.skip("MapServer's mapserv is not installed: run scripts/peer-mapserver")
    with mapserver_peer.running_mapserver(tmp_path_factory.mktemp("ms"), data=layer, maxfeatures=MAXFEATURES) as url:
        yield url


@pytest.fixture(scope="module")
def ms_plain_url(layer: LayerData, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """MapServer as most are configured: no `wfs_compute_number_matched`."""
    if not mapserver_peer.available():
        pytest.skip("MapServer's mapserv is not installed: run scripts/peer-mapserver")
    with mapserver_peer.running_mapserver(tmp_path_factory.mktemp("ms-plain"), data=layer, maxfeatures=MAXFEATURES,
                                          compute_number_matched=False) as url:
        yield url


@pytest.fixture(scope="module")
def ms_wgs84_url(layer: LayerData, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """MapServer whose first `wfs_srs` is EPSG:4326: the only CRS WFS 1.0.0 can answer in."""
    if not mapserver_peer.available():
        pytest.skip("MapServer's mapserv is not installed: run scripts/peer-mapserver")
    with mapserver_peer.running_mapserver(tmp_path_factory.mktemp("ms-wgs84"), data=layer, maxfeatures=MAXFEATURES,
                                          srs=("EPSG:4326", "EPSG:2154")) as url:
        yield url


@pytest.fixture(scope="module")
def api_url(layer: LayerData, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not pygeoapi_peer.available():
        pytest.skip("pygeoapi's venv is missing: run scripts/peer-pygeoapi")
    with pygeoapi_peer.running_pygeoapi(tmp_path_factory.mktemp("pygeoapi"), data=layer, max_items=MAXFEATURES) as url:
        yield url


# --- generated data -----------------------------------------------------------------------------------------


def test_generated_layer_is_deterministic_and_near_lille(layer: LayerData, tmp_path: Path) -> None:
    again = mapserver_peer.write_layer_data(tmp_path, N_POINTS)
    assert again.points == layer.points and again.polygons == layer.polygons
    assert len({p.code for p in layer.points}) == N_POINTS
    assert all(2.9 < p.lon < 3.2 and 50.55 < p.lat < 50.71 for p in layer.points)
    # The hand-written inverse projection agrees with the forward one to the micrometre.
    first = layer.points[0]
    x, y = mapserver_peer.wgs84_to_lambert93(first.lon, first.lat)
    assert_close((x, y), (first.x, first.y), 1e-6)


# --- MapServer: capabilities --------------------------------------------------------------------------------


@needs_mapserver
def test_wfs20_capabilities_qualified_names_and_mime_formats(ms_url: str) -> None:
    status, ctype, body = wfs(ms_url, "2.0.0", "GetCapabilities")
    assert status == 200 and ctype == "text/xml; charset=UTF-8"
    root = xml(body)
    types = {ft.findtext("wfs:Name", namespaces=NS): ft
             for ft in root.iterfind("wfs:FeatureTypeList/wfs:FeatureType", NS)}
    assert set(types) == {"ms:lieux", "ms:zones"}  # WFS 2.0 names are prefixed with the namespace prefix `ms`
    lieux = types["ms:lieux"]
    assert lieux.findtext("wfs:DefaultCRS", namespaces=NS) == "urn:ogc:def:crs:EPSG::2154"
    assert [e.text for e in lieux.iterfind("wfs:OtherCRS", NS)] == [URN_4326, "urn:ogc:def:crs:EPSG::3857"]
    formats = [e.text for e in lieux.iterfind("wfs:OutputFormats/wfs:Format", NS)]
    # Formats are listed by MIME type, not by OUTPUTFORMAT name: "geojson" is only the mapfile's name.
    assert formats == ["application/gml+xml; version=3.2", "text/xml; subtype=gml/3.2.1",
                       "text/xml; subtype=gml/3.1.1", "text/xml; subtype=gml/2.1.2", GEOJSON_MIME]
    getfeature = root.find("ows:OperationsMetadata/ows:Operation[@name='GetFeature']", NS)
    allowed = [v.text for v in
               getfeature.iterfind("ows:Parameter[@name='outputFormat']/ows:AllowedValues/ows:Value", NS)]
    assert allowed == formats
    constraints = {c.get("name"): c.findtext("ows:DefaultValue", namespaces=NS)
                   for c in root.iterfind("ows:OperationsMetadata/ows:Constraint", NS)}
    assert constraints["CountDefault"] == str(MAXFEATURES)
    assert constraints["ImplementsResultPaging"] == "TRUE"
    assert constraints["PagingIsTransactionSafe"] == "FALSE"
    operations = {op.get("name") for op in root.iterfind("ows:OperationsMetadata/ows:Operation", NS)}
    assert {"GetCapabilities", "DescribeFeatureType", "GetFeature", "GetPropertyValue"} <= operations


@needs_mapserver
def test_wfs11_and_wfs10_capabilities(ms_url: str) -> None:
    _, _, body = wfs(ms_url, "1.1.0", "GetCapabilities")
    root = xml(body)
    names = [e.text for e in root.iterfind("wfs11:FeatureTypeList/wfs11:FeatureType/wfs11:Name", NS)]
    assert names == ["lieux", "zones"]  # WFS 1.1.0: unqualified
    lieux = root.find("wfs11:FeatureTypeList/wfs11:FeatureType", NS)
    assert lieux.findtext("wfs11:DefaultSRS", namespaces=NS) == "urn:ogc:def:crs:EPSG::2154"
    # gml2 is in wfs_getfeature_formatlist but WFS 1.1.0 lists only GML 3.1.1 and the OGR formats.
    assert [e.text for e in lieux.iterfind("wfs11:OutputFormats/wfs11:Format", NS)] == [
        "text/xml; subtype=gml/3.1.1", GEOJSON_MIME]
    max_features = root.find("ows10:OperationsMetadata/ows10:Constraint[@name='DefaultMaxFeatures']", NS)
    assert max_features.findtext("ows10:Value", namespaces=NS) == str(MAXFEATURES)

    _, _, body = wfs(ms_url, "1.0.0", "GetCapabilities")
    root = xml(body)
    assert [e.text for e in root.iterfind("wfs10:FeatureTypeList/wfs10:FeatureType/wfs10:Name", NS)] == [
        "lieux", "zones"]
    # WFS 1.0.0 lists formats by OUTPUTFORMAT *name*, as empty elements.
    result = root.find("wfs10:Capability/wfs10:Request/wfs10:GetFeature/wfs10:ResultFormat", NS)
    assert [child.tag.split("}")[1] for child in result] == ["GML2", "geojson"]
    lieux = root.find("wfs10:FeatureTypeList/wfs10:FeatureType", NS)
    assert lieux.findtext("wfs10:SRS", namespaces=NS) == "EPSG:2154"  # only the first wfs_srs
    # Surprise: LatLongBoundingBox is in the default SRS (Lambert-93 metres here), not in degrees.
    assert float(lieux.find("wfs10:LatLongBoundingBox", NS).get("minx")) > 600_000


@needs_mapserver
def test_wfs10_latlongboundingbox_is_degrees_when_4326_comes_first(ms_wgs84_url: str, layer: LayerData) -> None:
    _, _, body = wfs(ms_wgs84_url, "1.0.0", "GetCapabilities")
    box = xml(body).find("wfs10:FeatureTypeList/wfs10:FeatureType/wfs10:LatLongBoundingBox", NS)
    assert abs(float(box.get("minx")) - min(p.lon for p in layer.points)) < 1e-3
    assert abs(float(box.get("maxy")) - max(p.lat for p in layer.points)) < 1e-3


# --- MapServer: GetFeature, counts and paging ---------------------------------------------------------------


@needs_mapserver
def test_wfs20_without_count_returns_maxfeatures_and_total_number_matched(ms_url: str) -> None:
    status, ctype, body = wfs(ms_url, "2.0.0", "GetFeature", TYPENAMES="ms:lieux")
    assert status == 200 and ctype == 'text/xml; subtype="gml/3.2.1"; charset=UTF-8'
    root = xml(body)
    assert root.get("numberMatched") == str(N_POINTS)
    assert root.get("numberReturned") == str(MAXFEATURES) and len(members(root)) == MAXFEATURES
    assert root.get("next", "").endswith(f"STARTINDEX={MAXFEATURES}") and root.get("previous") is None
    assert gml_ids(root)[:2] == ["lieux.L00001", "lieux.L00002"]  # gml_featureid "code", fid order
    # COUNT above the cap is capped, not refused.
    root = xml(wfs(ms_url, "2.0.0", "GetFeature", TYPENAMES="ms:lieux", COUNT="3000")[2])
    assert root.get("numberReturned") == str(MAXFEATURES)
    # resultType=hits gives the true total here (wfs_compute_number_matched on).
    root = xml(wfs(ms_url, "2.0.0", "GetFeature", TYPENAMES="ms:lieux", RESULTTYPE="hits")[2])
    assert (root.get("numberMatched"), root.get("numberReturned")) == (str(N_POINTS), "0")


@needs_mapserver
def test_wfs20_paging_with_count_and_startindex_collects_all(ms_url: str, layer: LayerData) -> None:
    expected = [f"lieux.{p.code}" for p in layer.points]
    collected, start, pages = [], 0, 0
    while True:
        root = xml(wfs(ms_url, "2.0.0", "GetFeature", TYPENAMES="ms:lieux", COUNT="450", STARTINDEX=str(start),
                       OUTPUTFORMAT="application/gml+xml; version=3.2")[2])
        pages += 1
        assert root.get("numberMatched") == str(N_POINTS)
        ids = gml_ids(root)
        collected += ids
        if root.get("next") is None:
            break
        start += len(ids)
    assert collected == expected and pages == 6  # 5 x 450 + 250; the last page has no `next`
    assert root.get("numberReturned") == "250" and root.get("previous", "").endswith("STARTINDEX=1800")


@needs_mapserver
def test_wfs20_following_next_links_collects_all(ms_url: str, layer: LayerData) -> None:
    url: str | None = ms_url + "?" + urllib.parse.urlencode(
        {"SERVICE": "WFS", "VERSION": "2.0.0", "REQUEST": "GetFeature", "TYPENAMES": "ms:lieux"})
    collected, pages = [], 0
    while url:
        root = xml(fetch(url)[2])
        collected += gml_ids(root)
        pages += 1
        url = root.get("next")  # absolute, on the advertised ows_onlineresource
    # 2500 = 5 full pages of 500, and MapServer gives no `next` on the 5th: no empty page is needed.
    assert pages == 5 and collected == [f"lieux.{p.code}" for p in layer.points]


@needs_mapserver
def test_wfs20_without_compute_number_matched(ms_plain_url: str, layer: LayerData) -> None:
    root = xml(wfs(ms_plain_url, "2.0.0", "GetFeature", TYPENAMES="ms:lieux")[2])
    assert root.get("numberMatched") == "unknown" and root.get("numberReturned") == str(MAXFEATURES)
    # resultType=hits counts only up to the cap (or up to COUNT), so it cannot size a harvest.
    root = xml(wfs(ms_plain_url, "2.0.0", "GetFeature", TYPENAMES="ms:lieux", RESULTTYPE="hits")[2])
    assert root.get("numberMatched") == str(MAXFEATURES)
    root = xml(wfs(ms_plain_url, "2.0.0", "GetFeature", TYPENAMES="ms:lieux", RESULTTYPE="hits", COUNT="10")[2])
    assert root.get("numberMatched") == "10"
    # `next` is still exact: present before the last page, absent on a last page that is full.
    root = xml(wfs(ms_plain_url, "2.0.0", "GetFeature", TYPENAMES="ms:lieux", STARTINDEX="1999")[2])
    assert root.get("next", "").endswith("STARTINDEX=2499")
    root = xml(wfs(ms_plain_url, "2.0.0", "GetFeature", TYPENAMES="ms:lieux", STARTINDEX="2000")[2])
    assert root.get("numberReturned") == str(MAXFEATURES) and root.get("next") is None
    root = xml(wfs(ms_plain_url, "2.0.0", "GetFeature", TYPENAMES="ms:lieux", STARTINDEX=str(N_POINTS))[2])
    assert root.get("numberReturned") == "0" and members(root) == []
    # The GeoJSON output then has no numberMatched at all.
    doc = json.loads(wfs(ms_plain_url, "2.0.0", "GetFeature", TYPENAMES="ms:lieux", COUNT="3",
                         OUTPUTFORMAT="geojson")[2])
    assert "numberMatched" not in doc and len(doc["features"]) == 3


@needs_mapserver
def test_wfs11_maxfeatures_and_startindex(ms_url: str) -> None:
    status, ctype, body = wfs(ms_url, "1.1.0", "GetFeature", TYPENAME="lieux", MAXFEATURES="7")
    assert status == 200 and ctype == "text/xml; subtype=gml/3.1.1; charset=UTF-8"
    root = xml(body)
    assert len(members(root)) == 7 and root.get("numberOfFeatures") is None  # 1.1.0 results: no count at all
    assert len(members(xml(wfs(ms_url, "1.1.0", "GetFeature", TYPENAME="lieux", MAXFEATURES="3000")[2]))) == 500
    assert len(members(xml(wfs(ms_url, "1.1.0", "GetFeature", TYPENAME="lieux")[2]))) == 500
    # STARTINDEX works in 1.1.0 too (0-based), as a MapServer extension.
    root = xml(wfs(ms_url, "1.1.0", "GetFeature", TYPENAME="lieux", MAXFEATURES="2", STARTINDEX="10")[2])
    assert gml_ids(root) == ["lieux.L00011", "lieux.L00012"]
    # hits is capped by wfs_maxfeatures even with wfs_compute_number_matched on.
    root = xml(wfs(ms_url, "1.1.0", "GetFeature", TYPENAME="lieux", RESULTTYPE="hits")[2])
    assert root.get("numberOfFeatures") == str(MAXFEATURES)
    # WFS 1.0.0 honours MAXFEATURES as well.
    assert len(members(xml(wfs(ms_url, "1.0.0", "GetFeature", TYPENAME="lieux", MAXFEATURES="4")[2]))) == 4


# --- MapServer: coordinates and axis order ------------------------------------------------------------------


def _first_pos(root: ET.Element) -> tuple[float, float]:
    pos = root.find(".//gml:pos", NS)
    if pos is None:
        pos = root.find(".//gml31:pos", NS)
    a, b = pos.text.split()
    return float(a), float(b)


@needs_mapserver
@pytest.mark.parametrize(("version", "srsname", "echoed"), [
    ("2.0.0", URN_4326, URN_4326),
    ("2.0.0", "EPSG:4326", URN_4326),  # WFS 2.0: even the short form is latitude first (echoed as the URN)
    ("1.1.0", "EPSG:4326", "EPSG:4326"),  # WFS 1.1.0: latitude first too
    ("1.1.0", URN_4326, "EPSG:4326"),
])
def test_gml3_epsg4326_is_latitude_first(ms_url: str, layer: LayerData, version: str, srsname: str,
                                         echoed: str) -> None:
    first: PointFeature = layer.points[0]
    key = "TYPENAMES" if version == "2.0.0" else "TYPENAME"
    count = "COUNT" if version == "2.0.0" else "MAXFEATURES"
    root = xml(wfs(ms_url, version, "GetFeature", **{key: "lieux", count: "1", "SRSNAME": srsname})[2])
    point = root.find(".//gml:Point", NS)
    if point is None:
        point = root.find(".//gml31:Point", NS)
    assert point.get("srsName") == echoed
    assert_close(_first_pos(root), (first.lat, first.lon), 1e-6)  # 6 decimals are written


@needs_mapserver
def test_gml32_polygon_poslist_in_urn_4326_is_lat_lon(ms_url: str, layer: LayerData) -> None:
    zone = layer.polygons[0]
    root = xml(wfs(ms_url, "2.0.0", "GetFeature", TYPENAMES="ms:zones", COUNT="1", SRSNAME=URN_4326)[2])
    values = [float(v) for v in root.find(".//gml:posList", NS).text.split()]
    pairs = list(zip(values[::2], values[1::2], strict=True))
    assert len(pairs) == len(zone.ring_lonlat)
    for (lat, lon), (elon, elat) in zip(pairs, zone.ring_lonlat, strict=True):
        assert_close((lat, lon), (elat, elon), 1e-6)


@needs_mapserver
def test_default_crs_is_lambert93(ms_url: str, layer: LayerData) -> None:
    first = layer.points[0]
    root = xml(wfs(ms_url, "2.0.0", "GetFeature", TYPENAMES="ms:lieux", COUNT="1")[2])
    assert root.find(".//gml:Point", NS).get("srsName") == "urn:ogc:def:crs:EPSG::2154"
    assert_close(_first_pos(root), (first.x, first.y), 1e-6)


@needs_mapserver
def test_wfs10_ignores_srsname_and_4326_is_lon_lat(ms_url: str, ms_wgs84_url: str, layer: LayerData) -> None:
    first = layer.points[0]
    root = xml(wfs(ms_url, "1.0.0", "GetFeature", TYPENAME="lieux", MAXFEATURES="1", SRSNAME="EPSG:4326")[2])
    point = root.find(".//gml31:Point", NS)
    assert point.get("srsName") == "EPSG:2154"  # SRSNAME is not a WFS 1.0.0 parameter: the first wfs_srs wins
    x, y = (float(v) for v in point.findtext("gml31:coordinates", namespaces=NS).split(","))
    assert_close((x, y), (first.x, first.y), 1e-6)
    root = xml(wfs(ms_wgs84_url, "1.0.0", "GetFeature", TYPENAME="lieux", MAXFEATURES="1")[2])
    point = root.find(".//gml31:Point", NS)
    assert point.get("srsName") == "EPSG:4326"
    lon, lat = (float(v) for v in point.findtext("gml31:coordinates", namespaces=NS).split(","))
    assert_close((lon, lat), (first.lon, first.lat), 1e-6)  # GML 2 `x,y`: longitude first


@needs_mapserver
def test_unsupported_srsnames_are_refused(ms_url: str) -> None:
    for srsname in ("http://www.opengis.net/def/crs/EPSG/0/4326", "CRS:84"):
        status, _, body = wfs(ms_url, "2.0.0", "GetFeature", TYPENAMES="ms:lieux", COUNT="1", SRSNAME=srsname)
        exc = xml(body).find("ows:Exception", NS)
        assert (status, exc.get("exceptionCode"), exc.get("locator")) == (400, "InvalidParameterValue", "srsname")


# --- MapServer: GeoJSON and attributes ----------------------------------------------------------------------


@needs_mapserver
def test_geojson_output(ms_url: str, layer: LayerData) -> None:
    first = layer.points[0]
    for name in ("geojson", GEOJSON_MIME):  # by OUTPUTFORMAT name or by MIME type
        status, ctype, body = wfs(ms_url, "2.0.0", "GetFeature", TYPENAMES="ms:lieux", COUNT="2", OUTPUTFORMAT=name)
        assert status == 200 and ctype == GEOJSON_MIME
        doc = json.loads(body)
        assert doc["numberMatched"] == N_POINTS and "numberReturned" not in doc and "next" not in doc
        # Default CRS: Lambert-93 with a (pre-RFC 7946) `crs` member, full double precision.
        assert doc["crs"]["properties"]["name"] == "urn:ogc:def:crs:EPSG::2154"
        feature = doc["features"][0]
        assert "id" not in feature  # the gml_featureid is only in the properties
        assert feature["properties"] == {"code": first.code, "name": first.name, "type": first.type,
                                         "population": first.population, "created_on": first.created_on,
                                         "updated_at": first.updated_at}
        assert_close(tuple(feature["geometry"]["coordinates"]), (first.x, first.y), 1e-6)
    # In EPSG:4326 GeoJSON stays longitude first and drops the `crs` member, whatever the WFS version says for GML.
    doc = json.loads(wfs(ms_url, "2.0.0", "GetFeature", TYPENAMES="ms:lieux", COUNT="1", OUTPUTFORMAT="geojson",
                         SRSNAME=URN_4326)[2])
    assert "crs" not in doc
    assert_close(tuple(doc["features"][0]["geometry"]["coordinates"]), (first.lon, first.lat), 1e-6)


@needs_mapserver
def test_gml32_attributes(ms_url: str, layer: LayerData) -> None:
    first = layer.points[0]
    feature = members(xml(wfs(ms_url, "2.0.0", "GetFeature", TYPENAMES="ms:lieux", COUNT="1")[2]))[0]
    values = {child.tag.split("}")[1]: child for child in feature}
    assert list(values) == ["boundedBy", "msGeometry", "code", "name", "type", "population", "created_on", "updated_at"]
    assert values["name"].text == first.name and values["type"].text == first.type
    assert values["population"].text == str(first.population)
    assert values["updated_at"].text == first.updated_at  # a TEXT column: the string as stored
    # A DATE column becomes a GML time instant, not a plain xsd:date.
    assert values["created_on"].findtext("gml:timePosition", namespaces=NS) == first.created_on


@needs_mapserver
def test_describefeaturetype_attribute_types(ms_url: str) -> None:
    status, ctype, body = wfs(ms_url, "2.0.0", "DescribeFeatureType", TYPENAMES="ms:lieux,ms:zones")
    assert status == 200 and ctype == "application/gml+xml; version=3.2; charset=UTF-8"
    schema = xml(body)
    types = {ct.get("name"): {e.get("name"): e.get("type") for e in ct.iterfind(".//xsd:element", NS)}
             for ct in schema.iterfind("xsd:complexType", NS)}
    assert types == {
        "lieuxType": {"msGeometry": "gml:GeometryPropertyType", "code": "string", "name": "string",
                      "type": "string", "population": "long", "created_on": "gml:TimeInstantType",
                      "updated_at": "string"},
        "zonesType": {"msGeometry": "gml:GeometryPropertyType", "code": "string", "name": "string",
                      "area_m2": "double"},
    }
    assert {e.get("name"): e.get("substitutionGroup") for e in schema.iterfind("xsd:element", NS)} == {
        "lieux": "gml:AbstractFeature", "zones": "gml:AbstractFeature"}


@needs_mapserver
def test_filter_on_updated_at_string(ms_url: str, layer: LayerData) -> None:
    since = "2024-09-01T00:00:00Z"
    fes = ('<fes:Filter xmlns:fes="http://www.opengis.net/fes/2.0"><fes:PropertyIsGreaterThanOrEqualTo>'
           f"<fes:ValueReference>updated_at</fes:ValueReference><fes:Literal>{since}</fes:Literal>"
           "</fes:PropertyIsGreaterThanOrEqualTo></fes:Filter>")
    root = xml(wfs(ms_url, "2.0.0", "GetFeature", TYPENAMES="ms:lieux", FILTER=fes)[2])
    expected = [f"lieux.{p.code}" for p in layer.points if p.updated_at >= since]
    assert root.get("numberMatched") == str(len(expected)) and gml_ids(root) == expected


@needs_mapserver
def test_wfs20_post_getfeature_and_its_kvp_next_link(ms_url: str, layer: LayerData) -> None:
    body = (b'<wfs:GetFeature service="WFS" version="2.0.0" count="3" startIndex="5" '
            b'xmlns:wfs="http://www.opengis.net/wfs/2.0" xmlns:ms="http://mapserver.gis.umn.edu/mapserver">'
            b'<wfs:Query typeNames="ms:lieux"/></wfs:GetFeature>')
    request = urllib.request.Request(ms_url, data=body, headers={"Content-Type": "text/xml"})
    with urllib.request.urlopen(request, timeout=60) as response:
        root = xml(response.read())
    assert gml_ids(root) == [f"lieux.{p.code}" for p in layer.points[5:8]]
    assert root.get("numberMatched") == str(N_POINTS)
    # The `next` of a POST request is a KVP GET URL.
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(root.get("next")).query)
    assert (query["REQUEST"], query["TYPENAMES"], query["COUNT"], query["STARTINDEX"]) == (
        ["GetFeature"], ["ms:lieux"], ["3"], ["8"])
    assert query["OUTPUTFORMAT"] == ['text/xml; subtype="gml/3.2.1"']


# --- MapServer: exceptions ----------------------------------------------------------------------------------


@needs_mapserver
def test_exception_reports_and_their_http_status(ms_url: str) -> None:
    status, ctype, body = wfs(ms_url, "2.0.0", "GetFeature", TYPENAMES="ms:nope")
    root = xml(body)
    assert (status, ctype) == (400, "text/xml; charset=UTF-8")  # WFS 2.0: HTTP 400
    assert root.tag == f"{{{NS['ows']}}}ExceptionReport" and root.get("version") == "2.0.0"
    exc = root.find("ows:Exception", NS)
    assert (exc.get("exceptionCode"), exc.get("locator")) == ("InvalidParameterValue", "typename")
    assert "doesn't exist" in exc.findtext("ows:ExceptionText", namespaces=NS)
    status, _, body = wfs(ms_url, "2.0.0", "NoSuchRequest")
    assert status == 400 and xml(body).tag == f"{{{NS['ows']}}}ExceptionReport"
    status, _, body = wfs(ms_url, "3.0.0", "GetFeature", TYPENAMES="ms:lieux")
    assert status == 400 and xml(body).get("version") == "2.0.0"

    status, _, body = wfs(ms_url, "1.1.0", "GetFeature", TYPENAME="nope")
    root = xml(body)
    assert status == 200  # WFS 1.1.0: the OWS 1.0 ExceptionReport comes with HTTP 200
    assert root.tag == f"{{{NS['ows10']}}}ExceptionReport" and root.get("version") == "1.1.0"
    assert root.find("ows10:Exception", NS).get("exceptionCode") == "InvalidParameterValue"

    status, _, body = wfs(ms_url, "1.0.0", "GetFeature", TYPENAME="nope")
    root = xml(body)
    assert status == 200  # WFS 1.0.0: an OGC ServiceExceptionReport 1.2.0 with HTTP 200
    assert root.tag == "{http://www.opengis.net/ogc}ServiceExceptionReport" and root.get("version") == "1.2.0"

    # Not every bad value is an exception: a non-numeric COUNT silently gives an empty page.
    status, _, body = wfs(ms_url, "2.0.0", "GetFeature", TYPENAMES="ms:lieux", COUNT="abc")
    assert status == 200 and xml(body).get("numberReturned") == "0"
    # Without any query string mapserv answers an HTML page, not XML.
    status, ctype, body = fetch(ms_url)
    assert (status, ctype) == (200, "text/html") and b"No query information to decode" in body


# --- pygeoapi -----------------------------------------------------------------------------------------------


def _items(api_url: str, collection: str = "lieux", **params: str) -> dict:
    status, _, body = fetch(f"{api_url}/collections/{collection}/items", {"f": "json", **params})
    assert status == 200, body[:300]
    return json.loads(body)


def _link(doc: dict, rel: str) -> str | None:
    return next((link["href"] for link in doc["links"] if link["rel"] == rel), None)


@needs_pygeoapi
def test_pygeoapi_items_paging_with_next_links(api_url: str, layer: LayerData) -> None:
    url: str | None = f"{api_url}/collections/lieux/items?f=json&limit=500"
    collected, pages, returned = [], 0, []
    while url:
        status, ctype, body = fetch(url)
        assert status == 200 and ctype == "application/json"
        doc = json.loads(body)
        assert doc["numberMatched"] == N_POINTS
        returned.append(doc["numberReturned"])
        collected += [f["id"] for f in doc["features"]]
        pages += 1
        url = _link(doc, "next")  # drops f=json; JSON is still the default without an Accept header
    assert collected == [p.code for p in layer.points]
    # A full last page still has a `next` link: one extra, empty page ends the walk.
    assert returned == [500, 500, 500, 500, 500, 0]
    assert pages == 6


@needs_pygeoapi
def test_pygeoapi_limits_and_offset(api_url: str, layer: LayerData) -> None:
    doc = _items(api_url)
    assert doc["numberReturned"] == 10 and _link(doc, "next").endswith("/collections/lieux/items?offset=10")
    doc = _items(api_url, limit="5000")  # above max_items: throttled, not refused
    assert doc["numberReturned"] == MAXFEATURES and _link(doc, "next").endswith("offset=500&limit=5000")
    doc = _items(api_url, offset="2495", limit="10")
    assert [f["id"] for f in doc["features"]] == [p.code for p in layer.points[2495:]]
    assert _link(doc, "next") is None and _link(doc, "prev").endswith("offset=2485&limit=10")
    status, ctype, body = fetch(f"{api_url}/collections/lieux/items", {"f": "json", "limit": "abc"})
    assert (status, ctype) == (400, "application/json")
    assert json.loads(body)["code"] == "InvalidParameterValue"
    status, _, body = fetch(f"{api_url}/collections/nope/items", {"f": "json"})
    assert status == 404 and json.loads(body)["code"] == "NotFound"


@needs_pygeoapi
def test_pygeoapi_coordinates_and_crs(api_url: str, layer: LayerData) -> None:
    first = layer.points[0]
    doc = _items(api_url, limit="1")  # default: CRS84, longitude first, reprojected from the Lambert-93 file
    assert_close(tuple(doc["features"][0]["geometry"]["coordinates"]), (first.lon, first.lat), 1e-9)
    doc = _items(api_url, limit="1", crs="http://www.opengis.net/def/crs/EPSG/0/4326")
    assert_close(tuple(doc["features"][0]["geometry"]["coordinates"]), (first.lat, first.lon), 1e-9)
    doc = _items(api_url, limit="1", crs=pygeoapi_peer.EPSG2154)
    assert_close(tuple(doc["features"][0]["geometry"]["coordinates"]), (first.x, first.y), 1e-6)
    feature = _items(api_url, limit="1")["features"][0]
    assert feature["id"] == first.code and feature["properties"]["updated_at"] == first.updated_at
    # bbox (CRS84) is applied against the Lambert-93 storage correctly.
    doc = _items(api_url, bbox="3.0,50.6,3.05,50.65", limit="1")
    expected = sum(3.0 <= p.lon <= 3.05 and 50.6 <= p.lat <= 50.65 for p in layer.points)
    assert doc["numberMatched"] == expected > 0
    # The GeoJSON provider ignores sortby silently.
    assert _items(api_url, limit="1", sortby="-updated_at")["features"][0]["id"] == first.code


@needs_pygeoapi
def test_pygeoapi_queryables(api_url: str) -> None:
    status, ctype, body = fetch(f"{api_url}/collections/lieux/queryables", {"f": "json"})
    assert (status, ctype) == (200, "application/schema+json")
    doc = json.loads(body)
    props = {name: spec.get("type") for name, spec in doc["properties"].items()}
    assert props == {"geometry": None, "code": "string", "name": "string", "type": "string", "population": "integer",
                     "created_on": "string", "updated_at": "string"}
    assert doc["properties"]["code"]["x-ogc-role"] == "id"
    assert doc["properties"]["geometry"] == {"format": "geometry-any", "x-ogc-role": "primary-geometry"}
    # A property filter as a query parameter narrows numberMatched.
    doc = _items(api_url, type="école", limit="1")
    assert doc["numberMatched"] == N_POINTS // 6 + (N_POINTS % 6 > 0)
