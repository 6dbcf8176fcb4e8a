"""The points the geography checks flagged, with the table's other points, for the quality report's map.

The coordinates are read the way the checks read them (`geography.point_sets`, the GeoJSON geometries), and
the flagged rows are those of the stored issues, so the map shows exactly what the report lists.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from moisson.quality.checks import Issues
from moisson.quality.geography import GEOGRAPHY, Points, coordinate_pairs, point_sets
from moisson.quality.messages import Lang
from moisson.quality.report import QualityIssue
from moisson.quality.report_map import MAX_DOTS, MapPoint, PointMap
from moisson.quality.schema import TableSchemaRef

if TYPE_CHECKING:
    from pyproj import Transformer

#: Validata's checks of French GPS coordinates flag points too (geography leaves those columns to them).
GPS_TYPES = frozenset({"french-gps-coordinates", "reversed-french-gps-coordinates"})
LAMBERT93 = "lambert93"
CHUNK_ROWS = 500_000


def point_map(table: pd.DataFrame | Path, schema: TableSchemaRef | None, issues: Issues, *,
              geometry: str | None = None, extent: tuple[float, float, float, float] | None = None) -> PointMap | None:
    """The map of the points flagged in `issues`, or None when no point was flagged.

    Only the flagged rows and an even sample of the others are read again: a large table costs no more
    than `MAX_DOTS` rows (and, from a Parquet file, a pass over the flagged columns, chunk by chunk).

    Args:
        table: The checked text table (row positions as in `issues`), or the Parquet file holding it.
        schema: Its Table Schema (geopoint fields), if any.
        issues: The issues found, geography's among them.
        geometry: The column of GeoJSON geometries, if any.
        extent: The area the catalog declares (`quality.extent`), drawn on the map.
    """
    columns = _columns(table)
    kept = [(i, warning) for found, warning in ((issues.errors, False), (issues.warnings, True)) for i in found
            if i.row is not None and i.field in columns and (i.type == GEOGRAPHY or i.type in GPS_TYPES)]
    if not kept:
        return None
    kept.sort(key=lambda pair: pair[0].row or 0)
    named = {str(i.field) for i, _ in kept}
    positions = issues.positions([i.row for i, _ in kept]).tolist()
    # The point columns of a geopoint or a latitude field: its longitude column too.
    wanted = [c for c in columns if c in named or any(c in pair for pair in coordinate_pairs(columns) if
                                                      pair[0] in named)]
    filled = np.flatnonzero(np.concatenate([np.logical_or.reduce([_filled(part[name]) for name in named])
                                            for part in _chunks(table, wanted)]))
    sample = filled[np.linspace(0, len(filled) - 1, MAX_DOTS).astype(int)] if len(filled) > MAX_DOTS else filled
    read = np.union1d(sample, positions)
    subset = pd.concat([part.iloc[read[(read >= start) & (read < start + len(part))] - start]
                        for start, part in _starts(_chunks(table, wanted))], ignore_index=True)
    sets = {p.field: p for p in point_sets(subset, {f.name: f for f in schema.fields} if schema else {})
            if p.field in named}
    if geometry in named:
        sets[geometry] = _geometry_points(subset[geometry])
    at = dict(zip(read.tolist(), range(len(read)), strict=True))
    points = [_point(issue, warning, sets[str(issue.field)], at[pos], issues.lang)
              for (issue, warning), pos in zip(kept, positions, strict=True) if issue.field in sets]
    if not points:
        return None
    skip = {(issue.field, pos) for (issue, _), pos in zip(kept, positions, strict=True)}
    others = [MapPoint(row=issues.file_row(pos), field=name, lon=float(found.lon[at[pos]]),
                       lat=float(found.lat[at[pos]]))
              for name, found in sets.items() for pos in sample.tolist() if (name, pos) not in skip]
    others = [p for p in others if p.placed]
    if len(others) > MAX_DOTS:
        others = [others[int(k)] for k in np.linspace(0, len(others) - 1, MAX_DOTS)]
    return PointMap(flagged=points, others=others, total=len(filled), extent=extent)


def _columns(table: pd.DataFrame | Path) -> list[str]:
    if isinstance(table, Path):
        return pq.ParquetFile(table).schema_arrow.names
    return [str(c) for c in table.columns]


def _chunks(table: pd.DataFrame | Path, columns: list[str]) -> Iterator[pd.DataFrame]:
    """The table's `columns`, chunk by chunk (a frame is one chunk)."""
    if not isinstance(table, Path):
        yield table[columns].reset_index(drop=True)
        return
    file = pq.ParquetFile(table, pre_buffer=False)  # pre-buffered chunks stay in memory until the file closes
    empty = True
    for batch in file.iter_batches(batch_size=CHUNK_ROWS, columns=columns):
        empty = False
        yield batch.to_pandas()
    if empty:
        yield file.schema_arrow.empty_table().select(columns).to_pandas()


def _starts(chunks: Iterator[pd.DataFrame]) -> Iterator[tuple[int, pd.DataFrame]]:
    start = 0
    for chunk in chunks:
        yield start, chunk
        start += len(chunk)


def _point(issue: QualityIssue, warning: bool, points: Points, pos: int, lang: Lang) -> MapPoint:
    lon, lat = float(points.lon[pos]), float(points.lat[pos])
    if issue.rule == LAMBERT93:
        lon, lat = _from_lambert93().transform(lon, lat)
    return MapPoint(row=int(issue.row or 0), field=str(issue.field), lon=lon, lat=lat, rule=issue.rule,
                    warning=warning, message=issue.detail(lang))


@cache
def _from_lambert93() -> Transformer:
    from pyproj import Transformer  # deferred: only Lambert-93 coordinates need PROJ

    return Transformer.from_crs("EPSG:2154", "EPSG:4326", always_xy=True)


def _filled(column: pd.Series) -> np.ndarray:
    """Cells with a value (the published table writes empty cells as the schema's missing value, often "")."""
    return column.astype("string").str.strip().str.len().fillna(0).to_numpy(int) > 0


def _geometry_points(column: pd.Series) -> Points:
    """Where each geometry of a GeoJSON column lies: a point itself, another shape its centroid (NaN if unreadable)."""
    import shapely  # deferred: only tables with geometries need GEOS

    codes, uniques = pd.factorize(column.astype("string").reset_index(drop=True))
    # Each distinct geometry is parsed once, as the geography checks do.
    centres = shapely.centroid(shapely.from_geojson(np.asarray(uniques, dtype=object), on_invalid="ignore"))
    # GEOS refuses the x of an empty point (an empty shape's centroid); a missing geometry gives NaN.
    centres = np.where(shapely.is_empty(centres), None, centres)
    lon = np.append(shapely.get_x(centres), np.nan)[codes]  # code -1 (empty cell) takes the appended NaN
    lat = np.append(shapely.get_y(centres), np.nan)[codes]
    return Points(str(column.name), "point", lon, lat)
