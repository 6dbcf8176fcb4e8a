"""A catalog collection over a real pycsw: every data-bearing record a dataset, harvested by the discovery flow."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree
from typer.testing import CliRunner

from moisson.catalog.model import load_catalog
from moisson.catalog.resolve import with_stored_records
from moisson.connectors.sources.csw.iso19139 import NS, file_identifier
from moisson.core.errors import CatalogError
from moisson.core.ids import record_dataset_id as dataset_id_for
from moisson.core.state import StateStore
from tests.connectors.sources.csw.test_discover_flow import _record_linking
from tests.data import ISO
from tests.peers.pycsw_peer import Pycsw, require_pycsw

SERVICE = ISO / "pycsw-apiso" / "3e9a8c05.xml"
TITLE = "gmd:identificationInfo/*/gmd:citation/*/gmd:title/gco:CharacterString"


def stored(catalog):
    """The catalog as a run sees it: collections expanded from the state store's records."""
    return with_stored_records(load_catalog(catalog), StateStore())


@pytest.fixture
def small_csw(files, tmp_path) -> Iterator[tuple[Pycsw, dict[str, Path]]]:
    """A private pycsw with three records linking to data files and one service record."""
    require_pycsw()
    server = Pycsw(tmp_path / "pycsw-small")
    extra = tmp_path / "records"
    records = {
        "parkings-lille": _record_linking("parkings-lille", files + "parkings.csv",
                                          "WWW:DOWNLOAD-1.0-http--download", extra),
        "voirie-lille": _record_linking("voirie-lille", files + "parkings.csv", "WWW:DOWNLOAD-1.0-http--download",
                                        extra),
        "arceaux-lille": _record_linking("arceaux-lille", files + "arceaux.geojson",
                                         "WWW:DOWNLOAD-1.0-http--download", extra),
    }
    server.load([*records.values(), SERVICE])
    server.start()
    yield server, records
    server.stop()


def _catalog(tmp_path: Path, url: str, collection: str = "  - source: geocatalogue\n") -> Path:
    path = tmp_path / "catalog.yaml"
    path.write_text(f"""version: 1
defaults:
  targets: [portail]
  quality: {{on_failure: warn}}
  metadata: {{license: lov2}}
sources:
  geocatalogue:
    connector: csw
    config: {{url: "{url}", retries: 0, deletion: {{grace_days: 0, max_share: 0.5}}}}
  tableurs:
    connector: spreadsheet
    config: {{root: .}}
targets:
  portail:
    connector: local
    config: {{path: {tmp_path / 'portal'}, harvestable: false}}
datasets:
  - id: arceaux
    source: geocatalogue
    locator: {{record: arceaux-lille}}
collections:
{collection}""", encoding="utf-8")
    return path


@pytest.mark.usefixtures("prefect_server", "moisson_home")
def test_collection_publishes_every_record_with_stable_ids(small_csw, tmp_path):
    from moisson.flows.discover import discover_source

    server, records = small_csw
    catalog = str(_catalog(tmp_path, server.url))
    service_id = file_identifier(etree.parse(str(SERVICE)).getroot())
    assert len(stored(catalog).datasets) == 1  # nothing discovered yet: the explicit dataset only

    first = discover_source("geocatalogue", catalog=catalog)
    assert sorted(first["new"]) == sorted([*records, service_id])
    expected = {f"geocatalogue-{dataset_id_for(r)}" for r in ("parkings-lille", "voirie-lille")}
    assert first["harvested"] == dict.fromkeys(expected, "published"), first
    published = {p.name for p in (tmp_path / "portal").rglob("*")}
    assert all(any(i in name for name in published) for i in expected)

    cat = stored(catalog)
    # The service record is not a dataset; the record listed explicitly keeps its entry and is not repeated.
    assert set(cat.datasets) == {"arceaux", *expected}
    assert [ds.id for ds in cat.datasets.values() if ds.locator["record"] == "arceaux-lille"] == ["arceaux"]
    assert cat.dataset(f"geocatalogue-{dataset_id_for('voirie-lille')}").locator == {"record": "voirie-lille"}

    # An unchanged catalog: nothing new harvested.
    again = discover_source("geocatalogue", catalog=catalog)
    assert again["new"] == [] and again["harvested"] == {}

    # A record whose title changes keeps its dataset id; only it is harvested again.
    tree = etree.parse(str(records["voirie-lille"]))
    tree.find(TITLE, NS).text = "Voirie de Lille (nouveau titre)"
    server.set_xml("voirie-lille", etree.tostring(tree))
    changed = discover_source("geocatalogue", catalog=catalog, full=True)
    voirie = f"geocatalogue-{dataset_id_for('voirie-lille')}"
    assert changed["changed"] == ["voirie-lille"]
    assert changed["harvested"] == {voirie: "published"}
    assert set(stored(catalog).datasets) == {"arceaux", *expected}

    # A record leaving the catalog: its collection dataset is archived on the portal, and leaves the catalog.
    server.delete(["parkings-lille"])
    gone = discover_source("geocatalogue", catalog=catalog)
    parkings = f"geocatalogue-{dataset_id_for('parkings-lille')}"
    assert gone["missing"] == ["parkings-lille"] and gone["archived"] == [f"{parkings}@portail"]
    assert parkings not in stored(catalog).datasets


@pytest.mark.usefixtures("prefect_server", "moisson_home")
def test_dry_run_discovery_harvests_nothing_and_the_next_run_catches_up(small_csw, tmp_path):
    from moisson.flows.discover import discover_source

    server, _ = small_csw
    catalog = str(_catalog(tmp_path, server.url, "  - source: geocatalogue\n    id_prefix: sig\n"))
    dry = discover_source("geocatalogue", catalog=catalog, dry_run=True)
    assert dry["harvested"] == {} and not (tmp_path / "portal").exists()
    later = discover_source("geocatalogue", catalog=catalog)
    assert later["new"] == []  # the dry run stored the records: they are harvested as never published
    assert set(later["harvested"]) == {f"sig-{dataset_id_for(r)}" for r in ("parkings-lille", "voirie-lille")}


def test_check_works_with_an_empty_state(tmp_path, moisson_home):
    from moisson.cli import app

    result = CliRunner().invoke(app, ["check", "--catalog", str(_catalog(tmp_path, "http://127.0.0.1:9/csw"))])
    assert result.exit_code == 0, result.output
    assert "1 jeux de données — OK" in result.output


@pytest.mark.parametrize(("collection", "line", "words"), [
    ("  - source: inconnue\n", 22, "source inconnue 'inconnue'"),
    ("  - source: tableurs\n", 22, "est de type spreadsheet"),
    ("  - source: geocatalogue\n    id_prefix: Géo\n", 23, "le préfixe `id_prefix` 'Géo' : n'utilisez que"),
    ("  - source: geocatalogue\n  - source: geocatalogue\n", 23, "donnez à celle-ci un autre `id_prefix`"),
    ("  - source: geocatalogue\n    targets: [ailleurs]\n", 23, "cible inconnue 'ailleurs'"),
    ("  - source: geocatalogue\n    locator: {record: x}\n", 23, "clé inconnue"),
])
def test_bad_collection_names_file_and_line(tmp_path, moisson_home, collection, line, words):
    path = _catalog(tmp_path, "http://127.0.0.1:9/csw", collection)
    with pytest.raises(CatalogError) as info:
        load_catalog(path)
    assert words in str(info.value) and str(path) in str(info.value)
    assert info.value.line == line, str(info.value)
