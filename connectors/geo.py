"""Geometry helpers shared by the geographic sources: reprojection to WGS84 and text columns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, model_validator

from moisson.core.errors import ConfigError
from moisson.core.lazy import lazy
from moisson.core.notes import Note

# Catalogs read `GeometryOutput`: the GIS libraries are imported only when geometries are read.
if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyproj
    import shapely
else:
    np, pd, pyproj, shapely = lazy("numpy"), lazy("pandas"), lazy("pyproj"), lazy("shapely")

#: Decimals kept in every coordinate written (7 decimals of a degree ≈ 1 cm).
PRECISION = 7
#: How many examples of invalid geometries a note quotes.
EXAMPLES = 3


@cache
def transformer_to_wgs84(crs: int | str) -> pyproj.Transformer:
    """Return a cached transformer from `crs` to WGS84, in (lon, lat) order.

    `always_xy=True` because EPSG:4326 officially lists latitude first: without it,
    coordinates come out swapped, a classic source of points in the Indian Ocean.

    Args:
        crs: EPSG code (`2154`), `"EPSG:2154"` or a WKT definition.

    Raises:
        ConfigError: The CRS is unknown to PROJ.
    """
    try:
        source = pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError as exc:
        shown = crs if isinstance(crs, int) or len(crs) < 80 else f"{crs[:77]}…"
        raise ConfigError(f"système de coordonnées inconnu {shown!r} : indiquez un code EPSG tel que "
                          "2154 (Lambert-93) ou 4326 (WGS84)") from exc
    return pyproj.Transformer.from_crs(source, "EPSG:4326", always_xy=True)


@cache
def _is_wgs84(crs: int | str) -> bool:
    return pyproj.CRS.from_user_input(crs) == pyproj.CRS.from_epsg(4326)


def reproject(geoms: Sequence[shapely.Geometry | None] | np.ndarray, crs: int | str) -> np.ndarray:
    """Return the geometries in WGS84 (lon, lat), in one PROJ call for the whole array.

    Missing geometries stay `None`; Z values are kept. Geometries already in WGS84 (a
    database converted them) are returned as they are, sparing a pass over every coordinate.
    """
    transformer = transformer_to_wgs84(crs)
    if _is_wgs84(crs):
        return np.array(geoms, dtype=object)  # a copy, as shapely.transform would return
    return shapely.transform(np.asarray(geoms, dtype=object), transformer.transform,
                             include_z=None, interleaved=False)


def rounded(geoms: np.ndarray) -> np.ndarray:
    """Return the geometries with coordinates rounded to `PRECISION` decimals."""
    return shapely.transform(geoms, lambda coords: np.round(coords, PRECISION), include_z=None)


def to_geojson_text(geoms: Sequence[shapely.Geometry | None] | np.ndarray) -> list[str | None]:
    """Return each geometry as GeoJSON text; `None` for a missing one, `coordinates: []` for an empty one."""
    return shapely.to_geojson(np.asarray(geoms, dtype=object)).tolist()


def to_wkt_text(geoms: Sequence[shapely.Geometry | None] | np.ndarray) -> list[str | None]:
    """Return each geometry as WKT text rounded to `PRECISION` decimals; `None` for a missing one."""
    return shapely.to_wkt(np.asarray(geoms, dtype=object), rounding_precision=PRECISION, trim=True).tolist()


def point_columns(geoms: Sequence[shapely.Geometry | None] | np.ndarray) -> tuple[list[str | None], ...]:
    """Return `(lon, lat)` text columns, rounded to `PRECISION` decimals.

    A point gives its own coordinates; another geometry gives a point inside it
    (`point_on_surface`, never outside a concave shape like a centroid can); a
    missing or empty geometry gives `None`.
    """
    points = shapely.point_on_surface(np.asarray(geoms, dtype=object))
    points[shapely.is_empty(points)] = None
    return tuple(_number_text(values) for values in (shapely.get_x(points), shapely.get_y(points)))


def _number_text(values: np.ndarray) -> list[str | None]:
    return [None if np.isnan(v) else repr(float(v)) for v in np.round(values, PRECISION)]


class GeometryOutput(BaseModel):
    """Which text columns a geographic source writes from the geometry (part of its locator).

    Attributes:
        geometry_column: Column receiving the geometry as GeoJSON in WGS84.
        lonlat: Two columns also receiving the longitude and latitude, e.g.
            `["EQUIP_LONG", "EQUIP_LAT"]` for the SCDL `equipements` schema.
        xy: Column receiving `[lon,lat]` JSON array text, the Table Schema `geopoint`
            format `array` (`coordonneesxy` in stationnement-cyclable, IRVE).
        wkt: Column receiving the geometry as WKT in WGS84.
    """

    model_config = ConfigDict(extra="forbid")

    geometry_column: str = "geometry"
    lonlat: tuple[str, str] | None = None
    xy: str | None = None
    wkt: str | None = None

    @property
    def columns(self) -> list[str]:
        """Every column these options write, in writing order."""
        return [self.geometry_column, *(self.lonlat or ()), *filter(None, (self.xy, self.wkt))]

    @model_validator(mode="after")
    def _distinct(self) -> GeometryOutput:
        columns = self.columns
        if len(set(columns)) < len(columns):
            raise ValueError(f"les colonnes de géométrie {columns} doivent avoir des noms différents")
        return self


@dataclass
class GeometryStats:
    """What happened to the geometries of one dataset, summed over its chunks.

    Attributes:
        rows: Rows seen.
        missing: Rows without a geometry.
        unreadable: Geometries that could not be decoded (damaged bytes), written as null.
        unprojectable: Geometries PROJ could not bring to WGS84, written as null.
        empty: Empty geometries, written as GeoJSON with no coordinates.
        invalid: Invalid geometries (self-intersections…), written as they are.
        not_points: Non-point geometries whose lon/lat columns hold a point inside them.
        examples: `(row index, reason)` of the first invalid geometries.
        bounds: WGS84 `[west, south, east, north]` of the geometries, if any.
    """

    rows: int = 0
    missing: int = 0
    unreadable: int = 0
    unprojectable: int = 0
    empty: int = 0
    invalid: int = 0
    not_points: int = 0
    examples: list[tuple[int, str]] = field(default_factory=list)
    bounds: list[float] | None = None

    def notes(self, first_row: int = 2) -> list[str]:
        """Sentences for the data officer, one per kind of problem found.

        Args:
            first_row: Number given to the first row, as in `Extract.first_row`.
        """
        notes: list[str] = [Note(f"geometry.{kind}", count=count) for kind, count in (
            ("missing", self.missing), ("unreadable", self.unreadable), ("unprojectable", self.unprojectable),
            ("empty", self.empty)) if count]
        if self.invalid:
            examples = [Note("geometry.invalid-at", row=first_row + i, reason=reason) for i, reason in self.examples]
            notes.append(Note("geometry.invalid", count=self.invalid, examples=examples))
        if self.not_points:
            notes.append(Note("geometry.not-points", count=self.not_points))
        return notes

    def _add_bounds(self, geoms: np.ndarray) -> None:
        west, south, east, north = shapely.total_bounds(geoms)
        if np.isnan(west):
            return
        if self.bounds is not None:
            west, south = min(west, self.bounds[0]), min(south, self.bounds[1])
            east, north = max(east, self.bounds[2]), max(north, self.bounds[3])
        self.bounds = [round(float(v), PRECISION) for v in (west, south, east, north)]


def add_geometry_columns(frame: pd.DataFrame, wkb: Sequence[bytes | None], crs: int | str,
                         output: GeometryOutput, stats: GeometryStats) -> pd.DataFrame:
    """Decode a chunk of WKB geometries and write the text columns `output` asks for.

    Every source with geometries calls this, so GeoPackage and PostGIS layers give the
    same columns. Nothing is dropped: damaged or unprojectable geometries become null,
    empty and invalid ones are written as they are, and `stats` counts them all.

    Args:
        frame: The chunk's attribute columns, one row per geometry; modified in place.
        wkb: The chunk's geometries as standard WKB (`None` where missing).
        crs: CRS of the geometries (EPSG code or definition).
        output: Which columns to write.
        stats: Counters to update for this dataset.

    Returns:
        `frame`, with the columns of `output` added (or replaced).
    """
    raw = np.asarray(wkb, dtype=object)
    geoms = shapely.from_wkb(raw, on_invalid="ignore")
    present = ~shapely.is_missing(geoms)
    stats.rows += len(raw)
    stats.missing += int(np.sum(pd.isna(raw)))
    stats.unreadable += int(np.sum(~pd.isna(raw) & ~present))

    projected = reproject(geoms, crs)
    broken = present & ~shapely.is_empty(projected) & ~np.all(
        np.isfinite(shapely.bounds(projected)), axis=1)
    projected[broken] = None
    stats.unprojectable += int(np.sum(broken))
    projected = rounded(projected)

    empty = shapely.is_empty(projected)
    stats.empty += int(np.sum(empty))
    reasons = shapely.is_valid_reason(projected)
    invalid = np.flatnonzero(~pd.isna(reasons) & (reasons != "Valid Geometry"))
    stats.invalid += len(invalid)
    start = stats.rows - len(raw)
    stats.examples += [(start + int(i), str(reasons[i])) for i in invalid[:EXAMPLES - len(stats.examples)]]
    stats._add_bounds(projected)

    frame[output.geometry_column] = to_geojson_text(projected)
    if output.lonlat or output.xy:
        lon, lat = point_columns(projected)
        kinds = shapely.get_type_id(projected)
        stats.not_points += int(np.sum((kinds != shapely.GeometryType.POINT) & (kinds >= 0) & ~empty))
        if output.lonlat:
            frame[output.lonlat[0]], frame[output.lonlat[1]] = lon, lat
        if output.xy:
            frame[output.xy] = [None if x is None or y is None else f"[{x},{y}]" for x, y in zip(lon, lat, strict=True)]
    if output.wkt:
        frame[output.wkt] = to_wkt_text(projected)
    return frame
