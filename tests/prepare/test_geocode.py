"""The geocode step against a real addok (the national address API's engine) loaded with an imaginary commune."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pandas as pd
import pytest

from moisson.connectors.geocoder import Geocoder, GeocoderConfig, Place
from moisson.core.errors import RejectedError
from moisson.core.http import HttpClient
from moisson.prepare.geocode import GeocodeCache, GeocodeStep, geocode
from tests.fakes.proxy import Proxy
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
    # The geocoder placed them: the reverse check will find their commune in the cache.
    assert {(p.citycode, p.city) for p in report.places.values()} == {("59350", "Moisson-sur-Lys")}
    assert len(report.places) == 60
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


def test_parts_sent_in_parallel_come_back_in_order(addok, tmp_path):
    rows = MAIN[:60]
    geocoder = Geocoder(GeocoderConfig(url=addok, batch_rows=7, parallel=3))
    out, report = geocode(frame(rows), STEP, geocoder, GeocodeCache(tmp_path / "geocode.sqlite"))
    assert report.found == 60
    assert geocoder.requests == 10, "9 parts of at most 7 rows, the first sent again without the filter column"
    assert out["result_id"].tolist() == [row["id"] for row in rows]


def test_reverse_gives_each_point_its_commune_in_batches_cut_to_the_size_limit(addok, tmp_path):
    points = [(a["lat"], a["lon"]) for a in (MAIN[0], OTHER[0], MAIN[40])] + [(48.85, 2.35)]  # Paris: no address
    geocoder = Geocoder(GeocoderConfig(url=addok, max_upload_mb=0.00005))  # 50 bytes: two points a request
    places = geocoder.reverse(points)
    assert geocoder.requests == 2
    assert [(p.citycode, p.city) if p else None for p in places] == [
        ("59350", "Moisson-sur-Lys"), ("59352", "Val-de-Moisson"), ("59350", "Moisson-sur-Lys"), None]
    assert places[1].label.startswith("1 Rue de la Gare 59100") and places[1].distance == 0
    cache = GeocodeCache(tmp_path / "c.sqlite", table="reverse", kind=Place)
    cache.put({"a": places[0], "b": None})
    assert cache.get(["a", "b", "c"]) == {"a": places[0], "b": None}


def test_reverse_retries_a_server_error_and_refuses_a_cut_answer(addok):
    proxy = Proxy(addok, paths=True)
    try:
        geocoder = Geocoder(client=HttpClient(proxy.url, timeout=10, backoff=0.01, connector="geocoder"))
        remaining = [503]

        def once_busy(seen, status, body):
            return (remaining.pop(), b"busy") if remaining else None

        proxy.fault = once_busy
        [place] = geocoder.reverse([(MAIN[0]["lat"], MAIN[0]["lon"])])
        assert place.citycode == "59350" and len(proxy.seen) == 2 and all(s.path == "/reverse/csv/" for s in proxy.seen)
        proxy.fault = lambda seen, status, body: (status, body.splitlines(keepends=True)[0])  # header only
        with pytest.raises(RejectedError, match="a répondu 0 lignes pour 1"):
            geocoder.reverse([(MAIN[0]["lat"], MAIN[0]["lon"])])
    finally:
        proxy.close()
