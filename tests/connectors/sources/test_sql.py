"""The sql source against the real PostgreSQL + PostGIS on 127.0.0.1:5432 (database `test`), and SQLite."""

from __future__ import annotations

import json
import logging
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import pyarrow.parquet as pq
import pytest
import shapely
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from typer.testing import CliRunner

from moisson.connectors.base import DatasetDescriptor
from moisson.connectors.sources.sql import SqlSource
from moisson.connectors.sqlrows import CHUNK_ROWS
from moisson.connectors.testing import SourceContract
from moisson.core.errors import ConfigError, NotFoundError, RejectedError, UnavailableError
from tests.data import REPO

PG_URL = "postgresql+psycopg://postgres:s3cret-pw@127.0.0.1:5432/test"
DEMO_GPKG = REPO / "deployments" / "demo" / "stationnements-velos.gpkg"

SETUP = """
CREATE TABLE {s}.equipements (
    id integer PRIMARY KEY, nom text NOT NULL, ouvert boolean, capacite integer, tarif numeric(6,2),
    maj timestamptz NOT NULL, geom geometry(Point, 2154));
COMMENT ON TABLE {s}.equipements IS 'Équipements sportifs de la commune';
COMMENT ON COLUMN {s}.equipements.nom IS 'Nom usuel';
INSERT INTO {s}.equipements VALUES
    (1, 'Origine Lambert-93', true, 120, 2.50, '2026-01-10 08:00+01', ST_SetSRID(ST_MakePoint(700000, 6600000), 2154)),
    (2, 'Rue de l''Église', false, NULL, NULL, '2026-02-01 10:30+01', ST_SetSRID(ST_MakePoint(704000, 7059000), 2154)),
    (3, 'Sans géométrie', NULL, 12, 0, '2026-03-05 12:00+01', NULL);
CREATE VIEW {s}.equipements_ouverts AS SELECT id, nom, geom FROM {s}.equipements WHERE ouvert;
CREATE TABLE {s}.parcelles (gid serial PRIMARY KEY, ref text, geom geometry(Polygon, 2154));
INSERT INTO {s}.parcelles (ref, geom) VALUES
    ('ok', ST_GeomFromText('POLYGON((700000 6600000, 700100 6600000, 700100 6600100, 700000 6600000))', 2154)),
    ('noeud', ST_GeomFromText('POLYGON((700000 6600000, 700100 6600100, 700100 6600000, 700000 6600100,
                                        700000 6600000))', 2154)),
    ('vide', ST_GeomFromText('POLYGON EMPTY', 2154)),
    ('absente', NULL);
CREATE TABLE {s}.sans_srid (id integer PRIMARY KEY, geom geometry);
INSERT INTO {s}.sans_srid VALUES (1, ST_MakePoint(700000, 6600000));
CREATE TABLE {s}.grand (id integer PRIMARY KEY, val text);
INSERT INTO {s}.grand SELECT i, 'v' || i FROM generate_series(1, {big}) i;
CREATE SEQUENCE {s}.compteur;
ANALYZE {s}.equipements;
"""


def _reachable() -> str | None:
    try:
        with create_engine(PG_URL, connect_args={"connect_timeout": 3}).connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        return f"PostgreSQL is not reachable on 127.0.0.1:5432 ({str(exc.orig).splitlines()[0]})"
    return None


@contextmanager
def postgis_schema(prefix: str, setup: str) -> Iterator[str]:
    """A schema of our own in the real database, filled by `setup` (`{s}` is its name), dropped afterwards."""
    reason = _reachable()
    if reason:
        pytest.skip(reason)
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    execute(f"CREATE EXTENSION IF NOT EXISTS postgis; CREATE SCHEMA {schema}; {setup.format(s=schema)}")
    try:
        yield schema
    finally:
        execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(scope="module")
def pg_schema() -> Iterator[str]:
    with postgis_schema("moisson_test", SETUP.replace("{big}", str(CHUNK_ROWS * 2 + 17))) as schema:
        yield schema


def pg_source(schema: str, **config: Any) -> SqlSource:
    return SqlSource(SqlSource.Config(url=PG_URL, schema=schema, **config))


def ds(locator: dict[str, Any], dataset_id: str = "equipements") -> DatasetDescriptor:
    return DatasetDescriptor(id=dataset_id, locator=locator)


def rows_of(result) -> list[dict[str, Any]]:
    return pq.read_table(result.path).to_pylist()


def execute(sql: str) -> None:
    engine = create_engine(PG_URL)
    with engine.begin() as conn:
        conn.exec_driver_sql(sql, execution_options={"no_parameters": True})
    engine.dispose()


class TestSqlSource(SourceContract):
    missing_locator: ClassVar[dict[str, Any]] = {"table": "no_such_table"}

    @pytest.fixture
    def source(self, pg_schema: str) -> SqlSource:
        return pg_source(pg_schema)

    @pytest.fixture
    def dataset(self, source: SqlSource) -> DatasetDescriptor:
        return next(d for d in source.discover() if d.id == "equipements")


# Geometry

def test_lambert93_origin_is_3e_46_5n_in_wgs84(pg_schema: str, tmp_path: Path):
    # The Lambert-93 projection is defined with (700000, 6600000) at 3°E, 46.5°N (IGN, décret 2000-1276).
    locator = {"table": "equipements", "id": "id",
               "geometry": {"column": "geom", "lonlat": ["lon", "lat"], "wkt": "wkt"}}
    result = pg_source(pg_schema).extract(ds(locator), tmp_path)
    first = rows_of(result)[0]
    assert json.loads(first["geometry"]) == {"type": "Point", "coordinates": [3.0, 46.5]}
    assert (first["lon"], first["lat"]) == ("3.0", "46.5")
    assert first["wkt"] == "POINT (3 46.5)"
    assert result.geometry == "geometry"
    assert any("par PostGIS depuis EPSG:2154 (RGF93 v1 / Lambert-93)" in note for note in result.notes)


def test_second_point_matches_proj(pg_schema: str, tmp_path: Path):
    # PostGIS and pyproj must agree to the centimetre on a point far from the origin (near Lille).
    from pyproj import Transformer

    lon, lat = Transformer.from_crs(2154, 4326, always_xy=True).transform(704000, 7059000)
    result = pg_source(pg_schema).extract(ds({"table": "equipements", "geometry": "geom"}), tmp_path)
    got = json.loads(rows_of(result)[1]["geometry"])["coordinates"]
    assert got == pytest.approx([lon, lat], abs=1e-7)
    assert 3.0 < got[0] < 3.1 and 50.6 < got[1] < 50.7


def test_invalid_empty_and_missing_geometries_are_kept_and_noted(pg_schema: str, tmp_path: Path):
    result = pg_source(pg_schema).extract(ds({"table": "parcelles"}, "parcelles"), tmp_path)
    rows = {r["ref"]: r for r in rows_of(result)}
    assert result.rows == 4 and set(rows) == {"ok", "noeud", "vide", "absente"}
    assert rows["absente"]["geometry"] is None
    assert shapely.from_geojson(rows["vide"]["geometry"]).is_empty
    assert json.loads(rows["noeud"]["geometry"])["type"] == "Polygon"
    notes = " ".join(result.notes)
    assert "1 géométrie(s) invalide(s), gardée(s) telle(s) quelle(s) (ligne 2 : Self-intersection" in notes
    assert "1 géométrie(s) vide(s)" in notes and "1 ligne(s) sans géométrie" in notes


def test_geometry_without_srid_needs_the_catalog_crs(pg_schema: str, tmp_path: Path):
    source = pg_source(pg_schema)
    with pytest.raises(RejectedError, match=r"pas de système de coordonnées \(SRID 0 dans PostGIS\).*crs: 2154"):
        source.extract(ds({"table": "sans_srid"}, "sans-srid"), tmp_path)
    result = source.extract(ds({"table": "sans_srid", "geometry": {"column": "geom", "crs": 2154}}, "s"), tmp_path)
    assert json.loads(rows_of(result)[0]["geometry"])["coordinates"] == [3.0, 46.5]
    assert "comme l'indique le `crs` du catalogue" in result.notes[0]


# Values, columns, filters

def test_values_are_text_as_the_quality_stage_expects(pg_schema: str, tmp_path: Path):
    result = pg_source(pg_schema).extract(ds({"table": "equipements", "updated_at": "maj",
                                                      "columns": ["id", "ouvert", "capacite", "tarif", "maj"]}),
                                                  tmp_path)
    first, second, third = rows_of(result)
    assert first == {"id": "1", "ouvert": "true", "capacite": "120", "tarif": "2.50",
                     "maj": first["maj"], "geometry": first["geometry"]}
    assert second["ouvert"] == "false" and second["capacite"] is None and third["ouvert"] is None
    assert first["maj"].startswith("2026-01-10T") and first["maj"][19:] in ("+00:00", "+01:00")
    assert list(pq.read_schema(result.path).names) == ["id", "ouvert", "capacite", "tarif", "maj", "geometry"]
    assert result.metadata["description"] == "Équipements sportifs de la commune"
    assert result.metadata["modified"].startswith("2026-03-05")
    assert result.metadata["spatial"]["bbox"][1] == 46.5


def test_where_with_like_and_view(pg_schema: str, tmp_path: Path):
    source = pg_source(pg_schema)
    result = source.extract(ds({"table": "equipements", "where": "nom LIKE 'Rue%'"}), tmp_path)
    assert [r["id"] for r in rows_of(result)] == ["2"]
    view = source.extract(ds({"view": "equipements_ouverts", "id": "id"}, "ouverts"), tmp_path)
    assert [r["nom"] for r in rows_of(view)] == ["Origine Lambert-93"]


def test_unknown_column_and_bad_filter_name_the_dataset(pg_schema: str, tmp_path: Path):
    source = pg_source(pg_schema)
    with pytest.raises(ConfigError, match=r"\[equipements · sql\] la table 'equipements' n'a pas de colonne 'nme' ; "
                                          r"ses colonnes sont : id, nom"):
        source.extract(ds({"table": "equipements", "columns": ["nme"]}), tmp_path)
    with pytest.raises(ConfigError, match=r"a refusé la requête \(column \"etat\" does not exist\).*`where`"):
        source.extract(ds({"table": "equipements", "where": "etat = 'x'"}), tmp_path)
    assert not list(tmp_path.glob("*.parquet")), "a failed extract leaves no partial file"
    with pytest.raises(ConfigError, match=r"n'a pas de colonne 'modifie' \(`updated_at`\)"):
        source.fingerprint(ds({"table": "equipements", "updated_at": "modifie"}))
    with pytest.raises(ConfigError, match=r"n'a pas de colonne 'ident' \(`id`\)"):
        source.extract(ds({"table": "equipements", "id": "ident"}), tmp_path)


def test_unknown_table_lists_the_tables(pg_schema: str, tmp_path: Path):
    with pytest.raises(NotFoundError, match=r"n'a ni table ni vue 'equipement' .*il y a : equipements, "
                                            r"equipements_ouverts, grand, parcelles, sans_srid"):
        pg_source(pg_schema).extract(ds({"table": "equipement"}), tmp_path)


@pytest.mark.parametrize("locator", [{}, {"table": "a", "query": "SELECT 1"}, {"table": "a", "layer": "b"}])
def test_bad_locator_is_a_config_error(pg_schema: str, tmp_path: Path, locator: dict):
    with pytest.raises(ConfigError, match=r"le `locator` est incorrect .* il prend l'une des clés `table`, `view` "
                                          r"ou `query`"):
        pg_source(pg_schema).extract(ds(locator), tmp_path)


def test_streams_in_chunks(pg_schema: str, tmp_path: Path):
    result = pg_source(pg_schema).extract(ds({"table": "grand"}, "grand"), tmp_path)
    parquet = pq.ParquetFile(result.path)
    assert result.rows == parquet.metadata.num_rows == CHUNK_ROWS * 2 + 17
    assert parquet.metadata.num_row_groups == 3
    assert parquet.read_row_group(2).to_pylist()[-1] == {"id": str(CHUNK_ROWS * 2 + 17),
                                                          "val": f"v{CHUNK_ROWS * 2 + 17}"}


# Queries: one read-only SELECT

def test_query_with_cte_and_auto_detected_geometry(pg_schema: str, tmp_path: Path):
    query = (f"WITH o AS (SELECT id, nom, geom FROM {pg_schema}.equipements WHERE geom IS NOT NULL) "
             "SELECT id, upper(nom) AS nom, geom FROM o ORDER BY id;")
    result = pg_source(pg_schema).extract(ds({"query": query}), tmp_path)
    rows = rows_of(result)
    assert [r["nom"] for r in rows] == ["ORIGINE LAMBERT-93", "RUE DE L'ÉGLISE"]
    assert json.loads(rows[0]["geometry"])["coordinates"] == [3.0, 46.5]


@pytest.mark.parametrize(("query", "found"), [
    ("DELETE FROM {s}.equipements", "n'est pas un SELECT en lecture seule (elle contient DELETE)"),
    ("SELECT 1; DROP TABLE {s}.equipements", "contient 2 instructions"),
    ("WITH gone AS (DELETE FROM {s}.equipements RETURNING *) SELECT * FROM gone", "elle contient DELETE"),
    ("SELECT * INTO {s}.copie FROM {s}.equipements", "elle contient INTO"),
    ("SELECT * FROM {s}.equipements FOR UPDATE", "elle contient LOCK"),
    ("UPDATE {s}.equipements SET nom = 'x'", "elle contient UPDATE"),
])
def test_only_a_single_select_is_accepted(pg_schema: str, tmp_path: Path, query: str, found: str):
    source = pg_source(pg_schema)
    with pytest.raises(ConfigError, match=found.replace("(", r"\(").replace(")", r"\)")):
        source.extract(ds({"query": query.format(s=pg_schema)}), tmp_path)
    assert source.extract(ds({"table": "equipements"}), tmp_path).rows == 3, "nothing was written"


def test_the_session_is_read_only_even_for_a_select(pg_schema: str, tmp_path: Path):
    # nextval() writes though the statement is a SELECT: PostgreSQL's read-only session stops it.
    with pytest.raises(RejectedError, match="la requête tente d'écrire"):
        pg_source(pg_schema).extract(ds({"query": f"SELECT nextval('{pg_schema}.compteur') AS n"}), tmp_path)


# Incremental

def test_fingerprint_moves_only_when_rows_change(pg_schema: str):
    source = pg_source(pg_schema)
    dataset = ds({"table": "equipements", "updated_at": "maj"})
    first = source.fingerprint(dataset)
    assert first is not None and first.endswith("|3")
    assert source.fingerprint(dataset) == first, "no newer row: same fingerprint, no export"
    assert source.fingerprint(ds({"table": "equipements"})) is None, "without updated_at the content hash decides"
    execute(f"UPDATE {pg_schema}.equipements SET nom = nom, maj = now() WHERE id = 2")
    second = source.fingerprint(dataset)
    assert second != first
    execute(f"INSERT INTO {pg_schema}.equipements (id, nom, maj) VALUES (9, 'tmp', '2020-01-01')")
    third = source.fingerprint(dataset)
    assert third != second and third.endswith("|4"), "an older row added still counts"
    execute(f"DELETE FROM {pg_schema}.equipements WHERE id = 9")
    assert source.fingerprint(dataset) == second


# Safety

def test_statement_timeout_cancels_a_slow_query(pg_schema: str, tmp_path: Path):
    source = pg_source(pg_schema, statement_timeout=1)
    with pytest.raises(UnavailableError, match="annulée après le délai `statement_timeout` de 1 s") as info:
        source.extract(ds({"query": "SELECT pg_sleep(5) AS x"}), tmp_path)
    assert info.value.retryable


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_database_down_is_retryable_and_never_shows_credentials(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    port = _free_port()
    config = SqlSource.Config(url=f"postgresql://sig_user:s3cret-pw@127.0.0.1:{port}/sig", connect_timeout=2)
    source = SqlSource(config)
    with pytest.raises(UnavailableError) as info:
        source.extract(ds({"table": "equipements"}), tmp_path)
    error = info.value
    assert error.retryable
    assert f"la base de données 127.0.0.1:{port} est injoignable" in str(error)
    for shown in (str(error), repr(error), repr(config), config.model_dump_json(), caplog.text):
        assert "s3cret-pw" not in shown and "sig_user" not in shown
    with pytest.raises(UnavailableError):
        source.check()


def test_wrong_database_name_is_a_config_error():
    source = SqlSource(SqlSource.Config(url="postgresql://postgres@127.0.0.1:5432/no_such_db_moisson"))
    if _reachable():
        pytest.skip(_reachable())
    with pytest.raises(ConfigError, match=r"n'existe pas.*corrigez le nom de la base"):
        source.check()


def test_url_that_is_not_a_url_is_a_config_error():
    with pytest.raises(ConfigError, match="n'est pas une URL SQLAlchemy"):
        SqlSource(SqlSource.Config(url="db.example.fr")).check()


def test_unresolved_secret_reference_is_a_config_error():
    with pytest.raises(ConfigError, match="encore la référence env:SIG_DB_URL"):
        SqlSource(SqlSource.Config(url={"env": "SIG_DB_URL"})).check()


# Discovery

def test_discover_describes_tables_and_views(pg_schema: str):
    found = {d.id: d for d in pg_source(pg_schema).discover()}
    assert set(found) == {"equipements", "equipements-ouverts", "grand", "parcelles", "sans-srid"}
    table = found["equipements"]
    assert table.locator == {"table": "equipements"}
    assert table.metadata.description == "Équipements sportifs de la commune"
    info = table.metadata.extras["source"]
    assert (info["geometry"], info["geometry_type"], info["srid"]) == ("geom", "POINT", 2154)
    assert info["rows_estimate"] == 3
    assert info["columns"][1] == {"name": "nom", "type": "text", "description": "Nom usuel"}
    assert info["columns"][-1]["type"] == "geometry(Point,2154)"
    view = found["equipements-ouverts"]
    assert view.locator == {"view": "equipements_ouverts"}
    assert view.metadata.extras["source"]["kind"] == "view"
    assert view.metadata.extras["source"]["rows_estimate"] is None


def test_cli_discover_json(pg_schema: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from moisson.cli import app

    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(f"version: 1\nsources:\n  sig:\n    connector: sql\n    config: {{url: {{env: SIG_DB_URL}}, "
                       f"schema: {pg_schema}}}\ntargets: {{}}\ndatasets: []\n", encoding="utf-8")
    monkeypatch.setenv("SIG_DB_URL", PG_URL)
    result = CliRunner().invoke(app, ["discover", "sig", "--json", "--catalog", str(catalog)])
    assert result.exit_code == 0, result.output
    listing = json.loads(result.stdout)
    assert listing["source"] == "sig"
    parcelles = next(d for d in listing["datasets"] if d["id"] == "parcelles")
    assert parcelles["metadata"]["extras"]["source"]["geometry_type"] == "POLYGON"
    assert "s3cret-pw" not in result.output


# SQLite and GeoPackage share the code

def test_geopackage_through_sqlite_gives_the_geopackage_source_columns(tmp_path: Path):
    from moisson.connectors.sources.geopackage import GeoPackageSource

    sql = SqlSource(SqlSource.Config(url=f"sqlite:///{DEMO_GPKG}"))
    assert "stationnements_velos" in {d.locator.get("table") for d in sql.discover()}
    locator = {"table": "stationnements_velos", "geometry": {"column": "geom", "crs": 2154}, "id": "fid"}
    ours = rows_of(sql.extract(ds(locator, "velos"), tmp_path / "sql"))
    gpkg = GeoPackageSource(GeoPackageSource.Config(path=DEMO_GPKG))
    theirs = rows_of(gpkg.extract(ds({"layer": "stationnements_velos"}, "velos"), tmp_path / "gpkg"))
    assert [r["geometry"] for r in ours] == [r["geometry"] for r in theirs]
    assert [r["id_local"] for r in ours] == [r["id_local"] for r in theirs]


def test_sqlite_wkt_column_needs_a_crs_and_is_read_only(tmp_path: Path):
    import sqlite3

    path = tmp_path / "points.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE pts (id INTEGER PRIMARY KEY, nom TEXT, wkt TEXT)")
        con.executemany("INSERT INTO pts VALUES (?, ?, ?)", [(1, "origine", "POINT (700000 6600000)"),
                                                             (2, "cassé", "POINT (oops)")])
    source = SqlSource(SqlSource.Config(url=f"sqlite:///{path}"))
    with pytest.raises(RejectedError, match="une base sans PostGIS"):
        source.extract(ds({"table": "pts", "geometry": "wkt"}, "pts"), tmp_path)
    result = source.extract(ds({"table": "pts", "geometry": {"column": "wkt", "crs": 2154}}, "pts"), tmp_path)
    rows = rows_of(result)
    assert json.loads(rows[0]["geometry"])["coordinates"] == [3.0, 46.5] and rows[1]["geometry"] is None
    assert "1 géométrie(s) illisible(s)" in " ".join(result.notes)
    with pytest.raises(ConfigError, match="n'est pas un SELECT en lecture seule"):
        source.extract(ds({"query": "DELETE FROM pts"}, "pts"), tmp_path)


def test_quality_stage_reports_the_invalid_geometry(pg_schema: str, tmp_path: Path):
    from moisson.quality.gate import check_table
    from moisson.quality.policy import QualityPolicy

    result = pg_source(pg_schema).extract(ds({"table": "parcelles", "id": "gid"}, "parcelles"), tmp_path / "x")
    checked = check_table(result.path, dataset_id="parcelles", schema=None, policy=QualityPolicy(),
                          out_dir=tmp_path / "q", geometry=result.geometry, first_row=result.first_row)
    invalid = [e for e in checked.errors if e.rule == "invalid-geometry"]
    assert [(e.row, e.field) for e in invalid] == [(2, "geometry")], checked.errors


def test_geography_column_is_read_as_wgs84(pg_schema: str, tmp_path: Path):
    execute(f"CREATE TABLE {pg_schema}.lieux (id integer PRIMARY KEY, pos geography(Point, 4326)); "
            f"INSERT INTO {pg_schema}.lieux VALUES (1, 'SRID=4326;POINT(3.0635282 50.6365654)')")
    try:
        result = pg_source(pg_schema).extract(ds({"table": "lieux"}, "lieux"), tmp_path)
    finally:
        execute(f"DROP TABLE {pg_schema}.lieux")
    assert json.loads(rows_of(result)[0]["geometry"])["coordinates"] == [3.0635282, 50.6365654]
    assert "depuis EPSG:4326 (WGS 84), comme le déclare la base" in result.notes[0]
