"""CSW datasets through the real flows (Prefect test server): discovery, harvest to a portal, no secret leak."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from lxml import etree
from pydantic import SecretStr
from typer.testing import CliRunner

from moisson.connectors.base import DatasetDescriptor
from moisson.connectors.sources.csw import CswSource
from moisson.connectors.sources.csw.iso19139 import NS
from moisson.core.errors import ConnectorError
from tests.data import TEMPLATE
from tests.fakes.proxy import Proxy
from tests.peers.pycsw_peer import GENERATED

TOKEN = "0123456789abcdef0123456789abcdef-secret-token"
def _record_linking(record_id: str, url: str, protocol: str, folder: Path) -> Path:
    """The GeoBretagne record with a new identifier and one more download link."""
    tree = etree.parse(str(TEMPLATE))
    tree.find("gmd:fileIdentifier/gco:CharacterString", NS).text = record_id
    options = tree.find("gmd:distributionInfo/*/gmd:transferOptions/gmd:MD_DigitalTransferOptions", NS)
    online = etree.SubElement(options, f"{{{NS['gmd']}}}onLine")
    res = etree.SubElement(online, f"{{{NS['gmd']}}}CI_OnlineResource")
    etree.SubElement(etree.SubElement(res, f"{{{NS['gmd']}}}linkage"), f"{{{NS['gmd']}}}URL").text = url
    etree.SubElement(etree.SubElement(res, f"{{{NS['gmd']}}}protocol"),
                     f"{{{NS['gco']}}}CharacterString").text = protocol
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{record_id}.xml"
    tree.write(str(path))
    return path


@pytest.fixture
def catalog_server(generated, files, tmp_path) -> Iterator[Proxy]:
    """The generated catalog plus two records with data, behind an Isogeo-like URL holding a token."""
    server, _ = generated
    server.load([_record_linking("parkings-lille", files + "parkings.csv", "WWW:DOWNLOAD-1.0-http--download",
                                 tmp_path / "extra"),
                 _record_linking("arceaux-lille", files + "arceaux.geojson", "WWW:DOWNLOAD-1.0-http--download",
                                 tmp_path / "extra")])
    proxy = Proxy(server.url, prefix=f"/ows/s/{'a' * 32}/{TOKEN}")
    yield proxy
    proxy.close()


def test_extract_downloads_csv_and_geojson(catalog_server, tmp_path):
    source = CswSource(CswSource.Config(url=SecretStr(catalog_server.url), retries=0))
    table = source.extract(DatasetDescriptor(id="parkings", locator={"record": "parkings-lille"}), tmp_path)
    rows = pq.read_table(table.path).to_pylist()
    assert table.rows == 2 and rows[0]["nom"] == "Parking Gare" and rows[1]["places"] == "45"
    geo = source.extract(DatasetDescriptor(id="arceaux", locator={"record": "arceaux-lille"}), tmp_path)
    features = pq.read_table(geo.path).to_pylist()
    assert geo.rows == 2 and geo.geometry == "geometry"
    assert json.loads(features[0]["geometry"]) == {"type": "Point", "coordinates": [3.0573, 50.6292]}
    assert features[1]["places"] == "4"
    assert geo.metadata["title"] == "Cadastre 2018 en Bretagne"


def _catalog(tmp_path: Path) -> Path:
    path = tmp_path / "catalog.yaml"
    path.write_text(f"""version: 1
defaults:
  targets: [portail]
  quality: {{on_failure: warn}}
  metadata: {{license: lov2}}
sources:
  geocatalogue:
    connector: csw
    config: {{url: {{env: TEST_CSW_URL}}, retries: 0, page_size: 100, deletion: {{grace_days: 0}}}}
targets:
  portail:
    connector: local
    config: {{path: {tmp_path / 'portal'}, harvestable: false}}
datasets:
  - id: parkings-lille
    source: geocatalogue
    locator: {{record: parkings-lille}}
""", encoding="utf-8")
    return path


@pytest.mark.usefixtures("prefect_server")
def test_discovery_and_harvest_flows_never_show_the_token(catalog_server, generated, tmp_path, moisson_home,
                                                          monkeypatch, caplog):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from moisson.flows.discover import discover_source
    from moisson.flows.harvest import harvest_dataset, harvest_one

    monkeypatch.setenv("TEST_CSW_URL", catalog_server.url + "?service=CSW&version=2.0.2&request=GetCapabilities")
    catalog = str(_catalog(tmp_path))
    caplog.set_level(logging.DEBUG)
    first = discover_source("geocatalogue", catalog=catalog)
    assert first["mode"] == "full" and first["matched"] == GENERATED + 2 and first["complete"]
    assert len(first["new"]) == GENERATED + 2
    again = discover_source("geocatalogue", catalog=catalog)
    assert again["mode"] == "incremental" and again["new"] == [] and again["requests"].get("GetRecordById", 0) == 0

    outcome, _ = harvest_one(harvest_dataset, "parkings-lille", catalog=catalog)
    assert outcome.status == "published", outcome
    assert outcome.rows == 2

    # The record leaves the catalog: with no grace period its dataset is archived on the portal at once.
    generated[0].delete(["parkings-lille"])
    gone = discover_source("geocatalogue", catalog=catalog)
    assert gone["missing"] == ["parkings-lille"] and gone["complete"]
    assert gone["archived"] == ["parkings-lille@portail"]

    # Errors carry the host only.
    monkeypatch.setenv("TEST_CSW_URL", f"http://127.0.0.1:9/ows/s/{'a' * 32}/{TOKEN}")
    failed, _ = harvest_one(harvest_dataset, "parkings-lille", catalog=catalog)
    assert failed.status == "failed" and "127.0.0.1:9" in failed.error

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(
            any_=["discovery-geocatalogue", "discovery-geocatalogue-records", "publication-parkings-lille"])))
    assert {a.key for a in artifacts} >= {"discovery-geocatalogue", "publication-parkings-lille"}
    published = list((tmp_path / "portal").rglob("*"))
    state = b"".join(p.read_bytes() for p in moisson_home.rglob("*") if p.is_file())
    texts = [caplog.text, failed.error, json.dumps(first), *(str(a.data) for a in artifacts),
             *(p.read_text(errors="replace") for p in published if p.is_file())]
    assert all(TOKEN not in t for t in texts)
    assert TOKEN.encode() not in state


def test_errors_and_reprs_show_the_host_only(catalog_server):
    config = CswSource.Config(url=SecretStr(f"http://127.0.0.1:9/ows/s/x/{TOKEN}"), retries=0)
    source = CswSource(config)
    with pytest.raises(ConnectorError) as info:
        source.check()
    shown = [str(info.value), repr(info.value), repr(source), repr(config), str(config.model_dump()),
             config.model_dump_json()]
    assert all(TOKEN not in s for s in shown), shown
    assert "127.0.0.1:9" in str(info.value)
    assert info.value.__cause__ is None and info.value.__context__ is None


def test_cli_discover_lists_records_as_datasets(catalog_server, tmp_path, monkeypatch, moisson_home):
    from moisson.cli import app

    monkeypatch.setenv("TEST_CSW_URL", catalog_server.url)
    result = CliRunner().invoke(app, ["discover", "geocatalogue", "--json", "--catalog", str(_catalog(tmp_path))])
    assert result.exit_code == 0, result.output
    listing = json.loads(result.output)
    served = GENERATED + 2  # the generated records and two reference ones
    assert (listing["source"], listing["matched"], listing["collected"]) == ("geocatalogue", served, served)
    parkings = next(d for d in listing["datasets"] if d["source_record_id"] == "parkings-lille")
    assert parkings["title"] == "Cadastre 2018 en Bretagne" and parkings["frequency"] == "annual"
    assert [r["kind"] for r in parkings["resources"] if r["url"].endswith("/parkings.csv")] == ["download"]
    assert parkings["spatial"]["bbox"] and parkings["license"] is None
    assert listing["errors"] == []
    assert TOKEN not in result.output
