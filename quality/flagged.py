"""The points the geography checks flagged, with the table's other points, for the quality report's map.

The coordinates are read the way the checks read them (`geography.point_sets`, the GeoJSON geometries), and
the flagged rows are those of the stored issues, so the map shows exactly what the report lists.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from moisson.quality.checks import Issues
from moisson.quality.geography import GEOGRAPHY, Points, point_sets
from moisson.quality.report import QualityIssue
from moisson.quality.report_map import MAX_DOTS, MapPoint, PointMap
from moisson.quality.schema import TableSchemaRef

#: Validata's checks of French GPS coordinates flag points too (geography leaves those columns to them).
GPS_TYPES = frozenset({"french-gps-coordinates", "reversed-french-gps-coordinates"})
LAMBERT93 = "lambert93"


def point_map(table: pd.DataFrame, schema: TableSchemaRef | None, issues: Issues, *,
              geometry: str | None = None) -> PointMap | None:
    """The map of the points flagged in `issues`, or None when no point was flagged.

    Args:
        table: The checked text table (row positions as in `issues`).
        schema: Its Table Schema (geopoint fields), if any.
        issues: The issues found, geography's among them.
        geometry: The column of GeoJSON geometries, if any.
    """
    flagged = [i for i in [*issues.errors, *issues.warnings]
               if i.row is not None and i.field and (i.type == GEOGRAPHY or i.type in GPS_TYPES)]
    if not flagged:
        return None
    named = {i.field for i in flagged}
    sets = {p.field: p for p in point_sets(table, {f.name: f for f in schema.fields} if schema else {})
            if p.field in named}
    if geometry in named and geometry in table.columns:
        sets[geometry] = _geometry_points(table[geometry])
    flagged = sorted((i for i in flagged if i.field in sets), key=lambda i: i.row or 0)
    if not flagged:
        return None
    positions = issues.positions([i.row for i in flagged])
    points = [_point(issue, sets[issue.field], int(pos), issues) for issue, pos in zip(flagged, positions, strict=True)]
    return PointMap(flagged=points, others=_others(sets, flagged, positions, issues),
                    total=sum(int((np.isfinite(p.lon) & np.isfinite(p.lat)).sum()) for p in sets.values()))


def _point(issue: QualityIssue, points: Points, pos: int, issues: Issues) -> MapPoint:
    lon, lat = float(points.lon[pos]), float(points.lat[pos])
    if issue.rule == LAMBERT93:
        from pyproj import Transformer  # deferred: only Lambert-93 coordinates need PROJ

        lon, lat = Transformer.from_crs("EPSG:2154", "EPSG:4326", always_xy=True).transform(lon, lat)
    return MapPoint(row=int(issue.row or 0), field=str(issue.field), lon=lon, lat=lat, rule=issue.rule,
                    warning=issue.type == GEOGRAPHY and issue.rule == "duplicate-point",
                    message=issue.detail(issues.lang))


def _others(sets: dict[str, Points], flagged: list[QualityIssue], positions: np.ndarray,
            issues: Issues) -> list[MapPoint]:
    """The points that passed, in WGS84 degrees, evenly sampled down to `MAX_DOTS`."""
    found: list[MapPoint] = []
    for name, points in sets.items():
        keep = (np.isfinite(points.lon) & np.isfinite(points.lat) & (np.abs(points.lon) <= 180)
                & (np.abs(points.lat) <= 90))
        keep[[int(p) for i, p in zip(flagged, positions, strict=True) if i.field == name]] = False
        chosen = np.flatnonzero(keep)
        if len(chosen) > MAX_DOTS:
            chosen = chosen[np.linspace(0, len(chosen) - 1, MAX_DOTS).astype(int)]
        found += [MapPoint(row=issues.row_number(int(pos)), field=name, lon=float(points.lon[pos]),
                           lat=float(points.lat[pos])) for pos in chosen]
    if len(found) > MAX_DOTS:
        found = [found[int(k)] for k in np.linspace(0, len(found) - 1, MAX_DOTS)]
    return found


def _geometry_points(column: pd.Series) -> Points:
    """Where each geometry of a GeoJSON column lies: a point itself, another shape its centroid (NaN if unreadable)."""
    import shapely  # deferred: only tables with geometries need GEOS

    codes, uniques = pd.factorize(column.astype("string").reset_index(drop=True))
    # Each distinct geometry is parsed once, as the geography checks do.
    centres = shapely.centroid(shapely.from_geojson(np.asarray(uniques, dtype=object), on_invalid="ignore"))
    lon = np.append(shapely.get_x(centres), np.nan)[codes]  # code -1 (empty cell) takes the appended NaN
    lat = np.append(shapely.get_y(centres), np.nan)[codes]
    return Points(str(column.name), "point", lon, lat)
