"""Cast text columns to pandas nullable dtypes following their Table Schema field."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from moisson.quality.messages import CATALOG, DEFAULT_LANG, Lang, say
from moisson.quality.schema import FieldSpec

TEXT = pd.StringDtype("pyarrow")
# Judged on its first SAMPLE_ROWS rows, a column with fewer distinct texts than this share of them is
# "repetitive": per-distinct work pays for the hashing pass (measured on benchmarks/quality_speed.py).
SAMPLE_ROWS = 10_000
REPETITIVE_SHARE = 0.1
NUMBER = "[+-]?(?:[0-9]+[.]?[0-9]*|[.][0-9]+)(?:[eE][+-]?[0-9]+)?"
# Table Schema numbers include NaN, INF and -INF (frictionless reads them with Decimal, in any case).
NOT_FINITE = "[+-]?(?:[Nn][Aa][Nn]|[Ii][Nn][Ff](?:[Ii][Nn][Ii][Tt][Yy])?)"
BLANK = "[ \t\r\n]*"
OFFSET = "(?:Z|[+-][0-9]{2}:?[0-9]{2})$"
# Patterns avoid \d, \s and \u escapes so that pandas runs them with pyarrow's RE2, not in Python.
# Loose equivalents of frictionless's validators: cheap enough to run vectorised.
STRING_FORMATS = {
    "email": r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}",
    "uri": "[A-Za-z][A-Za-z0-9+.-]*:[^ \t\r\n]*",
    "uuid": r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}",
    "binary": r"[A-Za-z0-9+/]*={0,2}",
}
TEXT_PATTERNS = {
    "time": "(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:[.][0-9]+)?(?:Z|[+-][0-9]{2}:?[0-9]{2})?",
    "yearmonth": "[0-9]{4}-(?:0[1-9]|1[0-2])",
    # Rare type: the lookaheads (no bare "P" or "PT") send it to Python's re, which is fine.
    "duration": "P(?=[0-9]|T[0-9])(?:[0-9]+Y)?(?:[0-9]+M)?(?:[0-9]+W)?(?:[0-9]+D)?"
                "(?:T(?=[0-9])(?:[0-9]+H)?(?:[0-9]+M)?(?:[0-9]+(?:[.][0-9]+)?S)?)?",
}
GEOJSON_TYPES = {
    "Point": "coordinates", "MultiPoint": "coordinates", "LineString": "coordinates",
    "MultiLineString": "coordinates", "Polygon": "coordinates", "MultiPolygon": "coordinates",
    "GeometryCollection": "geometries", "Feature": "geometry", "FeatureCollection": "features",
}
# datetime64[ns] covers 1677-09-21 to 2262-04-11; later dates such as 9999-12-31 are refused.
NS_MIN, NS_MAX = pd.Timestamp.min.ceil("s"), pd.Timestamp.max.floor("s")


def dtype_of(spec: FieldSpec) -> str:
    """The pandas dtype name a field is cast to (datetime fields with offsets become UTC-aware)."""
    return {"integer": "Int64", "year": "Int64", "number": "Float64", "boolean": "boolean",
            "date": "datetime64[ns]", "datetime": "datetime64[ns]"}.get(spec.type, "string")


def describe_type(spec: FieldSpec, lang: Lang = DEFAULT_LANG) -> str:
    """What a value of this field must look like, for messages."""
    fmt = spec.format
    if spec.type == "string":
        return say(f"type.{fmt}" if fmt in STRING_FORMATS else "type.text", lang)
    if spec.type == "boolean":
        return say("type.boolean", lang, true=", ".join(spec.true_values), false=", ".join(spec.false_values))
    if spec.type in ("date", "datetime"):
        default = "YYYY-MM-DD" if spec.type == "date" else "YYYY-MM-DDThh:mm:ss (e.g. 2024-03-31T14:00:00)"
        if fmt in ("default", "any"):
            return say(f"type.{spec.type}", lang, format=default)
        return say("type.date", lang, format=human_format(fmt))
    if spec.type == "geopoint":
        shape = {"array": "[longitude, latitude]", "object": '{"lon": …, "lat": …}'}.get(fmt, "longitude, latitude")
        return say("type.geopoint", lang, shape=shape)
    key = f"type.{spec.type}"
    return say(key, lang) if key in CATALOG else say("type.other", lang, type=spec.type)


def human_format(fmt: str) -> str:
    """Turn a strftime format into the letters a data officer reads (`%d/%m/%Y` → `DD/MM/YYYY`)."""
    for code, text in (("%Y", "YYYY"), ("%y", "YY"), ("%m", "MM"), ("%d", "DD"), ("%H", "hh"),
                       ("%M", "mm"), ("%S", "ss"), ("%z", "+hh:mm")):
        fmt = fmt.replace(code, text)
    return fmt


def cast_column(raw: pd.Series, spec: FieldSpec) -> pd.Series:
    """Cast one text column (pyarrow strings, NA for missing) to the dtype of its field.

    A cell whose text is not of the field's type becomes null: compare with `raw` to find
    the type errors.
    """
    caster, text = CASTERS.get(spec.type, _text), raw.astype(TEXT)
    if spec.type in PER_DISTINCT and repetitive(text):
        # Percentages, counts, years: a few values over many rows are stripped, matched and parsed once each.
        return by_distinct(text, lambda texts: caster(texts, spec))
    return caster(text, spec)


def cast_values(values: Sequence[Any], spec: FieldSpec) -> pd.Series:
    """Cast constraint constants (enum, minimum…) the way cells are cast; NA where they do not fit."""
    texts = ["true" if v is True else "false" if v is False else None if v is None else str(v) for v in values]
    if spec.type == "boolean":
        spec = FieldSpec(spec.name, "boolean", spec.format, {}, (*spec.true_values, "true"),
                         (*spec.false_values, "false"))
    return cast_column(pd.Series(texts, dtype=TEXT), spec)


def _text(raw: pd.Series, spec: FieldSpec) -> pd.Series:
    pattern = TEXT_PATTERNS.get(spec.type) or (STRING_FORMATS.get(spec.format) if spec.type == "string" else None)
    return raw if pattern is None else keep_where(raw, fullmatch(raw, pattern))


def _integer(raw: pd.Series, spec: FieldSpec) -> pd.Series:
    text = raw.str.strip().str.replace("^[+]", "", regex=True)
    # Int64 holds 18 digits safely; frictionless accepts leading zeros and a sign, not "1.0".
    pattern = "[0-9]{4}" if spec.type == "year" else "-?[0-9]{1,18}"
    return keep_where(text, fullmatch(text, pattern)).astype("Int64")


def _number(raw: pd.Series, spec: FieldSpec) -> pd.Series:
    text = raw.str.strip()
    shaped = fullmatch(text, NUMBER)
    special = ~shaped & text.notna().to_numpy(bool)
    if special.any():  # most number columns hold numbers only: no second pattern for them
        others = text[special]
        named = fullmatch(others, NOT_FINITE)
        special[special] = named
    # Arrow parses the texts that have the form of a number in C; pd.to_numeric goes through Python objects.
    parsed = pc.cast(pc.if_else(shaped, arrow_text(text), None), pa.float64())
    values = parsed.to_numpy(zero_copy_only=False)  # nulls become NaN; the mask below tells them apart
    finite = np.isfinite(values)
    if special.any():
        values = values.copy()
        values[special] = others[named].str.lower().str.replace("infinity", "inf").astype(float).to_numpy()
    # NaN stays a value (not missing): a FloatingArray keeps values and mask apart.
    return pd.Series(pd.arrays.FloatingArray(values, ~(finite | special)), index=raw.index)


def _boolean(raw: pd.Series, spec: FieldSpec) -> pd.Series:
    true = raw.isin(list(spec.true_values)).to_numpy(bool)
    false = raw.isin(list(spec.false_values)).to_numpy(bool)
    # A text listed as both true and false is false; one listed as neither is null.
    return pd.Series(pd.arrays.BooleanArray(true & ~false, ~(true | false)), index=raw.index)


def _date(raw: pd.Series, spec: FieldSpec) -> pd.Series:
    fmt, candidates = spec.format, raw
    if spec.type == "date" and fmt == "default":
        fmt = "%Y-%m-%d"
    elif spec.type == "datetime" and fmt == "default":
        fmt = "ISO8601"
        # frictionless refuses the short forms dateutil would accept (no seconds).
        candidates = keep_where(raw, fullmatch(raw, "[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}.*"))
    if fmt == "any":
        parsed = pd.to_datetime(candidates, format="mixed", dayfirst=True, utc=True, errors="coerce")
    else:
        parsed = pd.to_datetime(candidates, format=fmt, utc=True, errors="coerce")
    parsed = parsed.where(parsed.between(NS_MIN.tz_localize("UTC"), NS_MAX.tz_localize("UTC")))
    if spec.type == "datetime" and raw.str.contains(OFFSET, regex=True).fillna(False).any():
        return parsed.astype("datetime64[ns, UTC]")
    values = parsed.dt.tz_localize(None).astype("datetime64[ns]")
    # A date carries no time of day: "2024-01-05 10:00" read with format "any" is refused.
    return values.where(values == values.dt.normalize()) if spec.type == "date" else values


def _geopoint(raw: pd.Series, spec: FieldSpec) -> pd.Series:
    points = geopoints(raw, spec.format)
    return keep_where(raw, points.notna().all(axis=1).to_numpy(bool))


def geopoints(raw: pd.Series, fmt: str, *, bounded: bool = True) -> pd.DataFrame:
    """Parse geopoint text into Float64 `lon`/`lat` columns; NA when unreadable or out of range.

    Formats: `default` "lon, lat", `array` "[lon, lat]", `object` {"lon": …, "lat": …}.
    `bounded=False` keeps out-of-range numbers (the geography checks recognise Lambert-93 in them).
    """
    raw = raw.astype(TEXT)
    if fmt == "object":
        pairs = _parse_json(raw, lambda v: isinstance(v, dict) and set(v) == {"lon", "lat"})
        table = pd.DataFrame.from_dict(pairs, orient="index", columns=["lon", "lat"], dtype=object)
        frame = pd.DataFrame({axis: raw.map(table[axis].astype(str)) for axis in ("lon", "lat")})
    else:
        pair = f"{BLANK}({NUMBER}){BLANK},{BLANK}({NUMBER}){BLANK}"
        frame = raw.str.extract(f"^{BLANK}\\[{pair}\\]{BLANK}$" if fmt == "array" else f"^{pair}$")
        frame.columns = ["lon", "lat"]
    points = frame.apply(pd.to_numeric, errors="coerce").astype("Float64")
    if not bounded:
        return points
    inside = points["lon"].between(-180, 180) & points["lat"].between(-90, 90)
    return points[inside.fillna(False).astype(bool)].reindex(points.index)


def _json(raw: pd.Series, spec: FieldSpec) -> pd.Series:
    accept: Callable[[Any], bool] = {
        "array": lambda v: isinstance(v, list),
        "object": lambda v: isinstance(v, dict),
        "geojson": _is_topojson if spec.format == "topojson" else _is_geojson,
    }[spec.type]
    return keep_where(raw, raw.isin(list(_parse_json(raw, accept))).to_numpy(bool))


def json_cells(raw: pd.Series) -> dict[str, Any]:
    """Each distinct JSON text of a column with its parsed value (unparsable texts left out)."""
    return _parse_json(raw, lambda v: True)


def _parse_json(raw: pd.Series, accept: Callable[[Any], bool]) -> dict[str, Any]:
    """Parse each distinct text once (JSON has no vectorised parser); keep the accepted ones."""
    parsed: dict[str, Any] = {}
    for text in raw.dropna().unique():
        try:
            value = json.loads(text)
        except ValueError:
            continue
        if accept(value):
            parsed[text] = value
    return parsed


def _is_geojson(value: Any) -> bool:
    if not isinstance(value, dict):
        return False
    member = GEOJSON_TYPES.get(value.get("type"))  # type: ignore[arg-type]
    return member is not None and member in value


def _is_topojson(value: Any) -> bool:
    return isinstance(value, dict) and value.get("type") == "Topology" and "objects" in value


def arrow_text(text: pd.Series) -> pa.Array:
    """The Arrow strings under a text column (pyarrow strings, NA for missing)."""
    return pa.array(text.array)


def keep_where(text: pd.Series, mask: np.ndarray, other: str | None = None) -> pd.Series:
    """`text.where(mask, other)` with Arrow's `if_else`: pandas' `where` on Arrow strings costs seven times more."""
    if mask.all():  # most columns: no copy
        return text
    return pd.Series(pc.if_else(mask, arrow_text(text), other), dtype=TEXT, index=text.index)


def fullmatch(text: pd.Series, pattern: str) -> np.ndarray:
    """Rows whose whole text matches `pattern` (nulls never do).

    A repetitive column (SIRETs of a few payers, codes) is matched once per distinct text: one hashing pass
    costs less than a regex call per row.
    """
    # A final `$` (not `\$`) adds nothing to a whole match, even before a final newline, which it would have to
    # leave unmatched; left on, it makes pandas search every cell for a newline first.
    if pattern.endswith("$") and (len(pattern) - len(pattern[:-1].rstrip("\\")) - 1) % 2 == 0:
        pattern = pattern[:-1]
    if repetitive(text):
        return by_distinct(text, lambda texts: texts.str.fullmatch(pattern)).fillna(False).to_numpy(bool)
    return text.str.fullmatch(pattern).fillna(False).to_numpy(bool)


def repetitive(text: pd.Series) -> bool:
    """Whether a long column repeats few texts, judged on its first rows (a wrong guess costs time, not results)."""
    head = text.iloc[:SAMPLE_ROWS]
    return len(text) >= 2 * SAMPLE_ROWS and head.nunique() < REPETITIVE_SHARE * len(head)


def by_distinct(raw: pd.Series, compute: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """`compute` run once per distinct text of `raw`, its results spread back over the rows (nulls stay null).

    Dates, codes and identifiers repeat a few values over many rows: parsing each once costs one hashing pass.
    """
    codes, uniques = pd.factorize(raw)
    once = compute(pd.Series(uniques, dtype=raw.dtype))
    return pd.Series(once.array.take(codes, allow_fill=True), index=raw.index)


def _distinct_dates(raw: pd.Series, spec: FieldSpec) -> pd.Series:
    return by_distinct(raw, lambda texts: _date(texts, spec))


# Dates already parse each distinct text once (`_distinct_dates`).
PER_DISTINCT = ("number", "integer", "year")
CASTERS: dict[str, Callable[[pd.Series, FieldSpec], pd.Series]] = {
    "integer": _integer, "year": _integer, "number": _number, "boolean": _boolean,
    "date": _distinct_dates, "datetime": _distinct_dates, "geopoint": _geopoint,
    "array": _json, "object": _json, "geojson": _json,
}
