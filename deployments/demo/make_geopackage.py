"""Write the demo GeoPackage of Moisson-sur-Lys, an imaginary commune (invented data).

`stationnements-velos.gpkg` holds one point layer, `stationnements_velos`, in Lambert-93
(EPSG:2154) as a town-hall GIS keeps it, with the attribute columns of the SCDL schema
`stationnement-cyclable` 1.1.2; `coordonneesxy` is not stored, the source derives it
from the geometry. The writer (`write_layer`, `gpkg_blob`) builds GeoPackage 1.3 files
with sqlite3 and shapely alone (no GDAL), so the tests build their fixtures with it too.

Run `python deployments/demo/make_geopackage.py` to rebuild it; the output is deterministic.
"""

from __future__ import annotations

import random
import sqlite3
import struct
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import shapely
from pyproj import CRS, Transformer

HERE = Path(__file__).resolve().parent
GPKG_APPLICATION_ID = 0x47504B47  # "GPKG"
GPKG_USER_VERSION = 10300         # GeoPackage 1.3.0
LAST_CHANGE = "2025-03-14T09:30:00.000Z"

# The three rows every GeoPackage must hold (GeoPackage 1.3, requirement 11).
_CORE_SRS = [
    ("WGS 84 geodetic", 4326, "EPSG", 4326, CRS.from_epsg(4326).to_wkt("WKT1_GDAL"),
     "longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid"),
    ("Undefined cartesian SRS", -1, "NONE", -1, "undefined", "undefined cartesian coordinate reference system"),
    ("Undefined geographic SRS", 0, "NONE", 0, "undefined", "undefined geographic coordinate reference system"),
]
_CORE_TABLES = """
CREATE TABLE IF NOT EXISTS gpkg_spatial_ref_sys (
  srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, organization TEXT NOT NULL,
  organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
CREATE TABLE IF NOT EXISTS gpkg_contents (
  table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
  description TEXT DEFAULT '', last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE,
  srs_id INTEGER, CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
CREATE TABLE IF NOT EXISTS gpkg_geometry_columns (
  table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
  srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
  CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
  CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
  CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));
"""


def gpkg_blob(geom: shapely.Geometry, srs_id: int, *, envelope: int | None = None,
              big_endian: bool = False) -> bytes:
    """Encode a geometry as GeoPackageBinary: the `GP` header, then standard WKB.

    Args:
        geom: The geometry.
        srs_id: CRS id written in the header.
        envelope: Envelope indicator, 0 (none), 1 (xy), 2 (xyz), 3 (xym) or 4 (xyzm);
            by default none for points and xy otherwise, as GDAL writes them.
        big_endian: Write the header and the WKB big-endian (GDAL writes little-endian).
    """
    empty = shapely.is_empty(geom)
    if envelope is None:
        envelope = 0 if empty or shapely.get_type_id(geom) == shapely.GeometryType.POINT else 1
    order = ">" if big_endian else "<"
    flags = (0 if big_endian else 1) | envelope << 1 | (0b10000 if empty else 0)
    extent: list[float] = []
    if envelope:
        minx, miny, maxx, maxy = shapely.bounds(geom)
        extent = [minx, maxx, miny, maxy]
        z = shapely.get_coordinates(geom, include_z=True)[:, 2] if shapely.has_z(geom) else [0.0]
        if envelope in (2, 4):
            extent += [min(z), max(z)]
        if envelope in (3, 4):
            extent += [0.0, 0.0]  # shapely writes no M values
    header = b"GP" + struct.pack(f"{order}BBi{len(extent)}d", 0, flags, srs_id, *extent)
    return header + shapely.to_wkb(geom, byte_order=0 if big_endian else 1, include_srid=False)


def write_layer(path: Path, layer: str, rows: Iterable[Mapping[str, Any]], columns: Mapping[str, str], *,
                srs_id: int = 2154, geometry_type: str | None = "POINT", geometry_column: str = "geom",
                identifier: str | None = None, description: str = "",
                last_change: str = LAST_CHANGE) -> int:
    """Add a layer to a GeoPackage, creating the file and its core tables if needed.

    Args:
        path: The `.gpkg` file.
        layer: Table name.
        rows: Attribute values by column name; the geometry (shapely, or `None`) under
            `geometry_column`.
        columns: Attribute columns and their GeoPackage types (`TEXT`, `INTEGER`, `BOOLEAN`…).
        srs_id: CRS of the geometries: an EPSG code, or 0 / -1 for an undefined CRS.
        geometry_type: `POINT`, `POLYGON`…; `None` writes an attribute table.
        geometry_column: Name of the geometry column.
        identifier: Human-readable name in `gpkg_contents`; defaults to the table name.
        description: Description in `gpkg_contents`.
        last_change: Modification timestamp in `gpkg_contents`.

    Returns:
        The number of rows written.
    """
    con = sqlite3.connect(path)
    try:
        con.execute(f"PRAGMA application_id = {GPKG_APPLICATION_ID}")
        con.execute(f"PRAGMA user_version = {GPKG_USER_VERSION}")
        con.executescript(_CORE_TABLES)
        con.executemany("INSERT OR IGNORE INTO gpkg_spatial_ref_sys VALUES (?, ?, ?, ?, ?, ?)", _CORE_SRS)
        if srs_id > 0:
            crs = CRS.from_epsg(srs_id)
            con.execute("INSERT OR IGNORE INTO gpkg_spatial_ref_sys VALUES (?, ?, 'EPSG', ?, ?, NULL)",
                        (crs.name, srs_id, srs_id, crs.to_wkt("WKT1_GDAL")))
        fields = {**columns, geometry_column: geometry_type} if geometry_type else dict(columns)
        con.execute(f'CREATE TABLE "{layer}" (fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, '
                    + ", ".join(f'"{name}" {kind}' for name, kind in fields.items()) + ")")
        rows = list(rows)
        values = [[row.get(name) for name in columns] for row in rows]
        bounds = [None] * 4
        if geometry_type:
            geoms = [row.get(geometry_column) for row in rows]
            for value, geom in zip(values, geoms, strict=True):
                value.append(None if geom is None else gpkg_blob(geom, srs_id))
            present = [g for g in geoms if g is not None]
            if present:
                minx, miny, maxx, maxy = shapely.total_bounds(present)
                bounds = [float(minx), float(miny), float(maxx), float(maxy)]
            con.execute("INSERT INTO gpkg_geometry_columns VALUES (?, ?, ?, ?, 0, 0)",
                        (layer, geometry_column, geometry_type, srs_id))
        quoted = ", ".join(f'"{name}"' for name in fields)
        con.executemany(f'INSERT INTO "{layer}" ({quoted}) VALUES ({", ".join("?" * len(fields))})', values)
        con.execute("INSERT INTO gpkg_contents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (layer, "features" if geometry_type else "attributes", identifier or layer,
                     description, last_change, *bounds, srs_id if geometry_type else None))
        con.commit()
    finally:
        con.close()
    return len(rows)


# The SCDL stationnement-cyclable 1.1.2 fields a GIS stores (coordonneesxy comes from the geometry).
COLUMNS = {
    "id_local": "TEXT", "id_osm": "TEXT", "code_com": "TEXT(5)", "capacite": "INTEGER",
    "capacite_cargo": "INTEGER", "type_accroche": "TEXT", "mobilier": "TEXT", "acces": "TEXT",
    "gratuit": "BOOLEAN", "protection": "TEXT", "couverture": "BOOLEAN", "surveillance": "BOOLEAN",
    "lumiere": "BOOLEAN", "url_info": "TEXT", "d_service": "INTEGER", "source": "TEXT",
    "proprietaire": "TEXT", "gestionnaire": "TEXT", "date_maj": "DATE", "commentaires": "TEXT",
}
COMMUNE = "Commune de Moisson-sur-Lys"
# Where the racks are: (place, lon, lat, furniture); the commune lies on the Lys, north-west of Lille.
PLACES = [
    ("Place de la Mairie", 2.9874, 50.6921, "ARCEAU"), ("Salle Jean Bouin", 2.9911, 50.6934, "ARCEAU"),
    ("Stade des Prés du Lys", 2.9802, 50.6889, "RATELIER"), ("Médiathèque", 2.9866, 50.6917, "ARCEAU"),
    ("École maternelle Les Tilleuls", 2.9851, 50.6950, "RATELIER"),
    ("École Jules Ferry", 2.9855, 50.6952, "ARCEAU"), ("Maison des associations", 2.9890, 50.6905, "ARCEAU"),
    ("Halte ferroviaire", 2.9931, 50.6871, "RACK DOUBLE ETAGE"), ("Église Saint-Vaast", 2.9863, 50.6915, "ARCEAU"),
    ("Maison de santé du Lys", 2.9842, 50.6929, "ARCEAU"), ("Chemin du Halage", 2.9787, 50.6899, "SUPPORT GUIDON"),
    ("Rue des Tisserands", 2.9902, 50.6940, "ARCEAU"), ("Marché couvert", 2.9880, 50.6912, "ARCEAU"),
    ("Parc du Moulin", 2.9899, 50.6896, "POTELET"),
]


def demo_rows(count: int = 40) -> list[dict[str, Any]]:
    """Bike parking spots of Moisson-sur-Lys: a few per place, deterministic."""
    rng = random.Random(59999)
    to_l93 = Transformer.from_crs(4326, 2154, always_xy=True)
    rows = []
    for i in range(count):
        place, lon, lat, furniture = PLACES[i % len(PLACES)]
        x, y = to_l93.transform(lon, lat)
        station = place == "Halte ferroviaire" and i < len(PLACES)  # the one locked shelter
        rows.append({
            "id_local": f"MSL-STV-{i + 1:03d}",
            "id_osm": f"n{11200300400 + 17 * i}" if i % 3 == 0 else None,
            "code_com": "59999",
            "capacite": 20 if station else rng.choice([2, 4, 4, 6, 6, 8, 10, 12]),
            "capacite_cargo": 2 if station or furniture == "RATELIER" else None,
            "type_accroche": "CADRE ET ROUE" if furniture in ("ARCEAU", "RACK DOUBLE ETAGE") else (
                "SANS ACCROCHE" if furniture == "POTELET" else "ROUE"),
            "mobilier": furniture,
            "acces": "ABONNEMENT OU INSCRIPTION PREALABLE" if station else "LIBRE ACCES",
            "gratuit": 0 if station else 1,
            "protection": "CONSIGNE COLLECTIVE FERMEE" if station else "STATIONNEMENT NON FERME",
            "couverture": 1 if station or rng.random() < 0.2 else 0,
            "surveillance": 1 if station else 0,
            "lumiere": 1 if station or rng.random() < 0.7 else None,
            "url_info": "https://www.moisson-sur-lys.fr/velo/consigne-gare" if station else None,
            "d_service": rng.choice([2016, 2018, 2019, 2021, 2022, 2023, 2024]),
            "source": COMMUNE,
            "proprietaire": COMMUNE,
            "gestionnaire": "Régie des parkings du Lys" if station else COMMUNE,
            "date_maj": f"2025-0{1 + i % 3}-{10 + i % 18:02d}",
            "commentaires": (f"{place} : consigne sur badge, accès 5 h 30 – 23 h" if station
                             else f"{place}, côté {rng.choice(['nord', 'sud', 'est', 'ouest'])}"),
            "geom": shapely.Point(round(x + rng.uniform(-25, 25), 2), round(y + rng.uniform(-25, 25), 2)),
        })
    return rows


def write_demo(path: Path) -> int:
    """Write the demo GeoPackage at `path`, replacing it; return the number of features."""
    path.unlink(missing_ok=True)
    return write_layer(path, "stationnements_velos", demo_rows(), COLUMNS,
                       identifier="Stationnements vélos",
                       description="Arceaux, râteliers et consignes vélos de la commune (service SIG).")


if __name__ == "__main__":
    print(f"{write_demo(HERE / 'stationnements-velos.gpkg')} features written")
