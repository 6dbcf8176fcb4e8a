"""A real addok 1.3.2 geocoder (the engine of France's national address API) on 127.0.0.1, over its own Redis.

addok runs from its own venv (`scripts/peer-addok`, or `ADDOK_PYTHON`) as subprocesses; this module is
stdlib only and imports neither addok nor moisson. `running_addok` starts a throwaway `redis-server` on a
free port (no persistence), writes an addok config like the national one (addok-fr phonetics, addok-france
rules, addok-csv batch endpoints; documents kept in Redis, so addok-sqlite-store is not needed), loads the
documents with `addok batch` + `addok ngrams`, and serves with gunicorn on `addok.http.wsgi` as production
does.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 60

MAIN_CITYCODE, MAIN_POSTCODE, MAIN_CITY = "59350", "59000", "Moisson-sur-Lys"
OTHER_CITYCODE, OTHER_POSTCODE, OTHER_CITY = "59352", "59100", "Val-de-Moisson"
CONTEXT = "59, Nord, Hauts-de-France"

# The national service's settings (BaseAdresseNationale/addok-docker `addok.conf`), with this peer's Redis.
CONFIG = """# Written by tests/peers/addok_peer.py
REDIS = {{"host": "127.0.0.1", "port": {port}, "indexes": {{"db": 0}}, "documents": {{"db": 1}}}}
DOCUMENT_STORE_PYPATH = "addok.ds.RedisStore"
ATTRIBUTION = "BAN"
LICENCE = "ETALAB-2.0"
EXTRA_FIELDS = [{{"key": "citycode"}}, {{"key": "oldcitycode"}}, {{"key": "oldcity"}}, {{"key": "district"}}]
FILTERS = ["type", "citycode", "postcode"]
QUERY_PROCESSORS_PYPATHS = [
    "addok.helpers.text.check_query_length",
    "addok_france.extract_address",
    "addok_france.clean_query",
    "addok_france.remove_leading_zeros",
]
SEARCH_RESULT_PROCESSORS_PYPATHS = [
    "addok.helpers.results.match_housenumber",
    "addok_france.make_labels",
    "addok.helpers.results.score_by_importance",
    "addok.helpers.results.score_by_autocomplete_distance",
    "addok.helpers.results.score_by_ngram_distance",
    "addok.helpers.results.score_by_geo_distance",
]
PROCESSORS_PYPATHS = [
    "addok.helpers.text.tokenize",
    "addok.helpers.text.normalize",
    "addok_france.glue_ordinal",
    "addok_france.fold_ordinal",
    "addok_france.flag_housenumber",
    "addok.helpers.text.synonymize",
    "addok_fr.phonemicize",
]
BATCH_WORKERS = 1
LOG_DIR = {log_dir!r}
"""

MAIN_STREETS = [
    "Rue de la Gare", "Rue des Tilleuls", "Avenue du Général de Gaulle", "Place de la Mairie", "Rue Pasteur",
    "Boulevard de la Lys", "Rue Victor Hugo", "Chemin du Moulin", "Rue Jean Jaurès", "Allée des Peupliers",
    "Rue de l'Église", "Impasse des Brasseurs", "Rue du Maréchal Foch", "Quai du Halage", "Rue des Écoles",
    "Rue de Lille",
]
OTHER_STREETS = ["Rue de la Gare", "Route de Moisson"]  # "Rue de la Gare" exists in both communes


def addok_python() -> Path:
    """Interpreter of addok's own venv: `ADDOK_PYTHON`, else `.peers/addok/bin/python` (`scripts/peer-addok`)."""
    return Path(os.environ.get("ADDOK_PYTHON") or REPO / ".peers" / "addok" / "bin" / "python")


def available() -> bool:
    """Whether the addok venv and `redis-server` are both installed."""
    return addok_python().exists() and shutil.which("redis-server") is not None


def _address(citycode: str, postcode: str, city: str, street_no: int, street: str, number: str, lat: float,
             lon: float) -> dict[str, Any]:
    digits, _, suffix = number.partition(" ")
    key = f"{citycode}_{street_no:04d}_{int(digits):05d}" + (f"_{suffix}" if suffix else "")
    return {"id": key, "housenumber": number, "street": street, "postcode": postcode, "citycode": citycode,
            "city": city, "lat": round(lat, 6), "lon": round(lon, 6)}


def imaginary_commune_addresses(n: int = 300) -> list[dict[str, Any]]:
    """Deterministic addresses of a made-up commune near Lille, plus a few of a second one.

    `n` addresses of Moisson-sur-Lys (INSEE 59350, postcode 59000, around 50.63 N 3.06 E) spread over 16
    streets, every seventh number also with a "bis", then 12 addresses of Val-de-Moisson (INSEE 59352,
    postcode 59100, ~6 km north-east), which also has a "Rue de la Gare", for citycode filtering.

    Args:
        n: Number of addresses in the main commune.

    Returns:
        Flat address rows (`id` in BAN's `citycode_street_number[_suffix]` form, `housenumber`, `street`,
        `postcode`, `citycode`, `city`, `lat`, `lon`), as `running_addok` takes them.
    """
    rows: list[dict[str, Any]] = []
    per_street = -(-n // len(MAIN_STREETS))  # rows per street, "bis" included
    for street_no, street in enumerate(MAIN_STREETS):
        # Each street starts at its own point of a 4 x 4 grid (~400 m apart) and runs east, 12 m per number.
        lat0, lon0 = 50.622 + 0.0036 * (street_no % 4), 3.048 + 0.0056 * (street_no // 4)
        end, number = min(n, len(rows) + per_street), 0
        while len(rows) < end:
            number += 1
            lat = lat0 + (0.00015 if number % 2 == 0 else -0.00015)
            lon = lon0 + 0.00017 * (number // 2)
            rows.append(_address(MAIN_CITYCODE, MAIN_POSTCODE, MAIN_CITY, street_no, street, str(number), lat, lon))
            if number % 7 == 0 and len(rows) < end:
                rows.append(_address(MAIN_CITYCODE, MAIN_POSTCODE, MAIN_CITY, street_no, street, f"{number} bis",
                                     lat, lon + 0.00005))
    for j in range(12):
        street_no, number = divmod(j, 6)
        lat, lon = 50.67 + 0.0005 * street_no, 3.12 + 0.00017 * (number + 1)
        rows.append(_address(OTHER_CITYCODE, OTHER_POSTCODE, OTHER_CITY, street_no, OTHER_STREETS[street_no],
                             str(number + 1), lat, lon))
    return rows


def ban_documents(addresses: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Group flat address rows into addok's BAN import documents.

    Rows with a `type` are addok documents already and pass unchanged. The others (keys as
    `imaginary_commune_addresses` gives them; `street_id`, `context` and `importance` optional, the street's
    id defaulting to the first two `_` parts of the address id) become one `street` document per
    (citycode, street), at its first number's position, with the numbers nested as
    `housenumbers: {"12": {"id", "lat", "lon"}, "12 bis": ...}`, plus one `municipality` document per
    citycode at the mean position of its addresses.

    Args:
        addresses: Flat address rows and/or ready-made addok documents.

    Returns:
        The documents, municipalities first.
    """
    ready: list[dict[str, Any]] = []
    streets: dict[tuple[str, str], dict[str, Any]] = {}
    towns: dict[str, dict[str, Any]] = {}
    points: dict[str, list[tuple[float, float]]] = {}
    for row in addresses:
        if "type" in row:
            ready.append(dict(row))
            continue
        citycode = row["citycode"]
        context = row.get("context", CONTEXT)
        street = streets.get((citycode, row["street"]))
        if street is None:
            street = streets[citycode, row["street"]] = {
                "id": row.get("street_id") or "_".join(row["id"].split("_")[:2]), "type": "street",
                "name": row["street"], "postcode": row["postcode"],
                "citycode": citycode, "city": row["city"], "context": context, "lat": row["lat"],
                "lon": row["lon"], "importance": row.get("importance", 0.5), "housenumbers": {}}
        street["housenumbers"][row["housenumber"]] = {"id": row["id"], "lat": row["lat"], "lon": row["lon"]}
        towns.setdefault(citycode, {"id": citycode, "type": "municipality", "name": row["city"],
                                    "postcode": row["postcode"], "citycode": citycode, "city": row["city"],
                                    "context": context, "importance": 0.6})
        points.setdefault(citycode, []).append((float(row["lat"]), float(row["lon"])))
    for citycode, town in towns.items():
        lats, lons = zip(*points[citycode], strict=True)
        town["lat"], town["lon"] = round(sum(lats) / len(lats), 6), round(sum(lons) / len(lons), 6)
    return [*towns.values(), *streets.values(), *ready]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(proc: subprocess.Popen[bytes], ready: Callable[[], bool], what: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}; see {log}")
        if ready():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not answer within {STARTUP_TIMEOUT} s; see {log}")


def _redis_pong(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return answer.status == 200
    except (OSError, urllib.error.URLError):
        return False


def _stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def running_addok(workdir: Path, documents: Iterable[dict[str, Any]], *, workers: int = 2) -> Iterator[str]:
    """Run Redis and addok loaded with `documents` until the block ends.

    Files in `workdir`: `redis/` (Redis' dir), `redis.log`, `addok.conf`, `documents.ndjson`,
    `load.log` (batch + ngrams output) and `addok.log` (gunicorn).

    Args:
        workdir: Directory for the config, the data and the logs (created if missing).
        documents: Address rows and/or addok documents, as `ban_documents` takes them.
        workers: gunicorn worker processes (4 threads each); addok is CPU-bound Python, so a batch sent in
            parallel parts only goes faster with more than one, as the national service runs it.

    Yields:
        The base URL, `http://127.0.0.1:PORT` (no trailing slash): `/search/`, `/reverse/`, `/search/csv/`,
        `/reverse/csv/` and `/health` answer there.

    Raises:
        RuntimeError: addok is not installed, or Redis or addok did not start (the logs tell why).
    """
    python = addok_python()
    if not available():
        raise RuntimeError("addok is not installed: run scripts/peer-addok")
    bindir = python.parent
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "redis").mkdir(exist_ok=True)
    redis_port, http_port = _free_port(), _free_port()
    config = workdir / "addok.conf"
    config.write_text(CONFIG.format(port=redis_port, log_dir=str(workdir)), encoding="utf-8")
    data = workdir / "documents.ndjson"
    with data.open("w", encoding="utf-8") as out:
        for doc in ban_documents(documents):
            out.write(json.dumps(doc, ensure_ascii=False) + "\n")
    env = {**os.environ, "ADDOK_CONFIG_MODULE": str(config), "PYTHONWARNINGS": "ignore"}
    for key in [k for k in env if k.startswith(("ADDOK_", "REDIS_")) and k != "ADDOK_CONFIG_MODULE"]:
        env.pop(key)  # addok reads ADDOK_<KEY> and REDIS_* from the environment: only our config counts
    redis = server = None
    with (workdir / "redis.log").open("wb") as redis_log, (workdir / "addok.log").open("wb") as addok_log:
        try:
            redis = subprocess.Popen(
                ["redis-server", "--bind", "127.0.0.1", "--port", str(redis_port), "--save", "", "--appendonly",
                 "no", "--dir", str(workdir / "redis"), "--daemonize", "no"],
                stdout=redis_log, stderr=subprocess.STDOUT)
            _wait(redis, lambda: _redis_pong(redis_port), "redis-server", workdir / "redis.log")
            with (workdir / "load.log").open("wb") as load_log:
                for command in (["batch", str(data)], ["ngrams"]):
                    subprocess.run([str(bindir / "addok"), *command], cwd=workdir, env=env, stdout=load_log,
                                   stderr=subprocess.STDOUT, check=True, timeout=STARTUP_TIMEOUT)
            server = subprocess.Popen(
                [str(bindir / "gunicorn"), "--bind", f"127.0.0.1:{http_port}", "--workers", str(workers),
                 "--threads", "4", "--chdir", str(workdir), "addok.http.wsgi:application"],
                cwd=workdir, env=env, stdout=addok_log, stderr=subprocess.STDOUT)
            url = f"http://127.0.0.1:{http_port}"
            _wait(server, lambda: _http_ok(f"{url}/health"), "addok (gunicorn)", workdir / "addok.log")
            yield url
        finally:
            _stop(server)
            _stop(redis)


@contextlib.contextmanager
def running_or_skip(workdir: Path, documents: Iterable[dict[str, Any]]) -> Iterator[str]:
    """`running_addok`, or skip the test saying how to install addok (under scripts/test, a skip fails)."""
    import pytest

    if not available():
        pytest.skip("addok is not installed: run scripts/peer-addok (scripts/test does)")
    with running_addok(workdir, documents) as url:
        yield url
