from __future__ import annotations

import pandas as pd
import pytest

from moisson.quality.cast import TEXT, cast_column, geopoints
from moisson.quality.normalise import normalise
from moisson.quality.schema import FieldSpec


def spec(type_: str, **extra: object) -> FieldSpec:
    return FieldSpec.of({"name": "x", "type": type_, **extra})


def column(*values: str | None) -> pd.Series:
    return pd.Series(list(values), dtype=TEXT)


def normalised(type_: str, *values: str | None, **extra: object) -> tuple[list, list[str]]:
    frame, changes = normalise(pd.DataFrame({"x": column(*values)}), [spec(type_, **extra)])
    return frame["x"].tolist(), [c.note("en") for c in changes]


def test_french_numbers() -> None:
    values, notes = normalised("number", "99 786,57", "0,1", "1\u00a0234,5", "2\u202f000", "-3", None)
    assert values == ["99786.57", "0.1", "1234.5", "2000", "-3", pd.NA]
    assert notes == ["x: 4 values normalised (French number format: spaces removed, decimal comma; e.g. "
                     "'99 786,57' → '99786.57'): validata.fr would refuse the file as is"]


def test_normalisation_turned_off_leaves_french_forms() -> None:
    frame = pd.DataFrame({"x": column("1 200", "05/12/2016")})
    out, changes = normalise(frame, [spec("number")], french=False)
    assert out.equals(frame) and changes == []
    out, changes = normalise(frame, [spec("number", groupChar=" ")], french=False)
    assert out["x"].tolist()[0] == "1200" and changes == []


def test_comma_kept_when_the_column_uses_dots() -> None:
    values, _ = normalised("number", "1.5", "100000,1")
    assert values == ["1.5", "100000,1"]


def test_french_dates_become_iso() -> None:
    values, notes = normalised("date", "31/12/2023", "2023-12-30", "5/1/2024", "31/02/2024")
    assert values == ["2023-12-31", "2023-12-30", "2024-01-05", "31/02/2024"]
    assert notes == ["x: 2 values normalised (dates written DD/MM/YYYY rewritten as YYYY-MM-DD; e.g. "
                     "'31/12/2023' → '2023-12-31'): validata.fr would refuse the file as is"]


def test_strings_and_custom_date_formats_untouched() -> None:
    frame = pd.DataFrame({"code": column(" 01 234,5"), "d": column("31/12/2023")})
    out, notes = normalise(frame, [FieldSpec.of({"name": "code", "type": "string"}),
                                   FieldSpec.of({"name": "d", "type": "date", "format": "%d/%m/%Y"})])
    assert out.equals(frame) and notes == []


def test_schema_number_options_win() -> None:
    values, notes = normalised("number", "1.234,5 €", "12 %", decimalChar=",", groupChar=".", bareNumber=False)
    assert values == ["1234.5", "12"] and notes == []  # the file follows its schema: nothing to report


@pytest.mark.parametrize(("type_", "extra", "values", "expected", "dtype"), [
    ("integer", {}, ["1", "+5", " 01", "1.5", "1.0", "12 OOO", "99999999999999999999"],
     [1, 5, 1, None, None, None, None], "Int64"),
    ("number", {}, ["99786.57", "1e3", ".5", "abc", "N/A"], [99786.57, 1000.0, 0.5, None, None], "Float64"),
    ("year", {}, ["2020", "20201", "-5"], [2020, None, None], "Int64"),
    ("boolean", {"trueValues": ["oui"], "falseValues": ["non"]}, ["oui", "non", "Oui", "true"],
     [True, False, None, None], "boolean"),
    ("boolean", {}, ["true", "False", "1", "0", "oui"], [True, False, True, False, None], "boolean"),
])
def test_cast_scalars(type_: str, extra: dict, values: list[str], expected: list, dtype: str) -> None:
    out = cast_column(column(*values), spec(type_, **extra))
    assert str(out.dtype) == dtype
    assert [None if pd.isna(v) else v for v in out] == expected


def test_nan_and_infinities_are_numbers() -> None:
    out = cast_column(column("NaN", "INF", "-INF", "-Infinity", "nan", "NA"), spec("number"))
    assert out.notna().tolist() == [True, True, True, True, True, False]
    assert out.isna().tolist() == [False] * 5 + [True]
    assert out.iloc[1] == float("inf") and out.iloc[2] == out.iloc[3] == float("-inf")


def test_cast_dates_are_nanoseconds() -> None:
    out = cast_column(column("2016-12-05", "2016-02-30", "9999-12-31", "05/12/2016", None), spec("date"))
    assert str(out.dtype) == "datetime64[ns]"
    assert out.iloc[0] == pd.Timestamp("2016-12-05") and out.iloc[1:].isna().all()
    custom = cast_column(column("05/12/2016"), spec("date", format="%d/%m/%Y"))
    assert custom.iloc[0] == pd.Timestamp("2016-12-05")


def test_cast_datetimes() -> None:
    aware = cast_column(column("2022-10-05T12:24:03+02:00", "2020-05-11T14:08:32Z", "2020-05-11T14:08"),
                        spec("datetime"))
    assert str(aware.dtype) == "datetime64[ns, UTC]"
    assert aware.iloc[0] == pd.Timestamp("2022-10-05T10:24:03Z") and pd.isna(aware.iloc[2])
    naive = cast_column(column("2020-05-11T14:08:32"), spec("datetime"))
    assert str(naive.dtype) == "datetime64[ns]"


@pytest.mark.parametrize(("type_", "extra", "good", "bad"), [
    ("geopoint", {"format": "array"}, "[5.7145295,45.191463]\n", "[200, 2]"),
    ("geopoint", {}, "5.71, 45.19", "[5.71, 45.19]"),
    ("geopoint", {"format": "object"}, '{"lon": 5.1, "lat": 45}', '{"lon": 5.1}'),
    ("geojson", {}, '{"type": "Point", "coordinates": [4.8, 50.4]}', '{"type": "Pnt"}'),
    ("array", {}, '["lait", "fruits à coques"]', "lait"),
    ("object", {}, '{"a": 1}', "[1]"),
    ("string", {"format": "email"}, "info@mail.be", "info@mail"),
    ("string", {"format": "uri"}, "https://www.grenoble.fr/x", "www.grenoble.fr"),
    ("time", {}, "14:08:32", "25:00:00"),
])
def test_text_types_are_validated_and_kept(type_: str, extra: dict, good: str, bad: str) -> None:
    out = cast_column(column(good, bad), spec(type_, **extra))
    assert out.iloc[0] == good and pd.isna(out.iloc[1])


def test_geopoints_parse_lon_lat() -> None:
    points = geopoints(column("[5.7,45.1]", "[1,2,3]", None), "array")
    assert points.iloc[0].tolist() == [5.7, 45.1] and points.iloc[1:].isna().all().all()
