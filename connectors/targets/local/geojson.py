"""GeoJSON of a dataset: one RFC 7946 feature per row (from its geometry column, or its coordinate columns).

Features are written a Parquet batch at a time with Arrow kernels: properties, point coordinates and the usual
`{"type": "Point", "coordinates": [x, y]}` geometry text are turned into JSON column by column, as `json.dumps`
writes them; only the cells Arrow cannot tell (other geometries, typed cells of a table built by hand, rare
number spellings) go through Python, one cell at a time.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from moisson.connectors.csvfile import BATCH_ROWS, cell_text
from moisson.core.errors import RejectedError
from moisson.core.lazy import lazy

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
else:  # the local target's `Config` is read (`moisson check`) without them
    np, pa, pc, pq = lazy("numpy"), lazy("pyarrow"), lazy("pyarrow.compute"), lazy("pyarrow.parquet")

KIND = "local"
_START = b'{"type": "FeatureCollection", "features": ['
_END = b"\n]}\n"
#: A JSON number, as RFC 8259 writes one.
_NUMBER = r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"
_JSON_SPACE = "[ \t\n\r]*"
#: A two-dimensional point written as most sources write it; anything else is parsed by Python.
_POINT = (f'^{_JSON_SPACE}\\{{{_JSON_SPACE}"type"{_JSON_SPACE}:{_JSON_SPACE}"Point"{_JSON_SPACE},{_JSON_SPACE}'
          f'"coordinates"{_JSON_SPACE}:{_JSON_SPACE}\\[{_JSON_SPACE}(?P<x>{_NUMBER}){_JSON_SPACE},{_JSON_SPACE}'
          f'(?P<y>{_NUMBER}){_JSON_SPACE}\\]{_JSON_SPACE}\\}}{_JSON_SPACE}$')
#: A decimal number as `float()` reads it once spaces are trimmed and a decimal comma made a point.
_DECIMAL = r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
_SPACES = " \t\n\r\f\v"
#: What `json.dumps` writes for the control characters it escapes by name (the others as `\u00XX`).
_NAMED_ESCAPES = {"\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def write_geojson(data: Path, dest: Path, geometry: str, dates: frozenset[str],
                  dataset_id: str) -> tuple[float, float, float, float] | None:
    """Write a FeatureCollection, one feature per row, streamed batch by batch.

    Returns:
        The extent of every position (west, south, east, north), or None when no row has a geometry.

    Raises:
        RejectedError: The geometry column is missing, or a value is not WGS84 GeoJSON.
    """
    parquet = pq.ParquetFile(data, pre_buffer=False)  # pre-buffered column chunks stay until the file closes
    names = parquet.schema_arrow.names
    if geometry not in names:
        raise RejectedError(f"la colonne de géométrie {geometry!r} n'est pas dans les données (colonnes : "
                            f"{', '.join(names)}) ; corrigez `geometry` dans le catalogue", dataset_id=dataset_id,
                            connector=KIND)
    properties = [name for name in names if name != geometry]
    extent = [math.inf, math.inf, -math.inf, -math.inf]
    row = 0
    with dest.open("wb") as out:
        out.write(_START)
        for batch in parquet.iter_batches(batch_size=BATCH_ROWS):
            shapes = _geometries(batch.column(geometry), geometry, row, dataset_id, extent)
            _write_features(out, row == 0, shapes, batch, properties, dates)
            row += batch.num_rows
        out.write(_END)
    return None if extent[0] == math.inf else (extent[0], extent[1], extent[2], extent[3])


def _geometries(column: pa.Array, name: str, before: int, dataset_id: str, extent: list[float]) -> pa.Array:
    """The JSON text of a batch's geometries (`null` when blank), their positions checked and added to `extent`."""
    text = column.cast(pa.large_string()) if pa.types.is_string(column.type) else None
    if text is None:  # not text: parsed values, one by one
        slow = np.flatnonzero(pc.is_valid(column).to_numpy(zero_copy_only=False))
        texts = np.full(len(column), "null", dtype=object)
    else:
        blank = pc.fill_null(pc.or_(pc.equal(pc.utf8_length(text), 0), pc.utf8_is_space(text)), True)
        point = pc.extract_regex(text, _POINT)
        matched = pc.and_not(pc.is_valid(point), blank)
        xs, ys = (pc.struct_field(point, axis) for axis in ("x", "y"))
        x, y = pc.cast(xs, pa.float64()), pc.cast(ys, pa.float64())
        inside = pc.fill_null(pc.and_(pc.and_(pc.greater_equal(x, -180), pc.less_equal(x, 180)),
                                      pc.and_(pc.greater_equal(y, -90), pc.less_equal(y, 90))), False)
        fast = pc.and_(matched, inside).to_numpy(zero_copy_only=False)
        slow = np.flatnonzero(~fast & ~blank.to_numpy(zero_copy_only=False))
        fast_mask = pa.array(fast)
        if fast.any():
            for axis, values in ((0, x), (1, y)):
                bounds = pc.min_max(values.filter(fast_mask))
                extent[axis] = min(extent[axis], bounds["min"].as_py())
                extent[axis + 2] = max(extent[axis + 2], bounds["max"].as_py())
        shaped = pc.binary_join_element_wise(
            _literal('{"type": "Point", "coordinates": ['), _number_texts(xs, x), _literal(", "),
            _number_texts(ys, y), _literal("]}"), _literal(""))
        if not len(slow):
            return pc.if_else(fast_mask, shaped, _literal("null"))
        texts = np.where(fast, np.asarray(shaped.fill_null("").to_numpy(zero_copy_only=False), dtype=object),
                         "null")
    values = column.take(pa.array(slow, pa.int64())).to_pylist()
    for at, value in zip(slow.tolist(), values, strict=True):
        shape = _geometry(value, name, before + at + 1, dataset_id)
        for x_, y_, *_ in _positions(shape) if shape else ():
            extent[:] = [min(extent[0], x_), min(extent[1], y_), max(extent[2], x_), max(extent[3], y_)]
        texts[at] = _dumps(shape)
    return pa.array(texts.tolist(), pa.large_string())


def _number_texts(tokens: pa.Array, values: pa.Array) -> pa.Array:
    """JSON numbers as `json.dumps(json.loads(token))` writes them: integers as they are, floats as `repr`."""
    integer = pc.fill_null(pc.invert(pc.match_substring_regex(tokens, "[.eE]")), False)
    whole = pc.if_else(pc.equal(tokens, "-0"), _literal("0"), tokens.cast(pa.large_string()))
    return pc.if_else(integer, whole, _float_texts(values))


def _float_texts(values: pa.Array) -> pa.Array:
    """Floats as Python's `repr` writes them (Arrow's shortest digits, `.0` for whole numbers, exponents by Python)."""
    texts = pc.cast(values, pa.large_string())
    magnitude = pc.abs(values)
    odd = pc.fill_null(pc.or_(pc.and_(pc.greater(magnitude, 0), pc.less(magnitude, 1e-4)),
                              pc.greater_equal(magnitude, 1e15)), False).to_numpy(zero_copy_only=False)
    plain = pc.fill_null(pc.invert(pc.match_substring_regex(texts, "[.en]")), False)
    texts = pc.if_else(plain, pc.binary_join_element_wise(texts, _literal(".0"), _literal("")), texts)
    if not odd.any():
        return texts
    shown = np.asarray(texts.to_numpy(zero_copy_only=False), dtype=object)
    for at in np.flatnonzero(odd):
        shown[at] = repr(values[int(at)].as_py())
    return pa.array(shown.tolist(), pa.large_string())


def _write_features(out: IO[bytes], first: bool, geometries: pa.Array, batch: pa.RecordBatch,
                    properties: Sequence[str], dates: frozenset[str]) -> None:
    """Write one batch's features, each after a comma and a line feed (the file's first after a line feed only)."""
    if not len(geometries):
        return
    parts: list[Any] = [_literal(',\n{"type": "Feature", "geometry": '), geometries, _literal(', "properties": {')]
    for i, name in enumerate(properties):
        parts += [_literal((", " if i else "") + json.dumps(name, ensure_ascii=False) + ": "),
                  _json_texts(batch.column(name), name in dates)]
    parts += [_literal("}}"), _literal("")]
    features = pc.binary_join_element_wise(*parts)
    _, offsets, values = features.buffers()
    ends = np.frombuffer(offsets, dtype=np.int64)[features.offset:features.offset + len(features) + 1]
    out.write(memoryview(values)[ends[0] + (1 if first else 0):ends[-1]])


def _json_texts(column: pa.Array, as_date: bool) -> pa.Array:
    """A column's cells as JSON text, as `json.dumps(json_value(cell))` writes them."""
    kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        text = _escaped(column.cast(pa.large_string()))
        return pc.fill_null(pc.binary_join_element_wise(_literal('"'), text, _literal('"'), _literal("")), "null")
    if pa.types.is_integer(kind):
        return pc.fill_null(pc.cast(column, pa.large_string()), "null")
    if pa.types.is_boolean(kind):
        return pc.fill_null(pc.if_else(column, _literal("true"), _literal("false")), "null")
    return pa.array([_dumps(json_value(value, as_date)) for value in column.to_pylist()], pa.large_string())


def _escaped(text: pa.Array) -> pa.Array:
    """Text with the backslashes, quotes and control characters `json.dumps` escapes, escaped."""
    data = np.frombuffer(text.buffers()[2] or b"", dtype=np.uint8)
    special = data[(data < 0x20) | (data == ord("\\")) | (data == ord('"'))]
    if not len(special):
        return text
    for byte in (ord("\\"), ord('"'), *(b for b in np.unique(special).tolist() if b < 0x20)):
        char = chr(byte)
        text = pc.replace_substring(text, char, _NAMED_ESCAPES.get(char) or json.dumps(char)[1:-1])
    return text


def _literal(value: str) -> pa.Scalar:
    return pa.scalar(value, pa.large_string())


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False, default=str)


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
    parquet = pq.ParquetFile(data, pre_buffer=False)  # pre-buffered column chunks stay until the file closes
    names = parquet.schema_arrow.names
    count = 0
    with dest.open("wb") as out:
        out.write(_START)
        for batch in parquet.iter_batches(batch_size=BATCH_ROWS):
            lat, lon = _degrees(batch.column(latitude)), _degrees(batch.column(longitude))
            keep = pc.fill_null(pc.and_(pc.and_(pc.greater_equal(lat, -90), pc.less_equal(lat, 90)),
                                        pc.and_(pc.greater_equal(lon, -180), pc.less_equal(lon, 180))), False)
            kept = batch.filter(keep)
            if not kept.num_rows:
                continue
            geometries = pc.binary_join_element_wise(
                _literal('{"type": "Point", "coordinates": ['), _float_texts(lon.filter(keep)), _literal(", "),
                _float_texts(lat.filter(keep)), _literal("]}"), _literal(""))
            _write_features(out, count == 0, geometries, kept, names, dates)
            count += kept.num_rows
        out.write(_END)
    return count


def _degrees(column: pa.Array) -> pa.Array:
    """`degrees` of every cell (null where it gives None): decimal text and numbers by Arrow, the rest by Python."""
    kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        text = pc.replace_substring(pc.utf8_trim(column, _SPACES), ",", ".")
        plain = pc.fill_null(pc.match_substring_regex(text, _DECIMAL), False)
        values = pc.cast(pc.if_else(plain, text, pa.scalar(None, text.type)), pa.float64())
        others = np.flatnonzero(pc.and_not(pc.is_valid(column), plain).to_numpy(zero_copy_only=False))
    elif pa.types.is_floating(kind) or pa.types.is_integer(kind):
        values, others = pc.cast(column, pa.float64()), np.array([], dtype=np.int64)
    else:
        values, others = pa.nulls(len(column), pa.float64()), np.flatnonzero(pc.is_valid(column).to_numpy(
            zero_copy_only=False))
    if len(others):
        parsed = np.asarray(values.to_numpy(zero_copy_only=False), dtype=object)
        parsed[others] = [degrees(value) for value in column.take(pa.array(others, pa.int64())).to_pylist()]
        values = pa.array(parsed.tolist(), pa.float64())
    return pc.if_else(pc.is_finite(values), values, pa.scalar(None, pa.float64()))
