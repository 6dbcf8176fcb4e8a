"""The Isogeo story end to end: a CSW record (real pycsw) whose `gmd:onLine` is a layer of a real MapServer WFS.

The flows of `moisson run` harvest the record's metadata and page the WFS layer (1,200 Lambert-93 points near Lille,
`wfs_maxfeatures 500`) behind a counting proxy, then publish to the fake Opendatasoft (checked against its API
spec) and to the REAL udata (data.gouv.fr's software, `scripts/peer-udata`): both must get the same bytes, the
coordinates in WGS84 (never swapped), and the record's title, description, keywords, licence and frequency, read
back through udata's API.
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
from typing import Any

import pytest
import requests
from lxml import etree

from moisson.connectors.sources.csw.iso19139 import NS
from moisson.connectors.targets.datagouv import EXTRA_ID
from moisson.core.ids import slugify
from tests.data import REFERENCE, TEMPLATE
from tests.fakes.opendatasoft import FakeOds
from tests.fakes.proxy import Proxy
from tests.peers import mapserver_peer
from tests.peers.mapserver_peer import LayerData
from tests.peers.pycsw_peer import Pycsw, require_pycsw
from tests.peers.udata_peer import Peer, running_udata, udata_python

N_POINTS = 1200
RECORD = "wfs-lieux-lille"
ODS_KEY = "ods-story-key"
TITLE = "Cadastre 2018 en Bretagne"  # the template record's title, harvested from the catalog
#: The licence the record's use constraints name (the other dataset says lov2: odc-odbl can only come from it).
LICENCE_TEXT = "Licence ODbL : https://opendatacommons.org/licenses/odbl/1-0/"

pytestmark = [pytest.mark.usefixtures("prefect_server"),
              pytest.mark.skipif(not mapserver_peer.available(),
                                 reason="MapServer's mapserv is not installed: run scripts/peer-mapserver"),
              pytest.mark.skipif(not udata_python().exists(),
                                 reason=f"the udata peer is not installed at {udata_python()}: run scripts/peer-udata")]


def record_linking(wfs_url: str, layer: str, folder: Path) -> Path:
    """The GeoBretagne record with a new identifier, an ODbL licence and, for its only link, the WFS layer."""
    tree = etree.parse(str(TEMPLATE))
    tree.find("gmd:fileIdentifier/gco:CharacterString", NS).text = RECORD
    tree.find(".//gmd:MD_LegalConstraints[gmd:useConstraints]/gmd:otherConstraints/gco:CharacterString",
              NS).text = LICENCE_TEXT
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
    udata: Peer
    ods: FakeOds
    catalog: Path
    record: Path


def catalog_text(csw_url: str, wfs_url: str, udata: Peer, ods: FakeOds) -> str:
    return json.dumps({
        "version": 1,
        "defaults": {"targets": ["datagouv", "ods"], "metadata": {"producer": "Métropole de test"}},
        "sources": {"isogeo": {"connector": "csw", "config": {"url": csw_url, "retries": 0}},
                    "sig": {"connector": "wfs", "config": {"url": wfs_url, "retries": 0}}},
        "targets": {
            "datagouv": {"connector": "datagouv", "config": {"api": f"{udata.base_url}/api/1",
                                                             "organization": udata.org_id,
                                                             "api_key": {"env": "STORY_DATAGOUV_KEY"}}},
            "ods": {"connector": "opendatasoft", "config": {"domain": ods.url, "api_key": {"env": "STORY_ODS_KEY"},
                                                            "poll_interval": 0.01, "max_poll_interval": 0.05}}},
        "datasets": [
            {"id": "lieux-lille", "source": "isogeo", "locator": {"record": RECORD}},
            {"id": "lieux-sig", "source": "sig", "locator": {"layer": "lieux", "updated_at": "updated_at"},
             "metadata": {"title": "Lieux (SIG)", "description": "Les lieux du SIG.", "license": "lov2"}},
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
        record = record_linking(wfs.url, "ms:lieux", top / "records")
        csw = Pycsw(top / "pycsw")
        csw.load([record])
        csw_url = csw.start()
        stack.callback(csw.stop)
        (top / "udata").mkdir()
        udata = stack.enter_context(running_udata(top / "udata"))
        ods = stack.enter_context(FakeOds(REFERENCE, api_key=ODS_KEY))
        env.setenv("MOISSON_HOME", str(top / "var"))
        env.delenv("MOISSON_STATE_URL", raising=False)
        env.setenv("STORY_DATAGOUV_KEY", udata.api_key)
        env.setenv("STORY_ODS_KEY", ODS_KEY)
        catalog = top / "catalog.yaml"  # JSON is YAML
        catalog.write_text(catalog_text(csw_url, wfs.url, udata, ods), encoding="utf-8")
        yield Story(layer, wfs, udata, ods, catalog, record)
        assert not ods.violations, "\n".join(ods.violations)


def moisson_run(story: Story, *ids: str) -> dict:
    """What `moisson run IDS` runs (its flows, in this process: a second CliRunner run trips Prefect's logging)."""
    from moisson.flows.harvest import run_datasets

    return {o.id: o.model_dump(mode="json") for o in run_datasets(list(ids), catalog=str(story.catalog))}


def csv_rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


def published(story: Story, dataset_id: str) -> tuple[dict[str, Any], bytes, bytes]:
    """The udata dataset moisson made for `dataset_id`, read back through udata's API, its file, and the ODS file."""
    listing = requests.get(f"{story.udata.base_url}/api/1/organizations/{story.udata.org_id}/datasets/",
                           params={"page_size": 1000}, timeout=30)
    listing.raise_for_status()
    ids = [d["id"] for d in listing.json()["data"] if (d.get("extras") or {}).get(EXTRA_ID) == dataset_id]
    assert len(ids) == 1, ids
    answer = requests.get(f"{story.udata.base_url}/api/1/datasets/{ids[0]}/", timeout=30)
    answer.raise_for_status()
    dataset = answer.json()
    [resource] = dataset["resources"]
    served = requests.get(resource["url"], timeout=30)
    served.raise_for_status()
    ods = [b for uid, b in story.ods.files.items()
           if uid == f"{dataset_id}.csv" or re.fullmatch(rf"{re.escape(dataset_id)}_[0-9]+\.csv", uid)]
    assert len(ods) == 1, list(story.ods.files)
    return dataset, served.content, ods[0]


def record_text(record: Path, path: str) -> list[str]:
    """Texts at `path` (ISO 19139 prefixes) in the record pycsw serves, read without moisson's parser."""
    return [node.text for node in etree.parse(str(record)).iterfind(path, NS)]


def test_a_catalog_records_wfs_layer_reaches_both_portals_with_its_metadata(story):
    outcome = moisson_run(story, "lieux-lille")["lieux-lille"]
    assert outcome["status"] == "published", outcome
    assert outcome["rows"] == N_POINTS
    dataset, datagouv, ods = published(story, "lieux-lille")
    assert datagouv == ods  # the same rows, byte for byte
    rows = csv_rows(datagouv)
    assert [r["code"] for r in rows] == [p.code for p in story.layer.points]
    for row, point in zip(rows, story.layer.points, strict=True):
        lon, lat = json.loads(row["geometry"])["coordinates"]
        assert abs(lon - point.lon) <= 2e-7 and abs(lat - point.lat) <= 2e-7, (row["code"], lon, lat)
    # The record's metadata, as udata stored it (catalog defaults would win over it: they set neither licence nor
    # frequency here).
    assert dataset["title"] == TITLE
    [abstract] = record_text(story.record, "gmd:identificationInfo/*/gmd:abstract/gco:CharacterString")
    assert dataset["description"].strip() == abstract.strip()
    keywords = record_text(story.record, "gmd:identificationInfo/*/gmd:descriptiveKeywords/*/gmd:keyword/*")
    assert set(dataset["tags"]) == {slugify(k) for k in keywords}
    assert (dataset["license"], dataset["frequency"]) == ("odc-odbl", "annual")
    assert dataset["resources"][0]["format"] == "csv"
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
