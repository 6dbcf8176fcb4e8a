"""The OpenStreetMap source against an Overpass-like server answering from an OSM XML file the test writes."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow.parquet as pq
import pytest

from moisson.connectors.base import DatasetDescriptor
from moisson.connectors.sources.osm import OsmSource
from moisson.connectors.testing import SourceContract
from moisson.core.errors import UnavailableError
from tests.fakes.overpass import elements_of, running_overpass

OSM = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="moisson tests">
  <node id="101" lat="50.6301" lon="3.0601"><tag k="emergency" v="defibrillator"/>
    <tag k="indoor" v="yes"/><tag k="defibrillator:location" v="Hall de la mairie"/></node>
  <node id="102" lat="50.6322" lon="3.0655"><tag k="emergency" v="defibrillator"/><tag k="access" v="yes"/></node>
  <node id="103" lat="50.6400" lon="3.0700"><tag k="amenity" v="bench"/></node>
  <node id="201" lat="50.6250" lon="3.0500"/><node id="202" lat="50.6252" lon="3.0504"/>
  <node id="203" lat="50.6254" lon="3.0500"/>
  <way id="301"><nd ref="201"/><nd ref="202"/><nd ref="203"/>
    <tag k="emergency" v="defibrillator"/><tag k="name" v="Salle des sports"/></way>
</osm>
"""


@pytest.fixture
def overpass(tmp_path) -> Iterator[tuple[str, object]]:
    path = tmp_path / "commune.osm"
    path.write_text(OSM, encoding="utf-8")
    with running_overpass(elements_of(path)) as served:
        yield served


DAE = DatasetDescriptor(id="dae-osm", locator={"tags": {"emergency": "defibrillator"}, "area": "59350",
                                                "geometry": {"lonlat": ["lon", "lat"]}})


class TestOsmSource(SourceContract):
    @pytest.fixture
    def source(self, overpass):
        return OsmSource(OsmSource.Config(url=overpass[0], retries=0, queries={"Défibrillateurs": DAE.locator}))

    @pytest.fixture
    def dataset(self):
        return DAE

    @pytest.fixture
    def missing_dataset(self):
        return DatasetDescriptor(id="nowhere", locator={"tags": {"emergency": "defibrillator"}})


def test_nodes_and_ways_with_their_tags_and_the_odbl(overpass, tmp_path):
    url, state = overpass
    extract = OsmSource(OsmSource.Config(url=url, retries=0)).extract(DAE, tmp_path)
    rows = pq.read_table(extract.path).to_pylist()
    assert [r["id"] for r in rows] == ["osm:node/101", "osm:node/102", "osm:way/301"]
    assert rows[0]["defibrillator:location"] == "Hall de la mairie" and rows[1]["access"] == "yes"
    assert abs(float(rows[2]["lat"]) - 50.6252) < 1e-6 and abs(float(rows[2]["lon"]) - 3.05013) < 1e-4
    assert extract.metadata["license"] == "odc-odbl" and "OpenStreetMap" in extract.metadata["attribution"]
    assert len(state.queries) == 1 and 'area["ref:INSEE"="59350"]' in state.queries[0]
    assert "[timeout:180]" in state.queries[0]


def test_rate_limits_and_runtime_errors_are_waited_out_then_reported(overpass, tmp_path):
    url, state = overpass
    source = OsmSource(OsmSource.Config(url=url, retries=2))
    source.client.sleep = lambda _: None
    state.faults = ["429", "504"]
    assert source.extract(DAE, tmp_path).rows == 3
    state.faults = ["runtime-error"]
    with pytest.raises(UnavailableError, match=r"Overpass n'a pas pu terminer la requête.*relevez `timeout`"):
        source.extract(DAE, tmp_path)


def test_discovery_says_how_many_elements_each_query_returns(overpass):
    source = OsmSource(OsmSource.Config(url=overpass[0], retries=0, queries={"Défibrillateurs": DAE.locator}))
    [found] = list(source.discover())
    assert (found.id, found.metadata.description) == ("defibrillateurs", "3 éléments OpenStreetMap")


def test_a_bbox_instead_of_a_commune(overpass, tmp_path):
    url, _ = overpass
    box = DatasetDescriptor(id="box", locator={"tags": {"emergency": True}, "bbox": [50.629, 3.059, 50.631, 3.061]})
    extract = OsmSource(OsmSource.Config(url=url, retries=0)).extract(box, tmp_path)
    assert pq.read_table(extract.path).column("id").to_pylist() == ["osm:node/101"]
