"""The geopackage source, on GeoPackages built with the demo generator's writer."""

from __future__ import annotations

import csv
import hashlib
import json
import sqlite3
import struct
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pyarrow.parquet as pq
import pytest
import shapely
from pyproj import Transformer

from moisson.connectors.base import DatasetDescriptor
from moisson.connectors.sources.geopackage import GeoPackageConfig, GeoPackageSource, gpkg_to_wkb
from moisson.connectors.sqlrows import CHUNK_ROWS
from moisson.connectors.testing import SourceContract
from moisson.core.errors import ConfigError, NotFoundError, RejectedError
from moisson.deployments.demo.make_geopackage import COLUMNS, demo_rows, gpkg_blob, write_demo, write_layer
from tests.data import REFERENCE, REPO

DEMO = REPO / "deployments" / "demo" / "stationnements-velos.gpkg"
TO_L93 = Transformer.from_crs(4326, 2154, always_xy=True)
LILLE = (3.0635282, 50.6365654)  # Grand-Place de Lille, lon/lat
BOWTIE = shapely.from_wkt("POLYGON((700000 6600000, 700100 6600100, 700100 6600000, 700000 6600100, "
                          "700000 6600000))")


def source_for(path: Path) -> GeoPackageSource:
    return GeoPackageSource(GeoPackageSource.Config(path=path))


def dataset(locator: dict, dataset_id: str = "velos") -> DatasetDescriptor:
    return DatasetDescriptor(id=dataset_id, locator=locator)


def read(result) -> list[dict]:
    return pq.read_table(result.path).to_pylist()


@pytest.fixture
def gpkg(tmp_path: Path) -> Path:
    """Twelve demo bike racks, an attribute table and a layer whose name needs a slug."""
    path = tmp_path / "sig.gpkg"
    write_layer(path, "stationnements_velos", demo_rows(12), COLUMNS, identifier="Stationnements vélos",
                description="Arceaux de la commune", last_change="2025-03-14T09:30:00.000Z")
    write_layer(path, "Référentiel_Voies", [{"code": "V001", "nom": "Rue de l'Église", "longueur": 412.5}],
                {"code": "TEXT", "nom": "TEXT", "longueur": "REAL"}, geometry_type=None)
    return path


class TestGeoPackageSource(SourceContract):
    missing_locator: ClassVar[dict[str, Any]] = {"layer": "no_such_layer"}

    @pytest.fixture
    def source(self, gpkg: Path) -> GeoPackageSource:
        return source_for(gpkg)

    @pytest.fixture
    def dataset(self, source: GeoPackageSource) -> DatasetDescriptor:
        return next(d for d in source.discover() if d.id == "stationnements-velos")


# GeoPackageBinary header

def test_decodes_a_blob_written_by_hand():
    # POINT(1 2), srs_id 4326, little-endian header without envelope (flags 0x01).
    blob = bytes.fromhex("47500001" "E6100000" "0101000000" "000000000000F03F" "0000000000000040")
    assert shapely.from_wkb(gpkg_to_wkb(blob)) == shapely.Point(1, 2)


@pytest.mark.parametrize("big_endian", [False, True])
@pytest.mark.parametrize(("envelope", "doubles"), [(0, 0), (1, 4), (2, 6), (3, 6), (4, 8)])
def test_decodes_every_envelope_and_byte_order(envelope: int, doubles: int, big_endian: bool):
    geom = shapely.Polygon([(0, 0, 1), (10, 0, 2), (10, 5, 3), (0, 0, 1)])
    blob = gpkg_blob(geom, 2154, envelope=envelope, big_endian=big_endian)
    assert blob[3] & 1 == (0 if big_endian else 1)
    assert (blob[3] >> 1) & 0b111 == envelope
    assert struct.unpack(">i" if big_endian else "<i", blob[4:8]) == (2154,)
    wkb = gpkg_to_wkb(blob)
    assert len(blob) - len(wkb) == 8 + 8 * doubles
    assert shapely.equals_exact(shapely.from_wkb(wkb), geom, tolerance=0)


def test_decodes_an_empty_geometry():
    blob = gpkg_blob(shapely.Point(), 2154)
    assert blob[3] & 0b10000, "empty flag set"
    assert shapely.from_wkb(gpkg_to_wkb(blob)).is_empty


@pytest.mark.parametrize(("blob", "message"), [
    (b"XX\x00\x01\x00\x00\x00\x00\x01\x01", "no 'GP' header"),
    (b"GP\x00\x21\x00\x00\x00\x00\x01\x01", "extended"),
    (b"GP\x00\x0b\x00\x00\x00\x00\x01\x01", "envelope indicator 5"),
    (b"GP\x00\x03\x00\x00\x00\x00" + b"\x00" * 16, "truncated"),
])
def test_rejects_damaged_blobs(blob: bytes, message: str):
    with pytest.raises(ValueError, match=message):
        gpkg_to_wkb(blob)


# discover

def test_discover_describes_each_table(gpkg: Path):
    found = {d.id: d for d in source_for(gpkg).discover()}
    assert set(found) == {"stationnements-velos", "referentiel-voies"}
    velos = found["stationnements-velos"]
    assert velos.locator == {"layer": "stationnements_velos"}
    assert velos.metadata.title == "Stationnements vélos"
    assert velos.metadata.description == "Arceaux de la commune"
    assert velos.metadata.modified.isoformat() == "2025-03-14T09:30:00+00:00"
    west, south, east, north = velos.metadata.spatial.bbox
    assert 2.97 < west < east < 3.0 and 50.68 < south < north < 50.70, "WGS84 lon/lat near Lille"
    voies = found["referentiel-voies"]
    assert voies.locator == {"layer": "Référentiel_Voies"} and voies.metadata.spatial is None
    assert not {"spatial", "description"} & voies.metadata.model_fields_set


def test_discover_gives_distinct_ids_to_names_with_the_same_slug(tmp_path: Path):
    path = tmp_path / "twins.gpkg"
    for name in ("Voirie", "voirie_"):  # SQLite table names ignore case
        write_layer(path, name, [{"n": 1}], {"n": "INTEGER"}, geometry_type=None)
    assert sorted(d.id for d in source_for(path).discover()) == ["voirie", "voirie-2"]


# extract

def test_extract_writes_text_and_wgs84_geojson(gpkg: Path, tmp_path: Path):
    result = source_for(gpkg).extract(dataset({"layer": "stationnements_velos", "geometry": {
        "xy": "coordonneesxy", "lonlat": ["lon", "lat"], "wkt": "wkt"}}), tmp_path / "out")
    rows = read(result)
    assert result.path == tmp_path / "out" / "velos.parquet"
    assert result.rows == len(rows) == 12 and result.first_row == 2 and result.geometry == "geometry"
    assert list(rows[0]) == [*COLUMNS, "geometry", "lon", "lat", "coordonneesxy", "wkt"]
    assert "fid" not in rows[0], "the feature id is not an attribute"
    first, third = rows[0], rows[2]
    assert first["capacite"] == "4" and first["capacite_cargo"] is None, "integers as text, nulls stay null"
    assert third["capacite_cargo"] == "2" and first["gratuit"] == "1" and first["date_maj"] == "2025-01-10"
    lon, lat = json.loads(first["geometry"])["coordinates"]
    assert 2.97 < lon < 3.0 and 50.68 < lat < 50.70
    assert first["coordonneesxy"] == f"[{first['lon']},{first['lat']}]" and json.loads(
        first["coordonneesxy"]) == [lon, lat]
    assert first["wkt"] == f"POINT ({first['lon']} {first['lat']})"
    west, south, east, north = result.metadata["spatial"]["bbox"]
    assert west <= lon <= east and south <= lat <= north
    assert result.metadata["modified"] == "2025-03-14T09:30:00+00:00"
    assert result.notes == ["coordonnées converties en WGS84 (longitude, latitude) depuis EPSG:2154 "
                            "(RGF93 v1 / Lambert-93), comme le déclare le fichier."]
    assert result.notes[0].say("en") == ("Coordinates converted to WGS84 (longitude, latitude) from EPSG:2154 "
                                         "(RGF93 v1 / Lambert-93), as declared in the file.")


def test_point_near_lille_round_trip(tmp_path: Path):
    path = tmp_path / "lille.gpkg"
    write_layer(path, "places", [{"nom": "Grand-Place", "geom": shapely.Point(*TO_L93.transform(*LILLE))}],
                {"nom": "TEXT"})
    [row] = read(source_for(path).extract(dataset({"layer": "places", "geometry": {"lonlat": ["x", "y"]}}),
                                          tmp_path))
    assert (float(row["x"]), float(row["y"])) == pytest.approx(LILLE, abs=2e-7)


def test_real_values_and_attribute_tables(gpkg: Path, tmp_path: Path):
    result = source_for(gpkg).extract(dataset({"layer": "Référentiel_Voies"}), tmp_path)
    assert read(result) == [{"code": "V001", "nom": "Rue de l'Église", "longueur": "412.5"}]
    assert result.geometry is None and "spatial" not in result.metadata
    with pytest.raises(ConfigError, match="table sans géométrie"):
        source_for(gpkg).extract(dataset({"layer": "Référentiel_Voies", "geometry": {"xy": "xy"}}), tmp_path)


def test_columns_select_and_order_output(gpkg: Path, tmp_path: Path):
    locator = {"layer": "stationnements_velos", "columns": ["capacite", "coordonneesxy", "id_local", "fid"],
               "geometry": {"xy": "coordonneesxy"}}
    rows = read(source_for(gpkg).extract(dataset(locator), tmp_path))
    assert list(rows[0]) == ["capacite", "coordonneesxy", "id_local", "fid", "geometry"]
    assert [r["fid"] for r in rows[:3]] == ["1", "2", "3"]


def test_unknown_column_lists_the_columns(gpkg: Path, tmp_path: Path):
    with pytest.raises(ConfigError) as info:
        source_for(gpkg).extract(dataset({"layer": "stationnements_velos", "columns": ["capacity"]}), tmp_path)
    message = str(info.value)
    assert "[velos · geopackage]" in message and "pas de colonne 'capacity'" in message
    assert "capacite" in message and "Corrigez `columns`" in message


def test_geometry_output_replaces_a_stored_column_with_a_note(tmp_path: Path):
    path = tmp_path / "old.gpkg"
    write_layer(path, "racks", [{"xy": "[0,0]", "geom": shapely.Point(*TO_L93.transform(*LILLE))}],
                {"xy": "TEXT"})
    result = source_for(path).extract(dataset({"layer": "racks", "geometry": {"xy": "xy"}}), tmp_path)
    assert read(result)[0]["xy"] != "[0,0]"
    assert any("xy de la couche remplacée(s)" in note for note in result.notes)


def test_where_filters_rows(gpkg: Path, tmp_path: Path):
    result = source_for(gpkg).extract(
        dataset({"layer": "stationnements_velos", "where": "mobilier = 'RATELIER' AND commentaires <> ':x'"}),
        tmp_path)
    assert result.rows == 2 and {r["mobilier"] for r in read(result)} == {"RATELIER"}


def test_where_with_a_bad_column_names_the_layer(gpkg: Path, tmp_path: Path):
    with pytest.raises(RejectedError) as info:
        source_for(gpkg).extract(dataset({"layer": "stationnements_velos", "where": "etat = 'actif'"}), tmp_path)
    message = str(info.value)
    assert "la couche 'stationnements_velos'" in message and "no such column: etat" in message
    assert "capacite" in message, "lists the columns to pick from"
    assert not (tmp_path / "velos.parquet").exists(), "no half-written file left"


def test_where_must_be_a_single_condition(gpkg: Path, tmp_path: Path):
    with pytest.raises(ConfigError, match=r"\[velos · geopackage\].*sans ';'"):
        source_for(gpkg).extract(dataset({"layer": "stationnements_velos", "where": "1=1; DROP TABLE x"}),
                                 tmp_path)


def test_bad_locator_names_the_dataset(gpkg: Path, tmp_path: Path):
    with pytest.raises(ConfigError, match=r"\[velos · geopackage\] le `locator` est incorrect \(table : clé inconnue"):
        source_for(gpkg).extract(dataset({"layer": "stationnements_velos", "table": "x"}), tmp_path)
    with pytest.raises(ConfigError, match=r"columns : .*citée deux fois : \['acces'\]"):
        source_for(gpkg).extract(dataset({"layer": "stationnements_velos", "columns": ["acces", "acces"]}),
                                 tmp_path)


def test_unknown_layer_lists_the_layers(gpkg: Path, tmp_path: Path):
    with pytest.raises(NotFoundError) as info:
        source_for(gpkg).extract(dataset({"layer": "stationnement_velo"}), tmp_path)
    assert "n'a pas de couche 'stationnement_velo' ; ses couches sont : Référentiel_Voies, stationnements_velos" in str(
        info.value)


def test_invalid_and_empty_geometries_are_kept_and_noted(tmp_path: Path):
    path = tmp_path / "zones.gpkg"
    geoms = [shapely.box(700000, 6600000, 700100, 6600100), BOWTIE, shapely.Polygon(), None]
    write_layer(path, "zones", [{"nom": f"zone {i}", "geom": g} for i, g in enumerate(geoms)], {"nom": "TEXT"},
                geometry_type="POLYGON")
    with sqlite3.connect(path) as con:  # a blob damaged in transit
        con.execute("UPDATE zones SET geom = X'4750000100000000' WHERE nom = 'zone 0'")
    con.close()
    result = source_for(path).extract(dataset({"layer": "zones"}), tmp_path)
    rows = read(result)
    assert result.rows == 4
    assert rows[0]["geometry"] is None and rows[3]["geometry"] is None
    assert json.loads(rows[1]["geometry"])["type"] == "Polygon"
    assert shapely.from_geojson(rows[2]["geometry"]).is_empty
    notes = " ".join(result.notes)
    assert "1 géométrie(s) invalide(s), gardée(s) telle(s) quelle(s) (ligne 3 : Self-intersection" in notes
    assert "1 géométrie(s) vide(s)" in notes and "1 géométrie(s) illisible(s)" in notes
    assert "1 ligne(s) sans géométrie" in notes


def test_reads_100000_rows_in_chunks(tmp_path: Path):
    path = tmp_path / "big.gpkg"
    n = 100_000
    points = shapely.points(np.column_stack([700000 + np.arange(n) % 1000, 7000000 + np.arange(n) // 1000]))
    write_layer(path, "points", ({"n": i, "geom": p} for i, p in enumerate(points)), {"n": "INTEGER"})
    result = source_for(path).extract(dataset({"layer": "points"}), tmp_path)
    parquet = pq.ParquetFile(result.path)
    assert result.rows == parquet.metadata.num_rows == n
    assert parquet.num_row_groups == -(-n // CHUNK_ROWS), f"written in chunks of {CHUNK_ROWS:,} rows"
    assert pq.read_table(result.path, columns=["n"]).column("n")[-1].as_py() == str(n - 1)


def test_layer_without_crs_is_rejected_unless_the_catalog_gives_one(tmp_path: Path):
    path = tmp_path / "nocrs.gpkg"
    write_layer(path, "racks", [{"geom": shapely.Point(*TO_L93.transform(*LILLE))}], {}, srs_id=0)
    with pytest.raises(RejectedError) as info:
        source_for(path).extract(dataset({"layer": "racks"}), tmp_path)
    message = str(info.value)
    assert "la couche 'racks' de nocrs.gpkg n'a pas de système de coordonnées (srs_id 0)" in message
    assert "QGIS" in message and "`crs: 2154`" in message
    result = source_for(path).extract(dataset({"layer": "racks", "crs": 2154}), tmp_path)
    lon, lat = json.loads(read(result)[0]["geometry"])["coordinates"]
    assert (lon, lat) == pytest.approx(LILLE, abs=2e-7)
    assert "depuis EPSG:2154 (RGF93 v1 / Lambert-93), comme l'indique le `crs` du catalogue" in result.notes[0]


def test_catalog_crs_overrides_a_wrong_declared_one(tmp_path: Path):
    path = tmp_path / "wrong.gpkg"
    write_layer(path, "racks", [{"geom": shapely.Point(*TO_L93.transform(*LILLE))}], {}, srs_id=4326)
    result = source_for(path).extract(dataset({"layer": "racks", "crs": 2154}), tmp_path)
    assert json.loads(read(result)[0]["geometry"])["coordinates"] == pytest.approx(LILLE, abs=2e-7)
    assert "le fichier déclare EPSG:4326 pour cette couche ; le `crs: 2154` du catalogue a été utilisé à la place." in (
        result.notes)


def test_extract_never_modifies_the_file(gpkg: Path, tmp_path: Path):
    before = hashlib.sha256(gpkg.read_bytes()).hexdigest(), gpkg.stat().st_mtime_ns
    source = source_for(gpkg)
    source.check()
    list(source.discover())
    source.extract(dataset({"layer": "stationnements_velos"}), tmp_path / "out")
    assert (hashlib.sha256(gpkg.read_bytes()).hexdigest(), gpkg.stat().st_mtime_ns) == before
    assert sorted(p.name for p in gpkg.parent.iterdir()) == ["out", "sig.gpkg"], "no journal left behind"


# files that are not (good) GeoPackages

def test_missing_file_is_not_found(tmp_path: Path):
    with pytest.raises(NotFoundError, match="n'existe pas : vérifiez le `path`"):
        source_for(tmp_path / "absent.gpkg").check()
    with pytest.raises(NotFoundError, match=r"^\[velos · geopackage\]"):
        source_for(tmp_path / "absent.gpkg").extract(dataset({"layer": "x"}), tmp_path)


def test_folder_and_plain_sqlite_are_config_errors(tmp_path: Path):
    with pytest.raises(ConfigError, match="est un dossier"):
        source_for(tmp_path).check()
    plain = tmp_path / "plain.sqlite"
    with sqlite3.connect(plain) as con:
        con.execute("CREATE TABLE t (a)")
    con.close()
    with pytest.raises(ConfigError, match="base SQLite mais pas un GeoPackage"):
        source_for(plain).check()


def test_damaged_file_is_rejected(tmp_path: Path):
    damaged = tmp_path / "damaged.gpkg"
    damaged.write_bytes(b"PK\x03\x04 this is a zip, renamed" * 100)
    with pytest.raises(RejectedError, match=r"ne peut pas être lu .*abîmé"):
        source_for(damaged).check()
    with pytest.raises(RejectedError, match=r"^\[velos · geopackage\]"):
        source_for(damaged).extract(dataset({"layer": "x"}), tmp_path)


def test_config_forbids_unknown_keys():
    with pytest.raises(ValueError):
        GeoPackageConfig(path="a.gpkg", root="b")


# the demo file

def test_demo_file_is_the_generator_output_and_a_valid_geopackage(tmp_path: Path):
    assert DEMO.stat().st_size < 200_000
    rebuilt = tmp_path / "rebuilt.gpkg"
    assert write_demo(rebuilt) == 40
    assert rebuilt.read_bytes() == DEMO.read_bytes(), "rerun deployments/demo/make_geopackage.py"
    with sqlite3.connect(f"file:{DEMO}?mode=ro", uri=True) as con:
        assert con.execute("PRAGMA application_id").fetchone() == (0x47504B47,)
        assert con.execute("PRAGMA user_version").fetchone() == (10300,)
        assert con.execute("SELECT organization, organization_coordsys_id FROM gpkg_spatial_ref_sys "
                           "WHERE srs_id = 2154").fetchone() == ("EPSG", 2154)
        assert con.execute("SELECT data_type, srs_id, min_x IS NOT NULL FROM gpkg_contents").fetchall() == [
            ("features", 2154, 1)]
        assert con.execute("SELECT column_name, geometry_type_name FROM gpkg_geometry_columns").fetchall() == [
            ("geom", "POINT")]
    con.close()


def test_demo_layer_follows_the_stationnement_cyclable_schema(tmp_path: Path):
    schema_path = REFERENCE / "scdl" / "stationnement-cyclable" / "schema.json"
    if not schema_path.exists():
        pytest.skip(f"reference data absent: {schema_path}")
    from frictionless import Resource, Schema

    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    names = [f["name"] for f in schema["fields"]]
    result = source_for(DEMO).extract(
        dataset({"layer": "stationnements_velos", "columns": names, "geometry": {"xy": "coordonneesxy"}},
                "stationnements-velos"), tmp_path)
    rows = read(result)
    assert list(rows[0]) == [*names, "geometry"]
    csv_path = tmp_path / "velos.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=names, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    schema.pop("custom_checks")
    report = Resource(path=csv_path.name, basepath=str(tmp_path), schema=Schema.from_descriptor(schema)).validate()
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])
    assert len({r["id_local"] for r in rows}) == 40
    assert all(2.97 < json.loads(r["coordonneesxy"])[0] < 3.0 for r in rows)
