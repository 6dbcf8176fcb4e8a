"""The geocode step against a real addok (the national address API's engine) loaded with an imaginary commune."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pandas as pd
import pytest

from moisson.connectors.geocoder import Geocoder, GeocoderConfig
from moisson.prepare.geocode import GeocodeCache, GeocodeStep, geocode
from tests.peers import addok_peer

ADDRESSES = addok_peer.imaginary_commune_addresses(300)
MAIN = [a for a in ADDRESSES if a["citycode"] == addok_peer.MAIN_CITYCODE]
OTHER = [a for a in ADDRESSES if a["citycode"] == addok_peer.OTHER_CITYCODE]


@pytest.fixture(scope="module")
def addok(tmp_path_factory) -> Iterator[str]:
    with addok_peer.running_or_skip(tmp_path_factory.mktemp("addok"), ADDRESSES) as url:
        yield url


def metres(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    dy = (lat2 - lat1) * 111_320
    dx = (lon2 - lon1) * 111_320 * math.cos(math.radians(lat1))
    return math.hypot(dx, dy)


def frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame({
        "Adresse": pd.Series([f"{a['housenumber']} {a['street']}" for a in rows], dtype="string"),
        "Code postal": pd.Series([a["postcode"] for a in rows], dtype="string"),
        "Ville": pd.Series([a["city"] for a in rows], dtype="string"),
        "EQUIP_LAT": pd.Series([None] * len(rows), dtype="string"),
        "EQUIP_LONG": pd.Series([None] * len(rows), dtype="string"),
    })


STEP = GeocodeStep(address=["Adresse", "Code postal", "Ville"], citycode=addok_peer.MAIN_CITYCODE,
                   into={"lat": "EQUIP_LAT", "lon": "EQUIP_LONG"}, provenance=True)


def test_addresses_get_their_coordinates_and_a_rerun_sends_nothing(addok, tmp_path):
    rows = MAIN[:60]
    geocoder = Geocoder(GeocoderConfig(url=addok))
    cache = GeocodeCache(tmp_path / "geocode.sqlite")
    out, report = geocode(frame(rows), STEP, geocoder, cache)
    assert report.sent == 60 and report.found == 60 and report.refused == []
    for row, (_, got) in zip(rows, out.iterrows(), strict=True):
        assert metres(row["lat"], row["lon"], float(got["EQUIP_LAT"]), float(got["EQUIP_LONG"])) < 5
        assert got["result_type"] == "housenumber" and got["result_id"] == row["id"]
    assert geocoder.requests >= 1 and not geocoder._filters, "addok-csv 1.1 refuses filter columns: dropped"
    again, second = geocode(frame(rows), STEP, Geocoder(GeocoderConfig(url=addok)), cache)
    assert (second.sent, second.cached, second.found) == (0, 60, 60)
    assert again[["EQUIP_LAT", "EQUIP_LONG"]].equals(out[["EQUIP_LAT", "EQUIP_LONG"]])


def test_never_placed_in_another_commune_nor_below_the_score(addok, tmp_path):
    rows = [OTHER[0], MAIN[0]]
    table = frame(rows)
    table.loc[1, "Adresse"] = "zzz qqq 999"
    out, report = geocode(table, STEP, Geocoder(GeocoderConfig(url=addok)), GeocodeCache(tmp_path / "c.sqlite"))
    assert report.found == 0 and len(report.refused) == 2
    assert "autre commune (59352, attendu 59350)" in report.refused[0]["reason"]
    assert report.refused[0]["candidate"] and report.refused[0]["row"] == 2
    assert out["EQUIP_LAT"].isna().all()


def test_existing_coordinates_are_kept_and_overrides_win(addok, tmp_path):
    rows = MAIN[:3]
    table = frame(rows)
    table.loc[0, ["EQUIP_LAT", "EQUIP_LONG"]] = ["50.1", "3.1"]
    overrides = tmp_path / "corrections.csv"
    overrides.write_text(f"adresse;lat;lon\n{table.loc[1, 'Adresse']} {rows[1]['postcode']} {rows[1]['city']};"
                         "50,5;3,2\n", encoding="utf-8")
    step = STEP.model_copy(update={"overrides": overrides})
    out, report = geocode(table, step, Geocoder(GeocoderConfig(url=addok)), GeocodeCache(tmp_path / "c.sqlite"))
    assert (report.kept, report.overridden, report.sent) == (1, 1, 1)
    assert list(out.loc[0, ["EQUIP_LAT", "EQUIP_LONG"]]) == ["50.1", "3.1"]
    assert list(out.loc[1, ["EQUIP_LAT", "EQUIP_LONG"]]) == ["50.500000", "3.200000"]
