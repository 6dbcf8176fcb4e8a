"""The Isogeo story end to end: a CSW record (real pycsw) whose `gmd:onLine` is a layer of a real MapServer WFS.

The flows of `moisson run` harvest the record's metadata and pages the WFS layer (1,200 Lambert-93 points near Lille,
`wfs_maxfeatures 500`) behind a counting proxy, then publishes to the fake Opendatasoft and the fake
data.gouv.fr: both must get the same rows, the coordinates in WGS84 (never swapped), the record's title.
A second dataset reads the same layer with the `wfs` source alone and `updated_at`: its second run is
answered by the fingerprint without paging the layer again.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from lxml import etree

from moisson.connectors.sources.csw.iso19139 import NS
from tests.data import REFERENCE, TEMPLATE
from tests.fakes.datagouv import FakeDataGouv
from tests.fakes.opendatasoft import FakeOds
from tests.fakes.proxy import Proxy
from tests.peers import mapserver_peer
from tests.peers.mapserver_peer import LayerData
from tests.peers.pycsw_peer import Pycsw, require_pycsw

N_POINTS = 1200
RECORD = "wfs-lieux-lille"
ODS_KEY = "ods-story-key"
TITLE = "Cadastre 2018 en Bretagne"  # the template record's title, harvested from the catalog

pytestmark = [pytest.mark.usefixtures("prefect_server"),
              pytest.mark.skipif(not mapserver_peer.available(),
                                 reason="MapServer's mapserv is not installed: run scripts/peer-mapserver")]


def record_linking(wfs_url: str, layer: str, folder: Path) -> Path:
    """The GeoBretagne record with a new identifier and, for its only link, the WFS layer as Isogeo writes it."""
    tree = etree.parse(str(TEMPLATE))
    tree.find("gmd:fileIdentifier/gco:CharacterString", NS).text = RECORD
    options = tree.find("gmd:distributionInfo/*/gmd:transferOptions/gmd:MD_DigitalTransferOptions", NS)
    for online in options.findall("gmd:onLine", NS):
        options.remove(online)
    resource = etree.SubElement(etree.SubElement(options, f"{{{NS['gmd']}}}onLine"),
                                f"{{{NS['gmd']}}}CI_OnlineResource")
    for tag, value in (("linkage", None), ("protocol", "OGC:WFS"), ("name", layer)):
        slot = etree.SubElement(resource, f"{{{NS['gmd']}}}{tag}")
        if value is None:
            etree.SubElement(slot, f"{{{NS['gmd']}}}URL").text = wfs_url + "?SERVICE=WFS&REQUEST=GetCapabilities"
        else:
            etree.SubElement(slot, f"{{{NS['gco']}}}CharacterString").text = value
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{RECORD}.xml"
    tree.write(str(path))
    return path


@dataclass
class Story:
    layer: LayerData
    wfs: Proxy
    datagouv: FakeDataGouv
    ods: FakeOds
    catalog: Path


def catalog_text(csw_url: str, wfs_url: str, datagouv: FakeDataGouv, ods: FakeOds) -> str:
    return json.dumps({
        "version": 1,
        "defaults": {"targets": ["datagouv", "ods"], "metadata": {"license": "lov2", "producer": "Métropole de test"}},
        "sources": {"isogeo": {"connector": "csw", "config": {"url": csw_url, "retries": 0}},
                    "sig": {"connector": "wfs", "config": {"url": wfs_url, "retries": 0}}},
        "targets": {
            "datagouv": {"connector": "datagouv", "config": {"api": f"{datagouv.url}/api/1",
                                                             "organization": datagouv.org["id"],
                                                             "api_key": {"env": "STORY_DATAGOUV_KEY"}}},
            "ods": {"connector": "opendatasoft", "config": {"domain": ods.url, "api_key": {"env": "STORY_ODS_KEY"},
                                                            "poll_interval": 0.01, "max_poll_interval": 0.05}}},
        "datasets": [
            {"id": "lieux-lille", "source": "isogeo", "locator": {"record": RECORD}},
            {"id": "lieux-sig", "source": "sig", "locator": {"layer": "lieux", "updated_at": "updated_at"},
             "metadata": {"title": "Lieux (SIG)", "description": "Les lieux du SIG."}},
        ],
    }, ensure_ascii=False, indent=1)


@pytest.fixture(scope="module")
def story(tmp_path_factory) -> Iterator[Story]:
    require_pycsw()
    top = tmp_path_factory.mktemp("story")
    layer = mapserver_peer.write_layer_data(top / "data", N_POINTS)
    with contextlib.ExitStack() as stack, pytest.MonkeyPatch.context() as env:
        ms_url = stack.enter_context(mapserver_peer.running_mapserver(top / "ms", data=layer, maxfeatures=500))
        wfs = Proxy(ms_url, prefix="/geoserver/ows")
        stack.callback(wfs.close)
        csw = Pycsw(top / "pycsw")
        csw.load([record_linking(wfs.url, "ms:lieux", top / "records")])
        csw_url = csw.start()
        stack.callback(csw.stop)
        datagouv = stack.enter_context(FakeDataGouv())
        ods = stack.enter_context(FakeOds(REFERENCE, api_key=ODS_KEY))
        env.setenv("MOISSON_HOME", str(top / "var"))
        env.delenv("MOISSON_STATE_URL", raising=False)
        env.setenv("STORY_DATAGOUV_KEY", datagouv.api_key)
        env.setenv("STORY_ODS_KEY", ODS_KEY)
        catalog = top / "catalog.yaml"  # JSON is YAML
        catalog.write_text(catalog_text(csw_url, wfs.url, datagouv, ods), encoding="utf-8")
        yield Story(layer, wfs, datagouv, ods, catalog)
        assert not ods.violations, "\n".join(ods.violations)


def moisson_run(story: Story, *ids: str) -> dict:
    """What `moisson run IDS` runs (its flows, in this process: a second CliRunner run trips Prefect's logging)."""
    from moisson.flows.harvest import run_datasets

    return {o.id: o.model_dump(mode="json") for o in run_datasets(list(ids), catalog=str(story.catalog))}


def csv_rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


def published(story: Story, dataset_id: str) -> tuple[bytes, bytes]:
    datagouv = [b for p, b in story.datagouv.files.items() if p.endswith(f"/{dataset_id}.csv")]
    ods = [b for uid, b in story.ods.files.items()
           if uid == f"{dataset_id}.csv" or re.fullmatch(rf"{re.escape(dataset_id)}_[0-9]+\.csv", uid)]
    assert len(datagouv) == 1 and len(ods) == 1, (list(story.datagouv.files), list(story.ods.files))
    return datagouv[0], ods[0]


def test_a_catalog_records_wfs_layer_reaches_both_portals_with_its_metadata(story):
    outcome = moisson_run(story, "lieux-lille")["lieux-lille"]
    assert outcome["status"] == "published", outcome
    assert outcome["rows"] == N_POINTS
    datagouv, ods = published(story, "lieux-lille")
    assert datagouv == ods  # the same rows, byte for byte
    rows = csv_rows(datagouv)
    assert [r["code"] for r in rows] == [p.code for p in story.layer.points]
    for row, point in zip(rows, story.layer.points, strict=True):
        lon, lat = json.loads(row["geometry"])["coordinates"]
        assert abs(lon - point.lon) <= 2e-7 and abs(lat - point.lat) <= 2e-7, (row["code"], lon, lat)
    titles = {d.body.get("title") for d in story.datagouv.datasets.values()}
    assert TITLE in titles
    ods_titles = {d.metadata.get("default", {}).get("title", {}).get("value") for d in story.ods.datasets.values()}
    assert TITLE in ods_titles
    # The layer was paged within the server's cap; capabilities were asked once.
    pages = [dict(urllib.parse.parse_qsl(s.query)) for s in story.wfs.seen if "GetFeature" in s.query]
    assert sorted(int(p["STARTINDEX"]) for p in pages) == [0, 500, 1000]
    assert story.wfs.count("GetCapabilities") == 1


def test_an_unchanged_layer_is_not_downloaded_again(story):
    first = moisson_run(story, "lieux-sig")["lieux-sig"]
    assert first["status"] == "published", first
    paged = len(story.wfs.seen)
    again = moisson_run(story, "lieux-sig")["lieux-sig"]
    assert again["status"] == "unchanged", again
    later = story.wfs.seen[paged:]
    # Only the fingerprint's requests: capabilities, one sorted feature, one filtered count; no page.
    assert all("STARTINDEX=0" in s.query.upper() and "COUNT=1" in s.query.upper()
               for s in later if "GetFeature" in s.query), [s.query for s in later]
    assert sum("GetFeature" in s.query for s in later) == 2
