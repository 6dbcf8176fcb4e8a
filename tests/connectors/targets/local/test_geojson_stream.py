"""The portal's GeoJSON files, written with Arrow kernels a batch at a time: the same bytes as the per-row writer.

The golden files under `golden/` were written by the per-row writer (`json.dumps` of each feature) before it was
replaced; the tables below hold what a published table may hold: text in the Table Schema's representation,
typed cells of a table built by hand, characters JSON escapes, coordinates written every way a source writes them.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from moisson.connectors.targets.local import geojson
from moisson.core.errors import RejectedError

GOLDEN = Path(__file__).with_name("golden")
TEXTS = ['Salle "Jean Moulin", annexe', "C:\\chemin\\fichier", "ligne 1\nligne 2\r\tfin", "bip \x01 \x1f \x7f",
         "Été 2024 — œuvre ’ « guillemets »", "séparateur \u2028 de ligne", "emoji 🚲", "", None, "/slash/"]
LATITUDES = ["50.6292", "50,6921", " 50.64 ", "", None, "n/a", "95", "-90", "1e-5", "48", "0", "-0", "4.5E1",
             "inf", "nan", "1_0", "+43.1", "50.000", ".5", "-.5"]
LONGITUDES = ["3.0573", "3,05", "3.07", "3", "2", "2", "3", "180", "-180", "2.35", "0.00001", "-1e-4", "7",
              "3", "3", "3", "5.4", "3.10", "1.", "-0.00012"]
GEOMETRIES = [
    '{"type": "Point", "coordinates": [3.0573, 50.6292]}', '{"type":"Point","coordinates":[3,50]}',
    '{ "type" : "Point" , "coordinates" : [ 3.10 , 5E1 ] }', None, "  ", '{"type": "Point", "coordinates": [-0, 0.0]}',
    '{"type": "Point", "coordinates": [2.35, 48.85, 35.5]}', '{"coordinates": [2.35, 48.85], "type": "Point"}',
    '{"type": "LineString", "coordinates": [[3.0, 50.6], [3.1, 50.7]]}',
    '{"type": "Polygon", "coordinates": [[[3.0, 50.6], [3.1, 50.6], [3.1, 50.7], [3.0, 50.6]]]}',
    '{"type": "GeometryCollection", "geometries": [{"type": "Point", "coordinates": [1e-5, -1.5e-7]}]}',
    '{"type": "Point", "coordinates": [0.000012, 1.0E-4], "bbox": [0, 0, 1, 1]}',
    '{"type": "Point", "coordinates": [-180, 90]}', '{"type": "Point", "coordinates": [179.99999999999997, -89.5]}',
    '{"type": "MultiPoint", "coordinates": [[3.05, 50.6], [3.06, 50.61]]}',
    '{"type": "Point", "coordinates": [12.0, 45.000]}', '{"type": "Point", "coordinates": [3.0573,50.6292] }',
    '{"type": "Point", "coordinates": [1.23456789012345678, 45.1]}', '{"type": "Point", "coordinates": [3, -0.0]}',
    '{"type": "Point", "coordinates": [5, 45]}',
]


def text_table() -> pa.Table:
    """Text cells, as the quality gate publishes them: names, lat/lon columns, a geometry column."""
    rows = len(LATITUDES)
    return pa.table({
        "nom": pa.array([TEXTS[i % len(TEXTS)] for i in range(rows)], pa.string()),
        "latitude": pa.array(LATITUDES, pa.string()),
        "longitude": pa.array(LONGITUDES, pa.string()),
        "geom": pa.array(GEOMETRIES, pa.string()),
        "montant": pa.array([None if i % 7 == 3 else f"{i * 1000},50" for i in range(rows)], pa.string()),
    })


def typed_table() -> pa.Table:
    """Typed cells, as a table built by hand (tests, connectors that type their columns) holds them."""
    return pa.table({
        "nom": pa.array(TEXTS[:6], pa.large_string()),
        "capacite": pa.array([120, None, 3000, -1, 0, 2**53], pa.int64()),
        "surface": pa.array([350.5, 12.0, None, float("nan"), float("inf"), 1e-7], pa.float64()),
        "taux": pa.array([Decimal("1.50"), None, Decimal("0"), Decimal("12.345"), Decimal("-3"), Decimal("7.1")],
                         pa.decimal128(10, 3)),
        "accessible": pa.array([True, None, False, True, False, None], pa.bool_()),
        "mise_en_service": pa.array([dt.date(2019, 3, 1), dt.date(2020, 1, 15), None, dt.date(1999, 12, 31),
                                     dt.date(2024, 2, 29), dt.date(2001, 1, 1)], pa.date32()),
        "derniere_visite": pa.array([dt.datetime(2024, 5, 2, 14, 30), None, dt.datetime(2024, 6, 1),
                                     dt.datetime(2024, 6, 1, 0, 0, 1), dt.datetime(2000, 1, 1), None],
                                    pa.timestamp("us")),
        "lat": pa.array([50.6292, 50.64, None, 91.0, 45.0, -0.0], pa.float64()),
        "lon": pa.array([3.0573, 3.07, 3.1, 3.0, 1e-5, 180.0], pa.float64()),
        "geom": pa.array(GEOMETRIES[:6], pa.string()),
    })


TABLES = {"text": text_table, "typed": typed_table}
#: (table, written by, geometry or coordinate columns, dates)
CASES = {
    "text-points": ("text", "points", ("latitude", "longitude"), frozenset()),
    "text-geometry": ("text", "geometry", "geom", frozenset()),
    "typed-points": ("typed", "points", ("lat", "lon"), frozenset({"mise_en_service", "derniere_visite"})),
    "typed-geometry": ("typed", "geometry", "geom", frozenset({"mise_en_service"})),
}


def write(case: str, folder: Path) -> tuple[Path, object]:
    table, how, columns, dates = CASES[case]
    data = folder / f"{case}.parquet"
    pq.write_table(TABLES[table](), data)
    dest = folder / f"{case}.geojson"
    if how == "points":
        return dest, geojson.write_points(data, dest, columns, dates)
    return dest, geojson.write_geojson(data, dest, columns, dates, "jeu-test")


@pytest.mark.parametrize("batch", [3, 65_536])
@pytest.mark.parametrize("case", sorted(CASES))
def test_same_bytes_as_the_per_row_writer(case: str, batch: int, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(geojson, "BATCH_ROWS", batch)
    dest, returned = write(case, tmp_path)
    golden = json.loads((GOLDEN / f"{case}.json").read_text(encoding="utf-8"))
    assert returned == (tuple(golden["returned"]) if isinstance(golden["returned"], list) else golden["returned"])
    assert dest.read_bytes() == (GOLDEN / f"{case}.geojson").read_bytes()
    json.loads(dest.read_text(encoding="utf-8"))  # and it is JSON


def test_a_geometry_outside_wgs84_is_refused_with_its_row_past_the_first_batch(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(geojson, "BATCH_ROWS", 3)
    shapes = ['{"type": "Point", "coordinates": [3.0, 50.6]}'] * 4 + \
        ['{"type": "Point", "coordinates": [704000.0, 7059000.0]}']
    pq.write_table(pa.table({"geom": pa.array(shapes, pa.string())}), tmp_path / "t.parquet")
    with pytest.raises(RejectedError, match=r"ligne 5, colonne 'geom'.*WGS84"):
        geojson.write_geojson(tmp_path / "t.parquet", tmp_path / "t.geojson", "geom", frozenset(), "jeu-test")
