"""The real addok peer (`addok_peer.py`): what its HTTP API and addok-csv's batch endpoint answer.

These pin the facts a geocoding client relies on, against addok 1.3.2 + addok-csv 1.1.0 with the national
service's configuration, loaded with an imaginary commune (`imaginary_commune_addresses`).
"""

from __future__ import annotations

import csv
import io
import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.peers.addok_peer import (
    MAIN_CITY,
    MAIN_CITYCODE,
    MAIN_POSTCODE,
    OTHER_CITYCODE,
    available,
    imaginary_commune_addresses,
    running_addok,
)

pytestmark = pytest.mark.skipif(not available(), reason="addok is not installed: run scripts/peer-addok")

ADDRESSES = imaginary_commune_addresses(300)
BY_ID = {row["id"]: row for row in ADDRESSES}
RESULT_COLUMNS = ["latitude", "longitude", "result_label", "result_score", "result_score_next", "result_type",
                  "result_id", "result_housenumber", "result_name", "result_street", "result_postcode",
                  "result_city", "result_context", "result_citycode", "result_oldcitycode", "result_oldcity",
                  "result_district"]
STARTUP: dict[str, float] = {}


@pytest.fixture(scope="module")
def addok(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    started = time.perf_counter()
    with running_addok(tmp_path_factory.mktemp("addok"), ADDRESSES) as url:
        STARTUP["seconds"] = time.perf_counter() - started
        yield url


def get_json(url: str, path: str, **params: Any) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}{path}?{urllib.parse.urlencode(params, doseq=True)}", timeout=10) as answer:
        return json.load(answer)


def post_csv(url: str, path: str, text: str, fields: list[tuple[str, str]]) -> tuple[int, str, str]:
    """POST a multipart form (`data` = the CSV, then `fields`); returns status, content type and decoded body."""
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
             for name, value in fields]
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="data"; filename="adresses.csv"\r\n'
            f"Content-Type: text/csv\r\n\r\n{text}\r\n{''.join(parts)}--{boundary}--\r\n").encode()
    request = urllib.request.Request(f"{url}{path}", data=body, method="POST",
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.headers["Content-Type"], answer.read().decode("utf-8-sig")
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read().decode("utf-8", "replace")


def csv_of(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, list(rows[0]), delimiter=";", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def sample(*ids: str) -> list[dict[str, str]]:
    return [{"ref": i, "numero": BY_ID[i]["housenumber"], "voie": BY_ID[i]["street"],
             "code_postal": BY_ID[i]["postcode"], "ville": BY_ID[i]["city"], "code_insee": BY_ID[i]["citycode"]}
            for i in ids]


COLUMNS = [("columns", "numero"), ("columns", "voie"), ("columns", "code_postal"), ("columns", "ville")]


def test_starts_quickly(addok: str) -> None:
    assert get_json(addok, "/health")["status"] == "HEALTHY"
    assert STARTUP["seconds"] < 30  # ~1.5 s here: Redis, batch + ngrams of 312 addresses, gunicorn


def test_search_finds_a_housenumber(addok: str) -> None:
    answer = get_json(addok, "/search/", q=f"12 rue des Tilleuls {MAIN_POSTCODE} {MAIN_CITY}", limit=1,
                      autocomplete=0)
    feature = answer["features"][0]
    props = feature["properties"]
    expected = BY_ID[f"{MAIN_CITYCODE}_0001_00012"]
    assert props["label"] == f"12 Rue des Tilleuls {MAIN_POSTCODE} {MAIN_CITY}"
    assert props["score"] > 0.7
    assert (props["type"], props["housenumber"], props["id"]) == ("housenumber", "12", expected["id"])
    assert (props["citycode"], props["postcode"], props["street"]) == (MAIN_CITYCODE, MAIN_POSTCODE, expected["street"])
    assert feature["geometry"]["coordinates"] == [expected["lon"], expected["lat"]]


def test_search_understands_bis_and_loose_spelling(addok: str) -> None:
    props = get_json(addok, "/search/", q="7bis r de la gare moisson sur lys", limit=1)["features"][0]["properties"]
    assert (props["type"], props["housenumber"], props["id"]) == ("housenumber", "7 bis", "59350_0000_00007_bis")


def test_search_citycode_filter_works_on_get(addok: str) -> None:
    # "Rue de la Gare" exists in both communes: unfiltered, both come back with the same score.
    both = get_json(addok, "/search/", q="3 rue de la gare", limit=5, autocomplete=0)["features"]
    assert {f["properties"]["citycode"] for f in both} == {MAIN_CITYCODE, OTHER_CITYCODE}
    assert len({round(f["properties"]["score"], 6) for f in both[:2]}) == 1
    only = get_json(addok, "/search/", q="3 rue de la gare", limit=5, autocomplete=0, citycode=OTHER_CITYCODE)
    assert [f["properties"]["id"] for f in only["features"]] == [f"{OTHER_CITYCODE}_0000_00003"]
    assert only["filters"] == {"citycode": [OTHER_CITYCODE]}


def test_csv_search_adds_result_columns(addok: str) -> None:
    ids = ["59350_0000_00001", "59350_0003_00014", "59350_0003_00014_bis", "59350_0015_00005", "59352_0001_00002"]
    status, content_type, text = post_csv(addok, "/search/csv/", csv_of(sample(*ids)), COLUMNS)
    assert status == 200
    assert content_type == "text/csv; charset=utf-8-sig"  # the answer starts with a BOM
    reader = csv.DictReader(io.StringIO(text), delimiter=";")  # the input's delimiter is kept
    assert reader.fieldnames == ["ref", "numero", "voie", "code_postal", "ville", "code_insee", *RESULT_COLUMNS]
    rows = list(reader)
    assert [row["result_id"] for row in rows] == ids
    for row in rows:
        expected = BY_ID[row["ref"]]
        assert float(row["result_score"]) > 0.7
        assert row["result_type"] == "housenumber"
        assert row["result_housenumber"] == expected["housenumber"]
        assert row["result_citycode"] == expected["citycode"]
        assert row["result_label"] == f"{expected['housenumber']} {expected['street']} {expected['postcode']} " \
                                      f"{expected['city']}"
        assert (float(row["latitude"]), float(row["longitude"])) == (expected["lat"], expected["lon"])
        assert row["result_oldcitycode"] == row["result_district"] == ""


def test_csv_search_blanks_weak_matches_and_ignores_result_columns(addok: str) -> None:
    nonsense = {"ref": "x", "numero": "", "voie": "Zorglub Xylophone", "code_postal": "", "ville": "", "code_insee": ""}
    rows = [*sample("59350_0002_00003"), nonsense]
    # addok-csv 1.1.0 has no `result_columns` (the national service has): every result column comes back.
    status, _, text = post_csv(addok, "/search/csv/", csv_of(rows), [*COLUMNS, ("result_columns", "result_id")])
    assert status == 200
    found, missing = csv.DictReader(io.StringIO(text), delimiter=";")
    assert found["result_id"] == "59350_0002_00003" and found["result_label"]
    # No match above CSV_MIN_SCORE (0.5, `min_score` changes it): all result columns empty, no status column.
    assert all(missing[column] == "" for column in RESULT_COLUMNS)
    assert "result_status" not in missing


def test_csv_search_filter_column_is_a_server_error(addok: str) -> None:
    """addok-csv 1.1.0 on addok 1.3: `citycode=<column>` answers 500 (`TypeError: unhashable type: 'list'`).

    addok 1.3 parses filters into lists (multi-value filters); addok-csv still uses the value as a column
    name. Clients filter after the fact on `result_citycode` instead.
    """
    text = csv_of(sample("59352_0000_00003"))
    for name, column in [("citycode", "code_insee"), ("postcode", "code_postal")]:
        status, _, _ = post_csv(addok, "/search/csv/", text, [("columns", "numero"), ("columns", "voie"),
                                                               (name, column)])
        assert status == 500, name
    # Without the filter the ambiguous street resolves to one commune; result_citycode says which one.
    status, _, body = post_csv(addok, "/search/csv/", text, [("columns", "numero"), ("columns", "voie")])
    assert status == 200
    (row,) = csv.DictReader(io.StringIO(body), delimiter=";")
    assert row["result_citycode"] in {MAIN_CITYCODE, OTHER_CITYCODE}
    assert row["result_label"].startswith("3 Rue de la Gare ")


def test_reverse_finds_the_nearest_housenumber(addok: str) -> None:
    expected = BY_ID["59350_0005_00008"]
    answer = get_json(addok, "/reverse/", lat=expected["lat"] + 0.00002, lon=expected["lon"])
    props = answer["features"][0]["properties"]
    assert (props["type"], props["id"], props["citycode"]) == ("housenumber", expected["id"], MAIN_CITYCODE)
    assert props["distance"] < 10
    street = get_json(addok, "/reverse/", lat=expected["lat"], lon=expected["lon"], type="street")
    assert street["features"][0]["properties"]["type"] == "street"


def test_reverse_csv(addok: str) -> None:
    expected = BY_ID["59352_0001_00004"]
    text = f"nom;latitude;longitude\nici;{expected['lat']};{expected['lon']}\n"
    status, _, body = post_csv(addok, "/reverse/csv/", text, [])
    assert status == 200
    (row,) = csv.DictReader(io.StringIO(body), delimiter=";")
    assert (row["result_id"], row["result_type"], row["result_distance"]) == (expected["id"], "housenumber", "0")
    assert row["result_citycode"] == OTHER_CITYCODE
