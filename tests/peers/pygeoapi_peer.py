"""A real pygeoapi (OGC API - Features) on 127.0.0.1, run from its own venv (`scripts/peer-pygeoapi`).

It serves the same generated features as the MapServer peer (`mapserver_peer.write_layer_data`), as
GeoJSON files kept in Lambert-93 (EPSG:2154): pygeoapi's GeoJSON provider with `storage_crs` EPSG:2154
reprojects to CRS84 by default and to any CRS of the `crs` list on `?crs=`. It runs as a subprocess of
`.peers/pygeoapi/bin/python` (or `PYGEOAPI_PYTHON`): pygeoapi pins Flask, SQLAlchemy 2.1, rasterio... apart
from the project. The config is written as JSON (YAML's superset) so this module needs only the stdlib.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from tests.peers.mapserver_peer import POINT_LAYER, POLYGON_LAYER, LayerData, wait_until_ready, write_layer_data

REPO = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 60.0
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"
EPSG2154 = "http://www.opengis.net/def/crs/EPSG/0/2154"

# Binds 127.0.0.1 on a free port first, then writes that port into the config (pygeoapi builds its
# `next` links from `server.url`), then imports the Flask app (which reads the config on import).
SERVE = """
import json, os, sys
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

class Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True

class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass

server = make_server("127.0.0.1", 0, None, server_class=Server, handler_class=Quiet)
port = server.server_port
path = os.environ["PYGEOAPI_CONFIG"]
with open(path, encoding="utf-8") as fh:
    config = json.load(fh)
config["server"]["bind"]["port"] = port
config["server"]["url"] = f"http://127.0.0.1:{port}"
with open(path, "w", encoding="utf-8") as fh:
    json.dump(config, fh, indent=1, ensure_ascii=False)
from pygeoapi.flask_app import APP
server.set_app(APP)
print(port, flush=True)
server.serve_forever()
"""


def pygeoapi_python() -> Path | None:
    """The pygeoapi venv's interpreter: `PYGEOAPI_PYTHON`, else `.peers/pygeoapi/bin/python`; None when absent."""
    path = Path(os.environ.get("PYGEOAPI_PYTHON") or REPO / ".peers" / "pygeoapi" / "bin" / "python")
    return path if path.exists() else None


def available() -> bool:
    """True when the pygeoapi venv exists (make it with `scripts/peer-pygeoapi`)."""
    return pygeoapi_python() is not None


def pygeoapi_version() -> str:
    """`pygeoapi.__version__` of the venv."""
    python = pygeoapi_python()
    if python is None:
        raise RuntimeError("pygeoapi is not installed: run scripts/peer-pygeoapi")
    return subprocess.run([str(python), "-c", "import pygeoapi; print(pygeoapi.__version__)"], capture_output=True,
                          text=True, check=True).stdout.strip()


def write_geojson(directory: Path, data: LayerData) -> dict[str, Path]:
    """Write the layers of `data` as GeoJSON files in Lambert-93 (`lieux.geojson`, `zones.geojson`).

    Args:
        directory: Where to write.
        data: What `mapserver_peer.write_layer_data` wrote: the same features, attributes and ids
            (`code`) as MapServer serves.

    Returns:
        The file of each collection id.
    """
    directory.mkdir(parents=True, exist_ok=True)
    points = [{"type": "Feature", "id": p.code, "geometry": {"type": "Point", "coordinates": [p.x, p.y]},
               "properties": {"code": p.code, "name": p.name, "type": p.type, "population": p.population,
                              "created_on": p.created_on, "updated_at": p.updated_at}} for p in data.points]
    zones = [{"type": "Feature", "id": z.code,
              "geometry": {"type": "Polygon", "coordinates": [[list(c) for c in z.ring]]},
              "properties": {"code": z.code, "name": z.name, "area_m2": z.area_m2}} for z in data.polygons]
    files = {}
    for name, features in ((POINT_LAYER, points), (POLYGON_LAYER, zones)):
        files[name] = directory / f"{name}.geojson"
        files[name].write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False),
                               encoding="utf-8")
    return files


def write_config(path: Path, data: LayerData, files: dict[str, Path], *, default_items: int = 10,
                 max_items: int = 500) -> Path:
    """Write pygeoapi's config (JSON) with one collection per file; the port is filled in at startup.

    Args:
        path: The config file to write.
        data: The layer data (for the collections' extents).
        files: Collection id -> GeoJSON file, as `write_geojson` returns.
        default_items: `limits.default_items`: page size when `limit` is absent.
        max_items: `limits.max_items`: the cap on `limit`.

    Returns:
        `path`.
    """
    lons = [p.lon for p in data.points] + [lon for z in data.polygons for lon, _ in z.ring_lonlat]
    lats = [p.lat for p in data.points] + [lat for z in data.polygons for _, lat in z.ring_lonlat]
    bbox = [min(lons), min(lats), max(lons), max(lats)]
    titles = {POINT_LAYER: "Lieux", POLYGON_LAYER: "Zones"}
    resources = {
        name: {"type": "collection", "title": titles.get(name, name), "description": f"Generated {name} near Lille",
               "keywords": ["test", "lille"], "links": [],
               "extents": {"spatial": {"bbox": bbox, "crs": CRS84}},
               "providers": [{"type": "feature", "name": "GeoJSON", "data": str(file.resolve()), "id_field": "code",
                              "storage_crs": EPSG2154, "crs": [CRS84, EPSG4326, EPSG2154]}]}
        for name, file in files.items()}
    config = {
        "server": {"bind": {"host": "127.0.0.1", "port": 0}, "url": "http://127.0.0.1:0",
                   "mimetype": "application/json; charset=UTF-8", "encoding": "utf-8", "languages": ["fr-FR"],
                   "cors": False, "pretty_print": False, "admin": False,
                   "limits": {"default_items": default_items, "max_items": max_items},
                   "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "attribution": "OpenStreetMap"}},
        "logging": {"level": "ERROR"},
        "metadata": {
            "identification": {"title": "Lille test OGC API (pygeoapi)", "description": "Generated features",
                               "keywords": ["test"], "keywords_type": "theme", "terms_of_service": "none",
                               "url": "http://127.0.0.1/"},
            "license": {"name": "CC-BY 4.0", "url": "https://creativecommons.org/licenses/by/4.0/"},
            "provider": {"name": "test", "url": "http://127.0.0.1/"},
            "contact": {"name": "test", "position": "test", "address": "test", "city": "Lille",
                        "stateorprovince": "Nord", "postalcode": "59000", "country": "France",
                        "phone": "+33-0-00-00-00-00", "fax": "+33-0-00-00-00-00", "email": "test@example.org",
                        "url": "http://127.0.0.1/", "hours": "none", "instructions": "none", "role": "pointOfContact"}},
        "resources": resources,
    }
    path.write_text(json.dumps(config, indent=1, ensure_ascii=False), encoding="utf-8")
    return path


@contextlib.contextmanager
def running_pygeoapi(workdir: Path, *, data: LayerData | None = None, n_points: int = 2500, default_items: int = 10,
                     max_items: int = 500) -> Iterator[str]:
    """Serve pygeoapi on 127.0.0.1 (a free port) until the block ends.

    Args:
        workdir: Directory for the GeoJSON files, the config, the OpenAPI stub and `pygeoapi.log`.
        data: Layer data already written by `mapserver_peer.write_layer_data`; generated in `workdir` when None.
        n_points: Points to generate when `data` is None.
        default_items: `limits.default_items`.
        max_items: `limits.max_items`.

    Yields:
        The landing page URL without a trailing slash (`http://127.0.0.1:PORT`).
    """
    python = pygeoapi_python()
    if python is None:
        raise RuntimeError("pygeoapi is not installed: run scripts/peer-pygeoapi")
    workdir.mkdir(parents=True, exist_ok=True)
    if data is None:
        data = write_layer_data(workdir, n_points)
    config = write_config(workdir / "pygeoapi-config.json", data, write_geojson(workdir, data),
                          default_items=default_items, max_items=max_items)
    openapi = workdir / "openapi.json"  # only /openapi serves it: a stub spares the slow generation
    openapi.write_text(json.dumps({"openapi": "3.0.2", "info": {"title": "test", "version": "0"}, "paths": {}}),
                       encoding="utf-8")
    env = {**os.environ, "PYGEOAPI_CONFIG": str(config), "PYGEOAPI_OPENAPI": str(openapi)}
    log = (workdir / "pygeoapi.log").open("w")
    proc = subprocess.Popen([str(python), "-W", "ignore", "-c", SERVE], cwd=workdir, env=env, stdout=subprocess.PIPE,
                            stderr=log, text=True)
    try:
        assert proc.stdout is not None
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)
        started = time.monotonic()
        reader.start()
        reader.join(STARTUP_TIMEOUT)
        if not line or not line[0].strip():
            raise RuntimeError(f"pygeoapi did not start; see {workdir / 'pygeoapi.log'}")
        url = f"http://127.0.0.1:{int(line[0])}"
        wait_until_ready(url, timeout=max(1.0, STARTUP_TIMEOUT - (time.monotonic() - started)),
                         probe="/collections?f=json")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
