"""Geographic checks: points outside the area or their commune, swapped or Lambert-93, bad geometries, duplicates.

Points come from the schema's `geopoint` fields, from longitude/latitude column pairs named as SCDL and
most exports name them (`lat`/`lon`, `latitude`/`longitude`, `EQUIP_LAT`/`EQUIP_LONG`, `lat_coor1`/
`long_coor1`…), and, when there are none, from the GeoJSON geometry column sources write. Everything is
vectorised: numpy masks for areas, shapely's array functions for geometries, a KD-tree for duplicates.
The commune of each point is not known here (no boundaries are shipped): the run asks the geocoder's
reverse endpoint and hands its answers over as `Communes`; `check_communes` only compares.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from moisson.quality.cast import geopoints
from moisson.quality.checks import Issues
from moisson.quality.messages import Lang
from moisson.quality.schema import FieldSpec

GEOGRAPHY = "geography"
# West, south, east, north: mainland France with Corsica, then the five overseas departments.
FRANCE_BOXES: tuple[tuple[float, float, float, float], ...] = (
    (-5.5, 41.0, 10.0, 51.5),
    (-61.9, 15.8, -60.9, 16.6),   # Guadeloupe
    (-61.3, 14.3, -60.8, 14.95),  # Martinique
    (-54.7, 2.1, -51.5, 5.9),     # Guyane
    (55.2, -21.45, 55.9, -20.85),  # La Réunion
    (44.9, -13.05, 45.35, -12.6),  # Mayotte
)
# Where Lambert-93 (EPSG:2154) eastings and northings of mainland France fall, in metres.
LAMBERT93 = (0.0, 6_000_000.0, 1_300_000.0, 7_200_000.0)
DUPLICATE_METRES = 5.0
EARTH_RADIUS = 6_371_000.0
LAT_NAME = re.compile(r"^(.*?)(latitude|lat)(.*)$", re.IGNORECASE)
LON_NAMES = ("lon", "long", "lng", "longitude")
GPS_CHECKS = {"french-gps-coordinates", "french_gps_coordinates"}

MESSAGES: dict[Lang, dict[str, str]] = {
    "fr": {
        "outside": "jeu {dataset} : {where} est dans la commune {city} ({found}) d'après le géocodeur, pas dans la "
                   "commune attendue ({expected}) ; vérifiez le point (ou l'adresse qui l'a donné) et corrigez-le "
                   "dans la source",
        "done": "contrôle des communes : {checked} points situés par le géocodeur (adresse la plus proche), "
                "{outside} hors de la commune attendue{unknown}",
        "unknown": ", {count} sans adresse connue à proximité (non vérifiés)",
        "skipped-geocoder": "pas de contrôle de la commune des points : le catalogue ne configure aucun géocodeur "
                            "(`geocoder: {url: …}`, l'API Adresse nationale ou un addok)",
        "skipped-commune": "pas de contrôle de la commune des points : aucune commune attendue (donnez "
                           "`organization.insee` dans le catalogue, ou le `citycode` de l'étape geocode)",
    },
    "en": {
        "outside": "dataset {dataset}: {where} is in the commune {city} ({found}) according to the geocoder, not in "
                   "the expected one ({expected}); check the point (or the address it came from) and fix it in "
                   "the source",
        "done": "commune check: {checked} points placed by the geocoder (nearest address), {outside} outside the "
                "expected commune{unknown}",
        "unknown": ", {count} with no known address nearby (not checked)",
        "skipped-geocoder": "no check of the points' commune: the catalog configures no geocoder "
                            "(`geocoder: {url: …}`, the national address API or an addok)",
        "skipped-commune": "no check of the points' commune: no expected commune (give `organization.insee` in "
                           "the catalog, or the geocode step's `citycode`)",
    },
}


@dataclass
class Points:
    """Coordinates of one source of points, as floats (NaN where missing).

    Attributes:
        field: Column named in the issues (the geopoint, the latitude column or the geometry).
        label: How a point is shown in messages.
        lon: Longitudes (or whatever the column holds in their place).
        lat: Latitudes.
        area_checked: False when the schema's own `french_gps_coordinates` check already covers the area.
    """

    field: str
    label: str
    lon: np.ndarray
    lat: np.ndarray
    area_checked: bool = True


@dataclass
class Communes:
    """The communes the geocoder's reverse endpoint gives the table's points, for `check_communes`.

    Attributes:
        dataset_id: The dataset, named in the warnings.
        points: The points that were looked up (row positions of the checked table).
        expected: Expected INSEE code per row (None where the row is not checked).
        found: (INSEE code, name) of the commune found per row (None where nothing was found or asked).
        skipped: Why nothing was looked up, said in a note: no `geocoder` in the catalog, or no expected `commune`.
    """

    dataset_id: str
    points: Points | None = None
    expected: Sequence[str | None] = ()
    found: Sequence[tuple[str, str] | None] = ()
    skipped: Literal["geocoder", "commune"] | None = None


def check_communes(communes: Communes, issues: Issues) -> list[str]:
    """Warn the rows whose point the geocoder puts in another commune than expected; returns the report's note.

    A warning, not an error: the reverse endpoint answers with the nearest known address, which near a
    boundary may lie across it.
    """
    say = MESSAGES[issues.lang]
    if communes.skipped or communes.points is None:
        return [say[f"skipped-{communes.skipped or 'commune'}"]]
    points = communes.points
    expected = np.array([code or "" for code in communes.expected], dtype=object)
    found = np.array([place[0] if place else "" for place in communes.found], dtype=object)
    asked = expected != ""
    outside = asked & (found != "") & (found != expected)

    def message(pos: int, _value: object) -> str:
        where = f"{points.label} = ({_shown(points.lon[pos])}, {_shown(points.lat[pos])})"
        return say["outside"].format(dataset=communes.dataset_id, where=where, city=communes.found[pos][1],
                                     found=found[pos], expected=expected[pos])

    count = issues.rows(outside, field=points.field, type=GEOGRAPHY, rule="commune", warning=True, detail=message)
    unknown = int((asked & (found == "")).sum())
    return [say["done"].format(checked=int((asked & (found != "")).sum()), outside=count,
                               unknown=say["unknown"].format(count=unknown) if unknown else "")]


def in_boxes(lon: np.ndarray, lat: np.ndarray,
             boxes: Sequence[tuple[float, float, float, float]] = FRANCE_BOXES) -> np.ndarray:
    """Whether each point falls in one of the boxes (west, south, east, north); NaN is outside."""
    inside = np.zeros(len(lon), dtype=bool)
    with np.errstate(invalid="ignore"):
        for west, south, east, north in boxes:
            inside |= (lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)
    return inside


def check_geography(text: pd.DataFrame, issues: Issues, *, fields: Mapping[str, FieldSpec] | None = None,
                    geometry: pd.Series | None = None, extent: tuple[float, float, float, float] | None = None,
                    custom_checks: Sequence[Mapping[str, Any]] = (), active: np.ndarray | None = None,
                    duplicate_metres: float = DUPLICATE_METRES, nearby: Nearby | None = None) -> None:
    """Run every geographic check on the table and record the rows that fail.

    Args:
        text: The table's normalised text columns.
        issues: Where errors (area, swap, Lambert-93, invalid geometry) and warnings (near duplicates) go.
        fields: The schema's fields by name (None without a schema).
        geometry: The GeoJSON geometry column the source wrote, if any.
        extent: The dataset's declared WGS84 bbox; default France with overseas territories.
        custom_checks: The schema's Validata checks: their `french_gps_coordinates` columns are not checked
            against France twice.
        active: Rows to check (blank rows excluded); default all.
        duplicate_metres: Points closer than this are reported as possible duplicates.
        nearby: Where a table checked chunk by chunk gathers its points: its near duplicates, which may lie in
            different chunks, are looked for once the last chunk is in (`Nearby.check`). Default: now.
    """
    rows = np.ones(len(text), dtype=bool) if active is None else active
    fields = fields or {}
    covered = {str((c.get("params") or {}).get("column")) for c in custom_checks if c.get("name") in GPS_CHECKS}
    sets = point_sets(text, fields, covered=set() if extent else covered)
    if geometry is not None:
        geometry_points = _check_geometries(geometry, issues, rows)
        if not sets and geometry_points is not None:
            sets = [geometry_points]
    boxes = [extent] if extent else list(FRANCE_BOXES)
    area = issues.say("geo.france") if extent is None else f"[{', '.join(map(str, extent))}]"
    gathered = nearby or Nearby(duplicate_metres)
    for points in sets:
        _check_points(points, issues, rows, boxes, area)
        gathered.add(points, rows, issues.offset)
    if nearby is None:
        gathered.check(issues)


class Nearby:
    """The points of a table checked chunk by chunk, for the near duplicates (which span chunks)."""

    def __init__(self, metres: float = DUPLICATE_METRES) -> None:
        self.metres = metres
        self._sets: dict[str, tuple[Points, list[tuple[int, np.ndarray, np.ndarray]]]] = {}
        self._rows = 0

    def add(self, points: Points, active: np.ndarray, offset: int) -> None:
        """Keep the points in degrees of the rows to check (NaN elsewhere) of a chunk starting at `offset`."""
        lon, lat = points.lon, points.lat
        degrees = active & np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90)
        kept = self._sets.setdefault(points.field, (points, []))[1]
        kept.append((offset, np.where(degrees, lon, np.nan), np.where(degrees, lat, np.nan)))
        self._rows = max(self._rows, offset + len(lon))

    def check(self, issues: Issues) -> None:
        """Warn the points within `metres` of an earlier one (positions in `issues` cover the rows gathered)."""
        for points, parts in self._sets.values():
            lon, lat = np.full(self._rows, np.nan), np.full(self._rows, np.nan)
            for offset, x, y in parts:
                lon[offset: offset + len(x)], lat[offset: offset + len(y)] = x, y
            partner = near_duplicates(lon, lat, np.isfinite(lon), self.metres)

            def detail(pos: int, _value: str | None, lon: np.ndarray = lon, lat: np.ndarray = lat,
                       points: Points = points, partner: np.ndarray = partner) -> str:
                where = f"{points.label} = ({_shown(lon[pos])}, {_shown(lat[pos])})"
                return issues.say("geo.duplicate", where=where, metres=_shown(self.metres),
                                  other=issues.file_row(int(partner[pos])))

            issues.rows(partner >= 0, field=points.field, type=GEOGRAPHY, rule="duplicate-point", warning=True,
                        detail=detail)


def point_sets(text: pd.DataFrame, fields: Mapping[str, FieldSpec], *, covered: set[str] = frozenset()) -> list[Points]:
    """The points of the table: one set per geopoint field and per latitude/longitude column pair."""
    sets = []
    for name, spec in fields.items():
        if spec.type == "geopoint" and name in text.columns:
            parsed = geopoints(text[name], spec.format, bounded=False)
            sets.append(Points(name, "point", *(parsed[a].to_numpy(float, na_value=np.nan) for a in ("lon", "lat")),
                               area_checked=name not in covered))
    for lat, lon in coordinate_pairs([str(c) for c in text.columns]):
        spec = fields.get(lat)
        if spec is not None and spec.type not in ("number", "string", "any"):
            continue
        sets.append(Points(lat, f"({lon}, {lat})", _numbers(text[lon]), _numbers(text[lat])))
    return sets


def coordinate_pairs(columns: Sequence[str]) -> list[tuple[str, str]]:
    """Latitude/longitude column pairs: a `lat` name and the same name with `lon`, `long`, `lng` or `longitude`."""
    pairs = []
    by_lower = {c.lower(): c for c in columns}
    for column in columns:
        match = LAT_NAME.match(column)
        if not match or not _word_edges(match):
            continue
        before, _, after = match.groups()
        for word in LON_NAMES:
            lon = by_lower.get(f"{before}{word}{after}".lower())
            if lon is not None and lon != column:
                pairs.append((column, lon))
                break
    return pairs


def _word_edges(match: re.Match[str]) -> bool:
    """`lat` must stand as a word (`EQUIP_LAT`, `lat_coor1`, `latitude`), not inside one (`relation`)."""
    before, _, after = match.groups()
    return (not before or not before[-1].isalpha()) and (not after or not after[0].isalpha())


def _check_points(points: Points, issues: Issues, active: np.ndarray, boxes: list[tuple[float, float, float, float]],
                  area: str) -> None:
    lon, lat = points.lon, points.lat
    present = active & np.isfinite(lon) & np.isfinite(lat)
    degrees = present & (np.abs(lon) <= 180) & (np.abs(lat) <= 90)
    x0, y0, x1, y1 = LAMBERT93
    lambert = present & ~degrees & (lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1)

    def where(pos: int) -> str:
        return f"{points.label} = ({_shown(lon[pos])}, {_shown(lat[pos])})"

    issues.rows(lambert, field=points.field, type=GEOGRAPHY, rule="lambert93",
                detail=lambda pos, v: issues.say("geo.lambert93", where=where(pos)))
    if points.area_checked:
        inside = in_boxes(lon, lat, boxes)
        swapped = degrees & ~inside & in_boxes(lat, lon, boxes)
        issues.rows(swapped, field=points.field, type=GEOGRAPHY, rule="swapped",
                    detail=lambda pos, v: issues.say("geo.swapped", where=where(pos)))
        issues.rows(degrees & ~inside & ~swapped, field=points.field, type=GEOGRAPHY, rule="extent",
                    detail=lambda pos, v: issues.say("geo.extent", where=where(pos), area=area))


def near_duplicates(lon: np.ndarray, lat: np.ndarray, rows: np.ndarray, metres: float) -> np.ndarray:
    """For each row, an earlier row whose point lies within `metres` (-1 when none).

    Identical points are grouped first, so a thousand rows on one default coordinate cost one KD-tree
    node, not a million pairs; the tree then finds distinct points closer than `metres`.
    """
    partner = np.full(len(lon), -1, dtype=np.int64)
    positions = np.flatnonzero(rows)
    if len(positions) < 2:
        return partner
    # Local equirectangular metres: exact enough at a few metres' scale.
    y = np.radians(lat[positions]) * EARTH_RADIUS
    x = np.radians(lon[positions]) * EARTH_RADIUS * np.cos(np.radians(lat[positions]))
    xy = np.round(np.column_stack([x, y]), 2)
    unique, first, inverse = np.unique(xy, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    # The first row of each distinct point, in row order.
    first_row = positions[first]
    same = positions != first_row[inverse]
    partner[positions[same]] = first_row[inverse][same]
    from scipy.spatial import cKDTree  # deferred: scipy costs 0.2 s of start-up to `moisson validate`

    pairs = cKDTree(unique).query_pairs(metres, output_type="ndarray")
    if len(pairs):
        a, b = first_row[pairs[:, 0]], first_row[pairs[:, 1]]
        earlier, later = np.minimum(a, b), np.maximum(a, b)
        closest = np.full(len(lon), np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(closest, later, earlier)
        flagged = (closest < np.iinfo(np.int64).max) & (partner < 0)
        partner[flagged] = closest[flagged]
    return partner


def _check_geometries(geojson: pd.Series, issues: Issues, active: np.ndarray) -> Points | None:
    """Report unreadable and invalid geometries; return the points of point geometries (None if none)."""
    import shapely  # deferred: only tables with geometries need GEOS

    texts = geojson.astype("string").reset_index(drop=True)
    present = texts.notna().to_numpy(bool) & active
    if not present.any():
        return None
    codes, uniques = pd.factorize(texts)
    # Each distinct geometry is parsed once; GEOS reads the whole array in one call.
    parsed = shapely.from_geojson(np.asarray(uniques, dtype=object), on_invalid="ignore")
    geoms = np.where(codes >= 0, parsed[np.maximum(codes, 0)], None)
    unreadable = present & shapely.is_missing(geoms)
    field = str(geojson.name)
    issues.rows(unreadable, field=field, type=GEOGRAPHY, rule="geometry",
                detail=lambda pos, v: issues.say("geo.unreadable"))
    reasons = shapely.is_valid_reason(geoms)
    invalid = present & ~unreadable & (reasons != "Valid Geometry") & ~pd.isna(reasons)
    issues.rows(invalid, field=field, type=GEOGRAPHY, rule="invalid-geometry",
                detail=lambda pos, v: issues.say("geo.invalid", reason=reasons[pos]))
    points = shapely.get_type_id(geoms) == shapely.GeometryType.POINT
    if not points.any():
        return None
    lon = np.where(points, shapely.get_x(geoms), np.nan)
    lat = np.where(points, shapely.get_y(geoms), np.nan)
    return Points(field, "point", lon, lat)


def _numbers(text: pd.Series) -> np.ndarray:
    return pd.to_numeric(text, errors="coerce").astype("Float64").to_numpy(float, na_value=np.nan)


def _shown(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e6 else f"{value:.0f}"
