"""Geometry helpers shared by the geographic sources."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import shapely
from pydantic import ValidationError
from pyproj import Transformer

from moisson.connectors.geo import (
    GeometryOutput,
    GeometryStats,
    add_geometry_columns,
    point_columns,
    reproject,
    to_geojson_text,
    to_wkt_text,
    transformer_to_wgs84,
)
from moisson.core.errors import ConfigError

TO_L93 = Transformer.from_crs(4326, 2154, always_xy=True)
LILLE = (3.0635282, 50.6365654)  # Grand-Place de Lille, lon/lat


def l93(lon: float, lat: float) -> shapely.Point:
    return shapely.Point(*TO_L93.transform(lon, lat))


def wkb(*geoms):
    return [None if g is None else shapely.to_wkb(g) for g in geoms]


BOWTIE = shapely.from_wkt("POLYGON((700000 6600000, 700100 6600100, 700100 6600000, 700000 6600100, "
                          "700000 6600000))")


def test_lambert93_reference_point():
    lon, lat = transformer_to_wgs84(2154).transform(700000, 6600000)
    assert lon == pytest.approx(3.0, abs=1e-6)
    assert lat == pytest.approx(46.5, abs=1e-6)
    x, y = TO_L93.transform(3.0, 46.5)
    assert (x, y) == pytest.approx((700000, 6600000), abs=1e-3)


def test_transformer_is_cached_and_lon_lat_ordered():
    assert transformer_to_wgs84(2154) is transformer_to_wgs84(2154)
    # EPSG:4326 lists latitude first; the transformer must not swap a lon/lat point.
    [point] = reproject([shapely.Point(*LILLE)], 4326)
    assert (point.x, point.y) == pytest.approx(LILLE, abs=1e-9)


def test_reproject_accepts_epsg_strings_and_wkt():
    mercator = shapely.Point(Transformer.from_crs(4326, 3857, always_xy=True).transform(*LILLE))
    wkt = transformer_to_wgs84(2154).source_crs.to_wkt()
    [a] = reproject([mercator], "EPSG:3857")
    [b] = reproject([l93(*LILLE)], wkt)
    assert (a.x, a.y) == pytest.approx(LILLE, abs=1e-7)
    assert (b.x, b.y) == pytest.approx(LILLE, abs=1e-7)


def test_unknown_crs_is_a_config_error():
    with pytest.raises(ConfigError, match=r"système de coordonnées inconnu 'EPSG:999999'.*2154"):
        transformer_to_wgs84("EPSG:999999")


def test_point_near_lille_round_trip():
    out = reproject([l93(*LILLE)], 2154)
    assert (out[0].x, out[0].y) == pytest.approx(LILLE, abs=1e-7)
    lon, lat = point_columns(out)
    assert (float(lon[0]), float(lat[0])) == pytest.approx(LILLE, abs=1e-7)


def test_reproject_keeps_missing_empty_and_z():
    out = reproject([None, shapely.Point(), shapely.Point(700000, 6600000, 21.5)], 2154)
    assert out[0] is None
    assert out[1].is_empty
    assert out[2].has_z and out[2].z == 21.5
    assert out[2].x == pytest.approx(3.0, abs=1e-6)


def test_text_conversions():
    geoms = np.array([shapely.Point(3.123456789, 50.5), None, shapely.Point()], dtype=object)
    geojson = to_geojson_text(geoms)
    assert json.loads(geojson[0]) == {"type": "Point", "coordinates": [3.123456789, 50.5]}
    assert geojson[1] is None
    assert json.loads(geojson[2])["coordinates"] == []
    assert to_wkt_text(geoms)[:2] == ["POINT (3.1234568 50.5)", None]


def test_point_columns_round_and_handle_shapes():
    square = shapely.box(2.0, 50.0, 2.2, 50.2)
    lon, lat = point_columns([shapely.Point(3.123456789, 50.1), square, None, shapely.Point()])
    assert lon[0] == "3.1234568" and lat[0] == "50.1"
    assert square.contains(shapely.Point(float(lon[1]), float(lat[1])))
    assert lon[2:] == [None, None] and lat[2:] == [None, None]


def test_geometry_output_options():
    assert GeometryOutput().columns == ["geometry"]
    out = GeometryOutput(geometry_column="geo", lonlat=["EQUIP_LONG", "EQUIP_LAT"], xy="xy", wkt="wkt")
    assert out.columns == ["geo", "EQUIP_LONG", "EQUIP_LAT", "xy", "wkt"]
    with pytest.raises(ValidationError, match="noms différents"):
        GeometryOutput(lonlat=["lon", "lon"])
    with pytest.raises(ValidationError, match="noms différents"):
        GeometryOutput(xy="geometry")
    with pytest.raises(ValidationError):
        GeometryOutput(latlon=["a", "b"])
    with pytest.raises(ValidationError):
        GeometryOutput(lonlat=["only-one"])


def test_add_geometry_columns_writes_every_asked_column():
    frame = pd.DataFrame({"nom": ["Grand-Place"]})
    output = GeometryOutput(lonlat=("lon", "lat"), xy="coordonneesxy", wkt="wkt")
    stats = GeometryStats()
    add_geometry_columns(frame, wkb(l93(*LILLE)), 2154, output, stats)
    row = frame.iloc[0]
    lon, lat = json.loads(row["geometry"])["coordinates"]
    assert (lon, lat) == pytest.approx(LILLE, abs=1e-7)
    assert json.loads(row["coordonneesxy"]) == [lon, lat]
    assert row["coordonneesxy"] == f"[{row['lon']},{row['lat']}]"
    assert row["wkt"] == f"POINT ({row['lon']} {row['lat']})"
    assert len(row["lon"].split(".")[1]) <= 7
    assert stats.bounds == pytest.approx([lon, lat, lon, lat])
    assert stats.notes() == []


def test_problem_geometries_are_kept_and_counted():
    frame = pd.DataFrame(index=range(6))
    stats = GeometryStats()
    add_geometry_columns(frame, [*wkb(l93(*LILLE), None, shapely.Point(), BOWTIE, shapely.box(
        700000, 6600000, 700010, 6600010)), b"\x01\x02garbage"], 2154,
        GeometryOutput(lonlat=("lon", "lat")), stats)
    assert len(frame) == 6
    geojson = frame["geometry"].tolist()
    assert pd.isna(geojson[1]) and pd.isna(geojson[5])
    assert json.loads(geojson[2])["coordinates"] == []
    assert json.loads(geojson[3])["type"] == "Polygon", "an invalid geometry is written as it is"
    assert (stats.rows, stats.missing, stats.unreadable, stats.empty, stats.invalid, stats.not_points) == (
        6, 1, 1, 1, 1, 2)
    assert stats.examples[0][0] == 3 and stats.examples[0][1].startswith("Self-intersection")
    notes = " ".join(stats.notes(first_row=2))
    assert "1 ligne(s) sans géométrie" in notes
    assert "1 géométrie(s) illisible(s)" in notes
    assert "1 géométrie(s) vide(s)" in notes
    assert "1 géométrie(s) invalide(s), gardée(s) telle(s) quelle(s) (ligne 5 : Self-intersection" in notes
    assert "1 geometry(ies) are invalid and were kept as they are (row 5: Self-intersection" in " ".join(
        n.say("en") for n in stats.notes(first_row=2))
    assert "2 géométrie(s) autre(s) que des points" in notes


def test_stats_add_up_over_chunks():
    stats = GeometryStats()
    output = GeometryOutput()
    add_geometry_columns(pd.DataFrame(index=range(2)), wkb(l93(3.0, 50.0), BOWTIE), 2154, output, stats)
    add_geometry_columns(pd.DataFrame(index=range(2)), wkb(BOWTIE, l93(3.2, 50.8)), 2154, output, stats)
    assert stats.rows == 4 and stats.invalid == 2
    assert [index for index, _ in stats.examples] == [1, 2], "row indexes continue across chunks"
    west, south, east, north = stats.bounds
    assert (west, east) == pytest.approx((2.9999999, 3.2), abs=1e-6)
    assert south == pytest.approx(46.5, abs=1e-3) and north == pytest.approx(50.8, abs=1e-7)


def test_unprojectable_geometry_is_nulled_and_counted():
    stats = GeometryStats()
    # Far outside UTM zone 31N, PROJ answers infinity.
    frame = add_geometry_columns(pd.DataFrame(index=range(1)), wkb(shapely.Point(1e9, 1e9)), 32631,
                                 GeometryOutput(), stats)
    assert frame["geometry"].isna().all()
    assert stats.unprojectable == 1 and stats.bounds is None
    assert "impossible(s) à convertir en WGS84" in stats.notes()[0]
