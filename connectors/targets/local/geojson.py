"""GeoJSON of a dataset: one RFC 7946 feature per row (from its geometry column, or its coordinate columns)."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from moisson.connectors.csvfile import BATCH_ROWS, cell_text
from moisson.core.errors import RejectedError
from moisson.core.lazy import lazy

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.parquet as pq
else:
    pa, pq = lazy("pyarrow"), lazy("pyarrow.parquet")  # the local target's `Config` is read without them

KIND = "local"


def write_geojson(data: Path, dest: Path, geometry: str, dates: frozenset[str],
                  dataset_id: str) -> tuple[float, float, float, float] | None:
    """Write a FeatureCollection, one feature per row, streamed batch by batch.

    Returns:
        The extent of every position (west, south, east, north), or None when no row has a geometry.

    Raises:
        RejectedError: The geometry column is missing, or a value is not WGS84 GeoJSON.
    """
    parquet = pq.ParquetFile(data)
    names = parquet.schema_arrow.names
    if geometry not in names:
        raise RejectedError(f"la colonne de géométrie {geometry!r} n'est pas dans les données (colonnes : "
                            f"{', '.join(names)}) ; corrigez `geometry` dans le catalogue", dataset_id=dataset_id,
                            connector=KIND)
    properties = [name for name in names if name != geometry]
    extent = [math.inf, math.inf, -math.inf, -math.inf]
    row = 0
    separator = "\n"
    with dest.open("w", encoding="utf-8") as out:
        out.write('{"type": "FeatureCollection", "features": [')
        for batch in parquet.iter_batches(batch_size=BATCH_ROWS):
            columns = {name: batch.column(name).to_pylist() for name in names}
            for index, value in enumerate(columns[geometry]):
                row += 1
                shape = _geometry(value, geometry, row, dataset_id)
                for x, y, *_ in _positions(shape) if shape else ():
                    extent = [min(extent[0], x), min(extent[1], y), max(extent[2], x), max(extent[3], y)]
                feature = {
                    "type": "Feature",
                    "geometry": shape,
                    "properties": {name: json_value(columns[name][index], name in dates) for name in properties},
                }
                out.write(separator + json.dumps(feature, ensure_ascii=False, allow_nan=False, default=str))
                separator = ",\n"
        out.write("\n]}\n")
    return None if extent[0] == math.inf else (extent[0], extent[1], extent[2], extent[3])


def _geometry(value: Any, column: str, row: int, dataset_id: str) -> dict[str, Any] | None:
    """Parse one GeoJSON geometry and check its positions are longitude/latitude degrees."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    where = f"ligne {row}, colonne {column!r}"
    try:
        geometry = json.loads(value) if isinstance(value, str) else value
        positions = list(_positions(geometry))
    except (ValueError, TypeError, AttributeError, KeyError) as err:
        raise RejectedError(f"{where} : {str(value)[:60]!r} n'est pas une géométrie GeoJSON ; la source doit "
                            "fournir du texte GeoJSON en WGS84", dataset_id=dataset_id, connector=KIND) from err
    for position in positions:
        if len(position) < 2 or not (-180 <= position[0] <= 180 and -90 <= position[1] <= 90):
            raise RejectedError(f"{where} : les coordonnées {position} ne sont pas des degrés de longitude et "
                                "latitude ; reprojetez la source en WGS84 (EPSG:4326)", dataset_id=dataset_id,
                                connector=KIND)
    return geometry


def _positions(geometry: Mapping[str, Any]) -> Iterator[list[float]]:
    if geometry["type"] == "GeometryCollection":
        for part in geometry["geometries"]:
            yield from _positions(part)
        return
    stack = [geometry["coordinates"]]
    while stack:
        item = stack.pop()
        if not isinstance(item, list):
            raise TypeError(f"les coordonnées doivent être des tableaux, pas {item!r}")
        if item and all(isinstance(v, int | float) and not isinstance(v, bool) for v in item):
            yield item
        else:
            stack.extend(item)


def degrees(value: Any) -> float | None:
    """A coordinate cell as a number (`50,6921` and `50.6921` alike), or None when it is not one."""
    try:
        number = float(value.replace(",", ".")) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def json_value(value: Any, as_date: bool) -> Any:
    """A Parquet cell as JSON: non-finite floats become null, dates their CSV text."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.date):
        return cell_text(value, as_date)
    return value


_LATITUDE = re.compile(r"(^|_)(lat|latitude|y_wgs84)$", re.IGNORECASE)
_LONGITUDE = re.compile(r"(^|_)(lon|long|lng|longitude|x_wgs84)$", re.IGNORECASE)


def coordinate_columns(data: Path) -> tuple[str, str] | None:
    """The latitude and longitude columns of a table without a geometry column (SCDL `EQUIP_LAT`…)."""
    schema = pq.ParquetFile(data).schema_arrow
    # Text too: the published table may keep the source's own spelling of numbers.
    usable = [f.name for f in schema if pa.types.is_floating(f.type) or pa.types.is_decimal(f.type)
              or pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
    latitude = next((n for n in usable if _LATITUDE.search(n)), None)
    longitude = next((n for n in usable if _LONGITUDE.search(n)), None)
    return (latitude, longitude) if latitude and longitude else None


def write_points(data: Path, dest: Path, columns: tuple[str, str], dates: frozenset[str]) -> int:
    """Write a FeatureCollection of the rows' points from their coordinate columns; rows without any are left out.

    Returns:
        The number of points written.
    """
    latitude, longitude = columns
    parquet = pq.ParquetFile(data)
    names = parquet.schema_arrow.names
    count = 0
    separator = "\n"
    with dest.open("w", encoding="utf-8") as out:
        out.write('{"type": "FeatureCollection", "features": [')
        for batch in parquet.iter_batches(batch_size=BATCH_ROWS):
            for row in batch.to_pylist():
                lat, lon = degrees(row[latitude]), degrees(row[longitude])
                if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
                    continue
                feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
                           "properties": {n: json_value(row[n], n in dates) for n in names}}
                out.write(separator + json.dumps(feature, ensure_ascii=False, allow_nan=False, default=str))
                separator = ",\n"
                count += 1
        out.write("\n]}\n")
    return count
