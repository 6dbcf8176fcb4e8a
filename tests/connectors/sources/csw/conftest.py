"""Fixtures of the CSW tests: a real pycsw (own venv) with the reference records, proxies for faults."""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.data import ISO, TEMPLATE
from tests.fakes.proxy import Proxy
from tests.peers.pycsw_peer import GENERATED, Pycsw, generate_records, require_pycsw


@pytest.fixture(scope="session")
def pycsw_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """pycsw serving the 28 reference records (27 loaded: one duplicate identifier), pages capped at 10."""
    require_pycsw()
    server = Pycsw(tmp_path_factory.mktemp("pycsw"))
    output = server.load(sorted(ISO.glob("pycsw-apiso/*.xml")) + sorted(ISO.glob("owslib/*.xml")))
    assert "iso_mi.xml not inserted" in output  # the real duplicate case of the reference records
    yield server.start()
    server.stop()


@pytest.fixture(scope="session")
def generated_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Pycsw, list[str]]:
    """A pycsw repository of `GENERATED` generated records, built once (not served)."""
    require_pycsw()
    work = tmp_path_factory.mktemp("pycsw-generated")
    server = Pycsw(work / "db")
    ids = generate_records(TEMPLATE, work / "gen", GENERATED)
    server.load(sorted((work / "gen").glob("*.xml")))
    return server, ids


@pytest.fixture
def generated(tmp_path: Path, generated_db: tuple[Pycsw, list[str]]) -> Iterator[tuple[Pycsw, list[str]]]:
    """A private pycsw over a copy of the generated records, pages capped at 25 (tests change them)."""
    base, ids = generated_db
    server = Pycsw(tmp_path / "pycsw", maxrecords=25, copy_of=base)
    server.start()
    yield server, ids
    server.stop()


@pytest.fixture
def proxy(pycsw_url: str) -> Iterator[Proxy]:
    """A counting, fault-injecting proxy in front of the reference pycsw."""
    p = Proxy(pycsw_url)
    yield p
    p.close()


CSV = "nom;commune;places\nParking Gare;Lille;120\nParking Mairie;Lille;45\n"
GEOJSON = {"type": "FeatureCollection", "features": [
    {"type": "Feature", "properties": {"nom": "Arceau 1", "places": 6},
     "geometry": {"type": "Point", "coordinates": [3.0573, 50.6292]}},
    {"type": "Feature", "properties": {"nom": "Arceau 2", "places": 4},
     "geometry": {"type": "Point", "coordinates": [3.0601, 50.6311]}}]}


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Iterator[str]:
    """A real static web server with the data files the records link to."""
    root = tmp_path_factory.mktemp("www")
    (root / "parkings.csv").write_text(CSV, encoding="utf-8")
    (root / "arceaux.geojson").write_text(json.dumps(GEOJSON), encoding="utf-8")
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()
