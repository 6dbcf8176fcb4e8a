"""The `ogcapi` source against a real pygeoapi 0.21 (OGC API - Features), the MapServer peer's layer as GeoJSON.

pygeoapi keeps the features in Lambert-93 and serves CRS84 (longitude first); its pages are capped at
`max_items` and a full last page still has a `next` link (an empty page ends the walk).
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from typing import Any, ClassVar

import pyarrow.parquet as pq
import pytest
from pydantic import SecretStr

from moisson.connectors.base import DatasetDescriptor
from moisson.connectors.sources.ogcapi import OgcApiSource
from moisson.connectors.testing import SourceContract
from moisson.core.errors import NotFoundError, RejectedError, UnavailableError
from tests.fakes.proxy import Proxy
from tests.peers import mapserver_peer, pygeoapi_peer
from tests.peers.mapserver_peer import LayerData

N_POINTS = 1200
MAX_ITEMS = 500
TOLERANCE = 2e-7  # 7 decimals are written (about 1 cm)

pytestmark = pytest.mark.skipif(not pygeoapi_peer.available(),
                                reason="pygeoapi's venv is missing: run scripts/peer-pygeoapi")


@pytest.fixture(scope="module")
def layer(tmp_path_factory: pytest.TempPathFactory) -> LayerData:
    return mapserver_peer.write_layer_data(tmp_path_factory.mktemp("api-layer"), N_POINTS)


@pytest.fixture(scope="module")
def api_url(layer, tmp_path_factory) -> Iterator[str]:
    with pygeoapi_peer.running_pygeoapi(tmp_path_factory.mktemp("pygeoapi"), data=layer,
                                        max_items=MAX_ITEMS) as url:
        yield url


@pytest.fixture
def proxy(api_url) -> Iterator[Proxy]:
    p = Proxy(api_url, prefix="/ogcapi", paths=True)
    yield p
    p.close()


def source(url: str, **config: Any) -> OgcApiSource:
    api = OgcApiSource(OgcApiSource.Config(url=SecretStr(url), retries=config.pop("retries", 0), **config))
    api.http.sleep = lambda seconds: None
    return api


def dataset(collection: str = "lieux", **locator: Any) -> DatasetDescriptor:
    return DatasetDescriptor(id="lieux-lille", locator={"collection": collection, **locator})


def rows_of(result) -> list[dict]:
    return pq.read_table(result.path).to_pylist()


class TestOgcApiSource(SourceContract):
    missing_locator: ClassVar[dict[str, Any]] = {"collection": "no_such_collection"}

    @pytest.fixture
    def source(self, api_url):
        return source(api_url)

    @pytest.fixture
    def dataset(self, source):
        return next(d for d in source.discover() if d.locator["collection"] == "zones")


def test_every_feature_in_wgs84_following_next_links(proxy, layer, tmp_path):
    result = source(proxy.url, page_size=5000).extract(dataset(), tmp_path)
    rows = rows_of(result)
    assert [r["code"] for r in rows] == [p.code for p in layer.points]
    for row, point in zip(rows, layer.points, strict=True):
        lon, lat = json.loads(row["geometry"])["coordinates"]
        assert abs(lon - point.lon) <= TOLERANCE and abs(lat - point.lat) <= TOLERANCE
        assert (row["name"], row["population"], row["updated_at"]) == (point.name, str(point.population),
                                                                      point.updated_at)
    pages = [dict(urllib.parse.parse_qsl(s.query)) for s in proxy.seen if s.path.endswith("/items")]
    # Capped at 500 per page; 1,200 = 500 + 500 + 200, the last page has no `next`.
    assert [p.get("offset", "0") for p in pages] == ["0", "500", "1000"]
    assert result.metadata["title"] == "Lieux"


def test_schema_from_the_queryables(api_url, tmp_path):
    result = source(api_url).extract(dataset(), tmp_path)
    assert result.metadata["extras"]["source"]["fields"] == [
        {"name": "code", "type": "string"}, {"name": "name", "type": "string"}, {"name": "type", "type": "string"},
        {"name": "population", "type": "integer"}, {"name": "created_on", "type": "string"},
        {"name": "updated_at", "type": "string"}]


def test_bbox_and_property_filters_from_the_locator(api_url, layer, tmp_path):
    box = (3.0, 50.6, 3.05, 50.65)
    result = source(api_url).extract(dataset(bbox=list(box), properties={"type": "école"}), tmp_path)
    expected = [p.code for p in layer.points if p.type == "école" and box[0] <= p.lon <= box[2]
                and box[1] <= p.lat <= box[3]]
    assert expected and [r["code"] for r in rows_of(result)] == expected


def test_a_full_last_page_ends_on_the_empty_page_after_it(api_url, layer, tmp_path):
    result = source(api_url, page_size=400).extract(dataset(), tmp_path)  # 3 x 400: the 3rd page still has `next`
    assert result.rows == N_POINTS


def test_a_short_collection_fails_naming_the_gap(proxy, tmp_path):
    def drop(seen, status, body):
        if seen.path.endswith("/items") and "offset=500" in seen.query:
            doc = json.loads(body)
            doc["features"], doc["links"] = [], []
            return status, json.dumps(doc).encode()
        return None

    proxy.fault = drop
    with pytest.raises(RejectedError) as info:
        source(proxy.url).extract(dataset(), tmp_path)
    assert "annonçait 1200 objets mais en a servi 500 (700 manquant(s))" in info.value.message
    assert list(tmp_path.iterdir()) == []


def test_a_next_link_that_does_not_advance_is_refused(proxy, tmp_path):
    def loop(seen, status, body):
        if seen.path.endswith("/items"):
            doc = json.loads(body)
            doc["links"] = [{"rel": "next", "href": f"{proxy.url}/collections/lieux/items?offset=0&limit=500"}]
            doc["numberMatched"] = None
            return status, json.dumps(doc).encode()
        return None

    proxy.fault = loop
    with pytest.raises(RejectedError, match="n'avance pas"):
        source(proxy.url, page_size=500).extract(dataset(), tmp_path)


def test_server_errors_are_retryable(proxy, tmp_path):
    proxy.fault = lambda seen, status, body: (502, b"bad gateway") if "offset=500" in seen.query else None
    with pytest.raises(UnavailableError):
        source(proxy.url).extract(dataset(), tmp_path)


def test_unknown_collection_lists_the_collections(api_url, tmp_path):
    with pytest.raises(NotFoundError) as info:
        source(api_url).extract(dataset("arceaux"), tmp_path)
    assert "lieux, zones" in info.value.message
