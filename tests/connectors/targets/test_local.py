"""Tests of the `local` target: files, Data Package, DCAT catalog, index page, atomic swaps."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import threading
from pathlib import Path
from typing import Any

import frictionless
import pandas as pd
import pytest

from moisson.catalog.model import load_catalog
from moisson.connectors.base import DatasetDescriptor, Publication
from moisson.connectors.csvfile import write_csv
from moisson.connectors.targets import local
from moisson.connectors.targets.local import LocalTarget
from moisson.connectors.targets.local import geojson as geojson_writer
from moisson.connectors.testing import TargetContract, republish, state_after
from moisson.core.errors import CatalogError, NotFoundError, RejectedError, UnavailableError
from moisson.core.frequencies import FREQUENCIES, label
from moisson.core.metadata import DatasetMetadata
from moisson.core.records import RemoteState
from tests.data import REFERENCE

BASE_URL = "https://www.villeneuve.example/opendata/"
LOV2_URL = "https://www.etalab.gouv.fr/licence-ouverte-open-licence"
MONTHLY = "http://publications.europa.eu/resource/authority/frequency/MONTHLY"

SCHEMA = {"fields": [
    {"name": "nom", "type": "string"},
    {"name": "capacite", "type": "integer"},
    {"name": "surface", "type": "number"},
    {"name": "accessible", "type": "boolean"},
    {"name": "mise_en_service", "type": "date"},
    {"name": "derniere_visite", "type": "datetime"},
    {"name": "geom", "type": "geojson"},
]}


def equipements(names: tuple[str | None, ...] = ('Salle "Jean Moulin", annexe', "Stade", None)) -> pd.DataFrame:
    return pd.DataFrame({
        "nom": pd.array(list(names), dtype="string"),
        "capacite": pd.array([120, None, 3000], dtype="Int64"),
        "surface": pd.array([350.5, 12.0, None], dtype="Float64"),
        "accessible": pd.array([True, None, False], dtype="boolean"),
        "mise_en_service": pd.to_datetime(["2019-03-01", "2020-01-15", None]),
        "derniere_visite": pd.to_datetime(["2024-05-02 14:30", None, "2024-06-01 00:00"]),
        "geom": pd.array(['{"type": "Point", "coordinates": [3.0573, 50.6292]}', None,
                          '{"type": "Point", "coordinates": [3.07, 50.64]}'], dtype="string"),
    })


def make_publication(folder: Path, dataset_id: str = "equipements-sportifs", *,
                     frame: pd.DataFrame | None = None, geometry: str | None = "geom",
                     schema: dict[str, Any] | None = SCHEMA, **metadata: Any) -> Publication:
    frame = equipements() if frame is None else frame
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / f"{dataset_id}.parquet"
    frame.to_parquet(data)
    meta = DatasetMetadata(**{
        "title": "Équipements sportifs",
        "description": "Salles et stades de la commune.\n\nMis à jour chaque mois.",
        "keywords": ["sport", "équipements"],
        "producer": "Service des sports",
        "contact": {"name": "Service SIG", "email": "sig@villeneuve.example"},
        "license": "lov2",
        "frequency": "monthly",
        "spatial": {"zones": ["fr:commune:59350"], "bbox": (3.0, 50.6, 3.1, 50.7), "granularity": "poi"},
        "temporal": {"start": "2019-01-01", "end": "2024-12-31"},
        **metadata,
    })
    return Publication(
        dataset=DatasetDescriptor(id=dataset_id, locator={"path": "equipements.xlsx"}, metadata=meta),
        data=data,
        rows=len(frame),
        content_hash=hashlib.sha256(data.read_bytes()).hexdigest(),
        metadata_hash=hashlib.sha256(meta.model_dump_json().encode()).hexdigest(),
        table_schema=schema,
        geometry=geometry,
    )


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture
def portal(tmp_path: Path) -> Path:
    return tmp_path / "portal"


@pytest.fixture
def target(portal: Path) -> LocalTarget:
    return LocalTarget(LocalTarget.Config(path=portal, base_url=BASE_URL, title="Villeneuve en données",
                                          publisher="Commune de Villeneuve"))


@pytest.fixture
def publication(tmp_path: Path) -> Publication:
    return make_publication(tmp_path / "run")


class TestLocalTarget(TargetContract):
    pass


def test_the_csv_is_the_one_every_target_publishes(target, publication, portal, tmp_path):
    # The CSV's own format belongs to moisson.connectors.csvfile (tested there): the portal must publish
    # exactly those bytes, the ones data.gouv.fr and Opendatasoft get too.
    target.publish(publication)
    published = (portal / "equipements-sportifs" / "equipements-sportifs.csv").read_bytes()
    dates = frozenset(f["name"] for f in SCHEMA["fields"] if f["type"] == "date")
    write_csv(publication.data, tmp_path / "expected.csv", dates)
    assert published == (tmp_path / "expected.csv").read_bytes()
    rows = list(csv.reader(io.StringIO(published.decode("utf-8"))))
    assert rows[0] == ["nom", "capacite", "surface", "accessible", "mise_en_service", "derniere_visite", "geom"]
    assert rows[1][0] == 'Salle "Jean Moulin", annexe' and rows[1][4] == "2019-03-01"


def test_without_table_schema_timestamps_keep_their_time(target, tmp_path, portal):
    target.publish(make_publication(tmp_path / "run", schema=None))
    rows = list(csv.reader(io.StringIO((portal / "equipements-sportifs" / "equipements-sportifs.csv").read_text())))
    assert rows[2][4] == "2020-01-15T00:00:00"


def test_geojson_is_a_lon_lat_feature_collection(target, publication, portal):
    target.publish(publication)
    collection = read_json(portal / "equipements-sportifs" / "equipements-sportifs.geojson")
    assert collection["type"] == "FeatureCollection"
    features = collection["features"]
    assert len(features) == publication.rows == 3
    assert features[0]["geometry"] == {"type": "Point", "coordinates": [3.0573, 50.6292]}
    lon, lat = features[2]["geometry"]["coordinates"]
    assert -180 <= lon <= 180 and 45 < lat < 52, "RFC 7946 order is longitude, latitude"
    assert features[1]["geometry"] is None
    assert features[0]["properties"] == {
        "nom": 'Salle "Jean Moulin", annexe', "capacite": 120, "surface": 350.5, "accessible": True,
        "mise_en_service": "2019-03-01", "derniere_visite": "2024-05-02T14:30:00"}
    assert features[1]["properties"]["capacite"] is None and features[2]["properties"]["nom"] is None


def test_geojson_is_written_across_batches(target, tmp_path, portal, monkeypatch):
    monkeypatch.setattr(geojson_writer, "BATCH_ROWS", 2)
    names = [f"Équipement {i}" for i in range(5)]
    frame = pd.DataFrame({"nom": pd.array(names, dtype="string"),
                          "geom": [json.dumps({"type": "Point", "coordinates": [3.0 + i / 100, 50.6]})
                                   for i in range(5)]})
    target.publish(make_publication(tmp_path / "run", frame=frame, schema=None))
    folder = portal / "equipements-sportifs"
    features = read_json(folder / "equipements-sportifs.geojson")["features"]
    assert [f["properties"]["nom"] for f in features] == names
    assert len((folder / "equipements-sportifs.csv").read_text().splitlines()) == 6


def test_datapackage_is_valid_and_describes_the_files(target, publication, portal):
    target.publish(publication)
    folder = portal / "equipements-sportifs"
    descriptor = read_json(folder / "datapackage.json")
    assert list(frictionless.Package.metadata_validate(descriptor)) == []
    report = frictionless.validate(str(folder / "datapackage.json"))
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])
    assert descriptor["name"] == "equipements-sportifs"
    assert descriptor["licenses"] == [{"name": "lov2", "title": "Licence Ouverte / Open Licence version 2.0",
                                       "path": LOV2_URL}]
    csv_resource, geojson_resource = descriptor["resources"]
    assert csv_resource["schema"] == SCHEMA
    assert geojson_resource["mediatype"] == "application/geo+json"
    csv_bytes = (folder / "equipements-sportifs.csv").read_bytes()
    assert csv_resource["bytes"] == len(csv_bytes)
    assert csv_resource["hash"] == "sha256:" + hashlib.sha256(csv_bytes).hexdigest()
    extras = descriptor["moisson"]
    assert extras["frequency"] == "monthly" and extras["rows"] == 3
    assert extras["spatial"]["zones"] == ["fr:commune:59350"]
    assert extras["temporal"] == {"start": "2019-01-01", "end": "2024-12-31"}
    assert extras["contact"]["email"] == "sig@villeneuve.example"
    assert extras["content_hash"] == publication.content_hash
    assert extras["metadata_hash"] == publication.metadata_hash


def test_catalog_lists_every_dataset_as_dcat_ap(target, tmp_path, portal):
    target.publish(make_publication(tmp_path / "a"))
    target.publish(make_publication(tmp_path / "b", "bancs-publics", geometry=None, frequency="annual",
                                    license="odc-odbl"))
    catalog = read_json(portal / "catalog.jsonld")
    assert catalog["@type"] == "dcat:Catalog"
    assert {"dcat", "dct", "foaf", "vcard", "adms", "spdx", "schema"} <= set(catalog["@context"])
    datasets = {d["dct:identifier"]: d for d in catalog["dcat:dataset"]}
    assert set(datasets) == {"equipements-sportifs", "bancs-publics"}
    sport = datasets["equipements-sportifs"]
    assert sport["@id"] == BASE_URL + "equipements-sportifs/"
    assert (sport["dct:license"]["@id"], sport["dct:license"]["rdfs:label"]) == (LOV2_URL, "lov2")
    assert sport["dct:accrualPeriodicity"] == {"@id": MONTHLY}
    assert datasets["bancs-publics"]["dct:accrualPeriodicity"]["@id"].endswith("/frequency/ANNUAL")
    assert datasets["bancs-publics"]["dct:license"]["@id"] == "http://opendatacommons.org/licenses/odbl/summary/"
    assert datasets["bancs-publics"]["dct:license"]["rdfs:label"] == "odc-odbl"
    assert sport["dcat:contactPoint"]["vcard:hasEmail"] == {"@id": "mailto:sig@villeneuve.example"}
    assert sport["dct:temporal"]["dcat:startDate"]["@value"] == "2019-01-01"
    assert sport["dct:temporal"]["dcat:endDate"]["@value"] == "2024-12-31"
    zones = [loc.get("dct:identifier") for loc in sport["dct:spatial"]]
    assert "fr:commune:59350" in zones
    bbox = next(loc for loc in sport["dct:spatial"] if "locn:geometry" in loc)
    assert json.loads(bbox["locn:geometry"]["@value"])["coordinates"][0][0] == [3.0, 50.6]
    assert bbox["dcat:bbox"]["@value"].startswith("POLYGON((3.0 50.6, ")
    csv_dist, geojson_dist = sport["dcat:distribution"]
    csv_path = portal / "equipements-sportifs" / "equipements-sportifs.csv"
    assert csv_dist["dcat:downloadURL"] == {"@id": BASE_URL + "equipements-sportifs/equipements-sportifs.csv"}
    assert csv_dist["dct:format"]["@id"].endswith("/file-type/CSV")
    assert int(csv_dist["dcat:byteSize"]["@value"]) == csv_path.stat().st_size
    assert csv_dist["spdx:checksum"]["spdx:checksumValue"] == hashlib.sha256(csv_path.read_bytes()).hexdigest()
    assert geojson_dist["dcat:mediaType"]["@id"].endswith("application/geo+json")
    assert len(datasets["bancs-publics"]["dcat:distribution"]) == 1, "no geometry, no GeoJSON"


def test_base_url_is_required_unless_the_portal_is_not_harvestable():
    with pytest.raises(ValueError, match=r"`base_url` est obligatoire.*harvestable: false"):
        LocalTarget.Config(path=Path("portal"))
    with pytest.raises(ValueError, match=r"adresse http\(s\) absolue"):
        LocalTarget.Config(path=Path("portal"), base_url="opendata/")


def test_a_portal_nobody_harvests_keeps_relative_links(tmp_path):
    target = LocalTarget(LocalTarget.Config(path=tmp_path / "portal", harvestable=False))
    result = target.publish(make_publication(tmp_path / "run"))
    assert result.url == (tmp_path / "portal" / "equipements-sportifs" / "index.html").as_posix()
    dataset = read_json(tmp_path / "portal" / "catalog.jsonld")["dcat:dataset"][0]
    assert dataset["@id"] == "equipements-sportifs/"
    assert dataset["dcat:distribution"][0]["dcat:downloadURL"] == {
        "@id": "equipements-sportifs/equipements-sportifs.csv"}


def test_pages_escape_html_and_speak_french(target, tmp_path, portal):
    target.publish(make_publication(tmp_path / "run", description="<script>alert('pirate')</script> & *co*",
                                    title="Bancs <b>publics</b>"))
    index = (portal / "index.html").read_text(encoding="utf-8")
    page = (portal / "equipements-sportifs" / "index.html").read_text(encoding="utf-8")
    for html_text in (index, page):
        assert "<script>alert" not in html_text and "<b>publics" not in html_text
        assert "Bancs &lt;b&gt;publics&lt;/b&gt;" in html_text
        assert '<html lang="fr">' in html_text
    assert "&lt;script&gt;alert('pirate')&lt;/script&gt; &amp; <em>co</em>" in page, "Markdown, HTML as text"
    assert 'href="equipements-sportifs/index.html"' in index
    assert "archivés" not in index
    assert "mensuelle" in page
    assert "Licence Ouverte / Open Licence version 2.0" in page
    assert "Service des sports" in page
    assert '<time datetime="2019-01-01">01/01/2019</time>' in page
    assert 'href="equipements-sportifs.csv"' in page and 'href="equipements-sportifs.geojson"' in page
    assert 'href="datapackage.json"' in page


def test_archive_keeps_files_and_moves_the_dataset_aside(target, tmp_path, portal):
    sport = make_publication(tmp_path / "a")
    first = target.publish(sport)
    target.publish(make_publication(tmp_path / "b", "bancs-publics", title="Bancs publics"))
    files = snapshot(portal / "equipements-sportifs")
    result = target.archive(sport.dataset, state_after(sport, first))
    assert (result.status, result.remote_id, result.changes) == ("archived", "equipements-sportifs", ("archived",))
    after = snapshot(portal / "equipements-sportifs")
    assert {k: v for k, v in after.items() if k not in ("datapackage.json", "index.html")} == {
        k: v for k, v in files.items() if k not in ("datapackage.json", "index.html")}
    assert read_json(portal / "equipements-sportifs" / "datapackage.json")["moisson"]["archived"]
    ids = [d["dct:identifier"] for d in read_json(portal / "catalog.jsonld")["dcat:dataset"]]
    assert ids == ["bancs-publics"]
    page = (portal / "index.html").read_text(encoding="utf-8")
    published, archived = page.split('<h2 id="archives">')
    assert "Équipements sportifs" in archived and "Équipements sportifs" not in published
    assert "Bancs publics" in published
    again = target.archive(sport.dataset, state_after(sport, first))
    assert (again.status, again.changes) == ("archived", ())


def test_publishing_an_archived_dataset_brings_it_back(target, publication, portal):
    first = target.publish(publication)
    target.archive(publication.dataset, state_after(publication, first))
    again = republish(publication, first)
    assert target.plan(again).changes == ("unarchived",)
    assert target.publish(again).status == "updated"
    assert "archived" not in read_json(portal / "equipements-sportifs" / "datapackage.json")["moisson"]
    assert len(read_json(portal / "catalog.jsonld")["dcat:dataset"]) == 1


def test_archiving_an_unknown_dataset_is_not_found(target):
    with pytest.raises(NotFoundError, match="n'a pas de jeu de données 'ghost'") as info:
        target.archive(DatasetDescriptor(id="ghost", locator={}), RemoteState(remote_id="ghost"))
    assert not info.value.retryable and info.value.dataset_id == "ghost"


def test_plan_names_what_changed_and_writes_nothing(target, publication, portal):
    assert target.plan(publication).action == "create"
    assert not portal.exists()
    first = target.publish(publication)
    before = snapshot(portal)
    metadata_only = republish(publication, first, metadata_hash=hashlib.sha256(b"new title").hexdigest())
    plan = target.plan(metadata_only)
    assert (plan.action, plan.changes) == ("update", ("metadata",))
    both = republish(publication, first, content_hash="0" * 64, metadata_hash="1" * 64)
    assert target.plan(both).changes == ("data", "metadata")
    assert snapshot(portal) == before


def test_unchanged_publication_writes_nothing(target, publication, portal):
    first = target.publish(publication)
    stamps = {p: p.stat().st_mtime_ns for p in portal.rglob("*")}
    result = target.publish(republish(publication, first))
    assert (result.status, result.url) == ("unchanged", BASE_URL + "equipements-sportifs/")
    assert {p: p.stat().st_mtime_ns for p in portal.rglob("*")} == stamps


def test_files_removed_by_hand_are_written_again(target, publication, portal):
    first = target.publish(publication)
    (portal / "equipements-sportifs" / "datapackage.json").unlink()
    again = republish(publication, first)
    assert again.unchanged, "the state store believes the portal is current"
    assert target.publish(again).status == "created"
    assert (portal / "equipements-sportifs" / "datapackage.json").is_file()


def test_update_replaces_the_whole_set_of_files(target, tmp_path, portal):
    first = target.publish(make_publication(tmp_path / "a"))
    changed = make_publication(tmp_path / "b", frame=equipements(("Piscine", "Dojo", "Skatepark")), geometry=None)
    changed = dataclasses.replace(changed, previous=RemoteState(remote_id=first.remote_id, content_hash="old",
                                                                metadata_hash=changed.metadata_hash))
    result = target.publish(changed)
    assert (result.status, result.changes) == ("updated", ("data",))
    folder = portal / "equipements-sportifs"
    assert sorted(p.name for p in folder.iterdir()) == ["datapackage.json", "equipements-sportifs.csv",
                                                         "index.html", "vue.json"]
    assert "Piscine" in (folder / "equipements-sportifs.csv").read_text()
    assert [p.name for p in portal.iterdir() if p.name.startswith(".")] == [".moisson.lock"]


@pytest.mark.parametrize(("failure", "raised"), [
    (OSError(28, "No space left on device"), UnavailableError),
    (RuntimeError("killed"), RuntimeError),
])
def test_failure_mid_write_keeps_the_previous_version(target, tmp_path, portal, monkeypatch, failure, raised):
    first = target.publish(make_publication(tmp_path / "a"))
    before = snapshot(portal)

    def broken(*args: Any) -> None:
        raise failure

    monkeypatch.setattr(local, "write_geojson", broken)
    changed = make_publication(tmp_path / "b", frame=equipements(("Piscine", "Dojo", "Skatepark")))
    changed = dataclasses.replace(changed, previous=RemoteState(remote_id=first.remote_id))
    with pytest.raises(raised):
        target.publish(changed)
    assert snapshot(portal) == before, "the published files, catalog and index are untouched"
    assert [p.name for p in portal.iterdir() if p.name.startswith(".")] == [".moisson.lock"]


def test_write_errors_tell_what_to_do(target, publication, monkeypatch):
    def full(*args: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(local, "write_csv", full)
    with pytest.raises(UnavailableError, match="place libre") as info:
        target.publish(publication)
    assert info.value.retryable and info.value.dataset_id == "equipements-sportifs"


def test_a_crash_between_the_two_renames_is_recovered(target, tmp_path, publication, portal):
    first = target.publish(publication)
    files = snapshot(portal / "equipements-sportifs")
    # What a crash right after moving the old folder aside leaves behind.
    (portal / "equipements-sportifs").rename(portal / f".equipements-sportifs.old-{'a' * 32}")
    (portal / f".bancs.new-{'b' * 32}").mkdir()
    (portal / ".htaccess").write_text("Options -Indexes\n")
    again = republish(publication, first)
    assert target.plan(again).changes == ("portal",), "the live folder is missing: the portal is stale"
    assert target.publish(again).status == "unchanged", "once the folder is back, catalog and pages agree"
    assert snapshot(portal / "equipements-sportifs") == files, "put back as it was, not rewritten"
    assert sorted(p.name for p in portal.iterdir() if p.name.startswith(".")) == [".htaccess", ".moisson.lock"]


def test_geometry_that_is_not_wgs84_is_rejected_with_its_row(target, tmp_path, portal):
    frame = equipements()
    frame.loc[2, "geom"] = '{"type": "Point", "coordinates": [704000.0, 7059000.0]}'
    with pytest.raises(RejectedError, match=r"ligne 3, colonne 'geom'.*WGS84") as info:
        target.publish(make_publication(tmp_path / "run", frame=frame))
    assert info.value.dataset_id == "equipements-sportifs"
    assert not (portal / "equipements-sportifs").exists()


def test_geometry_that_is_not_geojson_is_rejected(target, tmp_path):
    frame = equipements()
    frame.loc[0, "geom"] = "POINT (3.05 50.62)"
    with pytest.raises(RejectedError, match=r"ligne 1, colonne 'geom'.*n'est pas une géométrie GeoJSON"):
        target.publish(make_publication(tmp_path / "run", frame=frame))


def test_missing_geometry_column_is_rejected(target, tmp_path):
    with pytest.raises(RejectedError, match="la colonne de géométrie 'the_geom' n'est pas dans les données"):
        target.publish(make_publication(tmp_path / "run", geometry="the_geom"))


def test_an_id_that_is_not_a_folder_name_is_rejected(target, publication):
    escaping = dataclasses.replace(publication, dataset=dataclasses.replace(publication.dataset, id="../www"))
    with pytest.raises(RejectedError, match="ne peut pas nommer un dossier"):
        target.publish(escaping)


def test_concurrent_publications_all_reach_the_catalog(target, tmp_path, portal):
    publications = [make_publication(tmp_path / str(i), f"jeu-{i}", geometry=None) for i in range(6)]
    errors: list[BaseException] = []

    def run(publication: Publication) -> None:
        try:
            target.publish(publication)
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=run, args=(p,)) for p in publications]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    ids = {d["dct:identifier"] for d in read_json(portal / "catalog.jsonld")["dcat:dataset"]}
    assert ids == {f"jeu-{i}" for i in range(6)}


def test_every_frequency_has_a_french_label_and_an_eu_uri():
    assert len({f.eu for f in FREQUENCIES.values()}) == len(FREQUENCIES) == 40
    assert len({f.label for f in FREQUENCIES.values()}) >= 39  # twelveHours and semidaily read alike
    assert label("monthly") == "mensuelle"


def typed_column(kind: str, values: list[Any]) -> Any:
    """The pandas column quality's cast would give for a Table Schema type."""
    if kind == "date":
        return pd.to_datetime(values)
    if kind == "geopoint":
        values = [json.dumps([float(v) for v in value]) for value in values]
    return pd.array(values, dtype={"integer": "Int64", "number": "Float64", "boolean": "boolean"}.get(kind, "string"))


def test_a_real_scdl_schema_validates_the_published_csv(target, tmp_path, portal):
    folder = REFERENCE / "scdl" / "stationnement-cyclable"
    if not folder.is_dir():
        pytest.skip(f"reference data absent: {folder}")
    schema = read_json(folder / "schema.json")
    rows = frictionless.Resource(str(folder / "exemple-valide.csv"),
                                 schema=frictionless.Schema.from_descriptor(schema)).read_rows()
    frame = pd.DataFrame({field["name"]: typed_column(field["type"], [row[field["name"]] for row in rows])
                          for field in schema["fields"]})
    target.publish(make_publication(tmp_path / "run", "stationnement-cyclable", frame=frame, geometry=None,
                                    schema=schema))
    report = frictionless.validate(str(portal / "stationnement-cyclable" / "datapackage.json"))
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])


def test_a_folder_placed_by_hand_joins_the_catalog(target, publication, portal):
    budget = portal / "budget-primitif"
    budget.mkdir(parents=True)
    (budget / "budget.csv").write_text("chapitre,montant\n011,1200\n", encoding="utf-8")
    (budget / "datapackage.json").write_text(json.dumps({
        "name": "budget-primitif", "title": "Budget primitif 2025", "licenses": [{"name": "etalab-2.0"}],
        "resources": [{"name": "budget", "path": "budget.csv", "format": "csv", "mediatype": "text/csv"}]}))
    target.publish(publication)
    datasets = {d["dct:identifier"]: d for d in read_json(portal / "catalog.jsonld")["dcat:dataset"]}
    assert datasets["budget-primitif"]["dct:license"]["@id"] == LOV2_URL
    assert datasets["budget-primitif"]["dcat:distribution"][0]["dcat:downloadURL"] == {
        "@id": BASE_URL + "budget-primitif/budget.csv"}
    assert "Budget primitif 2025" in (portal / "index.html").read_text(encoding="utf-8")


def test_a_broken_datapackage_is_named_in_the_error(target, tmp_path, portal):
    target.publish(make_publication(tmp_path / "a"))
    broken = portal / "equipements-sportifs" / "datapackage.json"
    broken.write_text('{"name": "equipements-sportifs",', encoding="utf-8")
    with pytest.raises(RejectedError, match=r"equipements-sportifs/datapackage.json n'est pas un JSON valide") as info:
        target.publish(make_publication(tmp_path / "b", "bancs-publics"))
    assert info.value.dataset_id == "equipements-sportifs"


def test_moisson_check_names_the_line_of_a_portal_without_base_url(tmp_path):
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text("sources:\n  tableurs: {connector: spreadsheet, config: {root: .}}\n"
                       "targets:\n  portail:\n    connector: local\n    config:\n      path: portal\n"
                       "datasets: []\n", encoding="utf-8")
    with pytest.raises(CatalogError, match="`base_url` est obligatoire") as info:
        load_catalog(catalog)
    assert (info.value.file, info.value.line) == (str(catalog), 6), "the line of the portal's config"
    assert "targets.portail.config" in str(info.value)
    catalog.write_text(catalog.read_text().replace("path: portal", "path: portal\n      harvestable: false"))
    assert load_catalog(catalog).model.targets["portail"].config["harvestable"] is False


def test_a_blocked_dataset_keeps_its_files_says_since_when_until_a_version_passes(target, publication, portal):
    first = target.publish(publication)
    files = {k: v for k, v in snapshot(portal / "equipements-sportifs").items()
             if k not in ("datapackage.json", "index.html")}
    result = target.block(publication.dataset, reason="6 erreurs de qualité", since="2026-11-02T03:00:00+00:00")
    assert (result.status, result.changes) == ("skipped", ("blocked",))
    target.block(publication.dataset, reason="7 erreurs de qualité", since="2026-11-09T03:00:00+00:00")
    blocked = read_json(portal / "equipements-sportifs" / "datapackage.json")["moisson"]["blocked"]
    assert blocked == {"since": "2026-11-02T03:00:00+00:00", "reason": "7 erreurs de qualité"}, "since the first"
    page = (portal / "equipements-sportifs" / "index.html").read_text(encoding="utf-8")
    assert "Dernière version bloquée</strong> depuis le" in page and "02/11/2026" in page
    assert {k: v for k, v in snapshot(portal / "equipements-sportifs").items()
            if k not in ("datapackage.json", "index.html")} == files, "the good version stays online"
    again = republish(publication, first)
    assert target.plan(again).changes == ("unblocked",)
    assert target.publish(again).status == "updated"
    assert "blocked" not in read_json(portal / "equipements-sportifs" / "datapackage.json")["moisson"]
    with pytest.raises(NotFoundError, match="première version a été bloquée"):
        target.block(DatasetDescriptor(id="jamais-publie", locator={}), reason="erreurs")
