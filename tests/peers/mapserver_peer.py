"""A real MapServer 8 on 127.0.0.1 for the WFS tests: `mapserv` run as a CGI per request behind a threaded http.server.

MapServer comes from Debian (`scripts/peer-mapserver` installs `mapserver-bin`, which holds `/usr/bin/mapserv`).
The data is a GeoPackage written here with sqlite3 and hand-made WKB (no GDAL needed to write it; MapServer
reads it through OGR): points near Lille in Lambert-93 (EPSG:2154) and a few polygons. Each generated feature
carries its WGS84 lon/lat, computed with the exact Lambert-93 formulas, so tests can assert reprojected
coordinates and axis orders.

MapServer 8 refuses to run without a config file (`msLoadConfig(): Unable to access file`): one is written
next to the mapfile and named by `MAPSERVER_CONFIG_FILE`; the mapfile itself is named by `MS_MAPFILE`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import random
import shutil
import sqlite3
import struct
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

MAPSERV_CANDIDATES = ("/usr/bin/mapserv", "/usr/lib/cgi-bin/mapserv")
STARTUP_TIMEOUT = 30.0
REQUEST_TIMEOUT = 120.0
GPKG_NAME = "lille.gpkg"
DEFAULT_FORMATS = ("gml2", "gml3", "geojson")
DEFAULT_SRS = ("EPSG:2154", "EPSG:4326", "EPSG:3857")
POINT_LAYER = "lieux"
POLYGON_LAYER = "zones"
TYPES = ("école", "mairie", "gare", "musée", "parc", "bibliothèque")
QUARTIERS = ("Vieux-Lille", "Wazemmes", "Fives", "Moulins", "Vauban", "Saint-Maurice", "Lomme", "Hellemmes")

# RGF93 / Lambert-93 (EPSG:2154): Lambert conformal conic, two standard parallels, on GRS80.
# RGF93 and WGS84 differ by less than a metre: PROJ uses a null transformation between them.
_A = 6378137.0
_F = 1 / 298.257222101
_E = math.sqrt(_F * (2 - _F))
_LON0, _LAT0, _LAT1, _LAT2 = math.radians(3.0), math.radians(46.5), math.radians(49.0), math.radians(44.0)
_X0, _Y0 = 700000.0, 6600000.0

LAMBERT93_WKT = (
    'PROJCS["RGF93 / Lambert-93",GEOGCS["RGF93",DATUM["Reseau_Geodesique_Francais_1993",'
    'SPHEROID["GRS 1980",6378137,298.257222101,AUTHORITY["EPSG","7019"]],TOWGS84[0,0,0,0,0,0,0],'
    'AUTHORITY["EPSG","6171"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],'
    'UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AUTHORITY["EPSG","4171"]],'
    'PROJECTION["Lambert_Conformal_Conic_2SP"],PARAMETER["standard_parallel_1",49],'
    'PARAMETER["standard_parallel_2",44],PARAMETER["latitude_of_origin",46.5],PARAMETER["central_meridian",3],'
    'PARAMETER["false_easting",700000],PARAMETER["false_northing",6600000],UNIT["metre",1,AUTHORITY["EPSG","9001"]],'
    'AXIS["X",EAST],AXIS["Y",NORTH],AUTHORITY["EPSG","2154"]]'
)
WGS84_WKT = (
    'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],'
    'AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],'
    'UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AXIS["Latitude",NORTH],AXIS["Longitude",EAST],'
    'AUTHORITY["EPSG","4326"]]'
)


def _m(lat: float) -> float:
    return math.cos(lat) / math.sqrt(1 - (_E * math.sin(lat)) ** 2)


def _t(lat: float) -> float:
    s = _E * math.sin(lat)
    return math.tan(math.pi / 4 - lat / 2) / ((1 - s) / (1 + s)) ** (_E / 2)


_N = (math.log(_m(_LAT1)) - math.log(_m(_LAT2))) / (math.log(_t(_LAT1)) - math.log(_t(_LAT2)))
_FF = _m(_LAT1) / (_N * _t(_LAT1) ** _N)
_R0 = _A * _FF * _t(_LAT0) ** _N


def lambert93_to_wgs84(x: float, y: float) -> tuple[float, float]:
    """Inverse Lambert-93 projection.

    Args:
        x: Easting in metres.
        y: Northing in metres.

    Returns:
        (longitude, latitude) in decimal degrees (RGF93, equal to WGS84 for PROJ).
    """
    dx, dy = x - _X0, _R0 - (y - _Y0)
    r = math.copysign(math.hypot(dx, dy), _N)
    t = (r / (_A * _FF)) ** (1 / _N)
    lat = math.pi / 2 - 2 * math.atan(t)
    for _ in range(20):
        s = _E * math.sin(lat)
        nxt = math.pi / 2 - 2 * math.atan(t * ((1 - s) / (1 + s)) ** (_E / 2))
        if abs(nxt - lat) < 1e-14:
            lat = nxt
            break
        lat = nxt
    lon = math.atan2(dx, dy) / _N + _LON0
    return math.degrees(lon), math.degrees(lat)


def wgs84_to_lambert93(lon: float, lat: float) -> tuple[float, float]:
    """Forward Lambert-93 projection.

    Args:
        lon: Longitude in decimal degrees.
        lat: Latitude in decimal degrees.

    Returns:
        (x, y) in metres.
    """
    r = _A * _FF * _t(math.radians(lat)) ** _N
    theta = _N * (math.radians(lon) - _LON0)
    return _X0 + r * math.sin(theta), _Y0 + _R0 - r * math.cos(theta)


@dataclass(frozen=True)
class PointFeature:
    """One generated point (table `lieux`).

    Attributes:
        fid: Feature id (GeoPackage `fid`, 1-based, the order MapServer returns features in).
        code: Unique string id (`L00001`…), MapServer's `gml_featureid`: the gml:id is `lieux.L00001`.
        name: Non-ASCII name.
        type: One of `TYPES`.
        population: An integer attribute.
        created_on: A `DATE` column (`YYYY-MM-DD`).
        updated_at: A `TEXT` column holding an ISO 8601 UTC timestamp (`YYYY-MM-DDTHH:MM:SSZ`).
        x: Lambert-93 easting.
        y: Lambert-93 northing.
        lon: WGS84 longitude of (x, y).
        lat: WGS84 latitude of (x, y).
    """

    fid: int
    code: str
    name: str
    type: str
    population: int
    created_on: str
    updated_at: str
    x: float
    y: float
    lon: float
    lat: float


@dataclass(frozen=True)
class PolygonFeature:
    """One generated polygon (table `zones`): a closed ring, in Lambert-93 and in WGS84.

    Attributes:
        fid: Feature id.
        name: Name of the zone.
        code: Unique string id (`Z01`…), the `gml_featureid`.
        area_m2: Area in square metres, a `REAL` column.
        ring: Closed exterior ring in Lambert-93 (x, y).
        ring_lonlat: The same ring in WGS84 (lon, lat).
    """

    fid: int
    name: str
    code: str
    area_m2: float
    ring: tuple[tuple[float, float], ...]
    ring_lonlat: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class LayerData:
    """What `write_layer_data` wrote.

    Attributes:
        path: The GeoPackage.
        points: Features of the point layer, in fid order.
        polygons: Features of the polygon layer, in fid order.
    """

    path: Path
    points: tuple[PointFeature, ...]
    polygons: tuple[PolygonFeature, ...]

    def extent(self) -> tuple[float, float, float, float]:
        """Lambert-93 extent of both layers: (minx, miny, maxx, maxy)."""
        xs = [p.x for p in self.points] + [x for z in self.polygons for x, _ in z.ring]
        ys = [p.y for p in self.points] + [y for z in self.polygons for _, y in z.ring]
        return min(xs), min(ys), max(xs), max(ys)

    def assert_polygons(self, rows: Sequence[dict], tolerance: float) -> None:
        """`rows` (code, GeoJSON geometry) are the polygons in order, each ring vertex within `tolerance` degrees."""
        assert [r["code"] for r in rows] == [z.code for z in self.polygons]
        for row, zone in zip(rows, self.polygons, strict=True):
            geometry = json.loads(row["geometry"])
            assert geometry["type"] == "Polygon"
            for (lon, lat), (elon, elat) in zip(geometry["coordinates"][0], zone.ring_lonlat, strict=True):
                assert abs(lon - elon) <= tolerance and abs(lat - elat) <= tolerance, (zone.code, lon, lat)


def mapserv_binary() -> str | None:
    """Path of the `mapserv` CGI binary (`MAPSERV` env var first), or None when MapServer is not installed."""
    for candidate in (os.environ.get("MAPSERV"), *MAPSERV_CANDIDATES, shutil.which("mapserv")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def available() -> bool:
    """True when MapServer's `mapserv` can be run (install it with `scripts/peer-mapserver`)."""
    return mapserv_binary() is not None


def mapserver_version() -> str:
    """First line of `mapserv -v`, e.g. `MapServer version 8.0.0 OUTPUT=PNG ...`."""
    binary = mapserv_binary()
    if binary is None:
        raise RuntimeError("MapServer is not installed: run scripts/peer-mapserver")
    return subprocess.run([binary, "-v"], capture_output=True, text=True, check=False).stdout.strip()


def _generate_points(n_points: int, seed: int) -> list[PointFeature]:
    rng = random.Random(seed)
    base = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    points = []
    for i in range(n_points):
        # ~20 km x 16 km around Lille (Grand-Place is about x=704 100, y=7 059 300), centimetre precision.
        x = round(rng.uniform(694_000.0, 714_000.0), 2)
        y = round(rng.uniform(7_051_000.0, 7_067_000.0), 2)
        lon, lat = lambert93_to_wgs84(x, y)
        kind = TYPES[i % len(TYPES)]
        created = (base - dt.timedelta(days=rng.randrange(0, 3650))).date().isoformat()
        updated = (base + dt.timedelta(seconds=rng.randrange(0, 300 * 86400))).strftime("%Y-%m-%dT%H:%M:%SZ")
        name = f"{kind.capitalize()} {QUARTIERS[i % len(QUARTIERS)]} n°{i + 1}"
        points.append(PointFeature(i + 1, f"L{i + 1:05d}", name, kind, rng.randrange(0, 250_000), created, updated,
                                   x, y, lon, lat))
    return points


def _generate_polygons(n_polygons: int) -> list[PolygonFeature]:
    polygons = []
    for i in range(n_polygons):
        x0, y0 = 694_000.0 + 2_500.0 * (i % 8), 7_051_000.0 + 3_000.0 * (i // 8)
        w, h = 2_000.0, 1_500.0 + 100.0 * (i % 5)
        ring = ((x0, y0), (x0 + w, y0), (x0 + w, y0 + h), (x0, y0 + h), (x0, y0))
        lonlat = tuple(lambert93_to_wgs84(x, y) for x, y in ring)
        polygons.append(PolygonFeature(i + 1, f"Zone {QUARTIERS[i % len(QUARTIERS)]} {i + 1}", f"Z{i + 1:02d}",
                                       w * h, ring, lonlat))
    return polygons


def _gpkg_point(x: float, y: float, srs_id: int = 2154) -> bytes:
    # GeoPackage binary header: magic, version 0, flags (little-endian, no envelope), srs id; then WKB.
    return b"GP" + bytes([0, 0b0000_0001]) + struct.pack("<i", srs_id) + struct.pack("<BIdd", 1, 1, x, y)


def _gpkg_polygon(ring: Sequence[tuple[float, float]], srs_id: int = 2154) -> bytes:
    xs, ys = [x for x, _ in ring], [y for _, y in ring]
    header = b"GP" + bytes([0, 0b0000_0011]) + struct.pack("<i", srs_id)  # envelope [minx, maxx, miny, maxy]
    envelope = struct.pack("<dddd", min(xs), max(xs), min(ys), max(ys))
    wkb = struct.pack("<BII", 1, 3, 1) + struct.pack("<I", len(ring))
    wkb += b"".join(struct.pack("<dd", x, y) for x, y in ring)
    return header + envelope + wkb


def write_layer_data(directory: Path, n_points: int = 2500, n_polygons: int = 16, *, seed: int = 59) -> LayerData:
    """Write `lille.gpkg` (tables `lieux` and `zones`, EPSG:2154) in `directory`, deterministically.

    Args:
        directory: Where to write (created if needed; an existing GeoPackage is replaced).
        n_points: Number of points in `lieux`.
        n_polygons: Number of rectangles in `zones`.
        seed: Seed of the generator: the same arguments always give the same features.

    Returns:
        The path and the features, with their WGS84 coordinates.
    """
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / GPKG_NAME
    path.unlink(missing_ok=True)
    points, polygons = _generate_points(n_points, seed), _generate_polygons(n_polygons)
    data = LayerData(path, tuple(points), tuple(polygons))
    now = "2024-01-01T00:00:00.000Z"
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute("PRAGMA application_id = 1196444487")  # 'GPKG'
        db.execute("PRAGMA user_version = 10300")
        db.executescript("""
            CREATE TABLE gpkg_spatial_ref_sys (srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY,
              organization TEXT NOT NULL, organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL,
              description TEXT);
            CREATE TABLE gpkg_contents (table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL,
              identifier TEXT UNIQUE, description TEXT DEFAULT '', last_change DATETIME NOT NULL,
              min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE,
              srs_id INTEGER REFERENCES gpkg_spatial_ref_sys(srs_id));
            CREATE TABLE gpkg_geometry_columns (table_name TEXT NOT NULL, column_name TEXT NOT NULL,
              geometry_type_name TEXT NOT NULL, srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
              CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name));
            CREATE TABLE lieux (fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, geom POINT, code TEXT UNIQUE NOT NULL,
              name TEXT, type TEXT, population INTEGER, created_on DATE, updated_at TEXT);
            CREATE TABLE zones (fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, geom POLYGON,
              code TEXT UNIQUE NOT NULL, name TEXT, area_m2 REAL);
        """)
        db.executemany("INSERT INTO gpkg_spatial_ref_sys VALUES (?, ?, ?, ?, ?, ?)", [
            ("Undefined cartesian SRS", -1, "NONE", -1, "undefined", "undefined cartesian coordinate reference system"),
            ("Undefined geographic SRS", 0, "NONE", 0, "undefined", "undefined geographic coordinate reference system"),
            ("WGS 84 geodetic", 4326, "EPSG", 4326, WGS84_WKT, "longitude/latitude coordinates in decimal degrees"),
            ("RGF93 / Lambert-93", 2154, "EPSG", 2154, LAMBERT93_WKT, "Lambert-93"),
        ])
        minx, miny, maxx, maxy = data.extent()
        for table, kind in ((POINT_LAYER, "POINT"), (POLYGON_LAYER, "POLYGON")):
            db.execute("INSERT INTO gpkg_contents VALUES (?, 'features', ?, '', ?, ?, ?, ?, ?, 2154)",
                       (table, table, now, minx, miny, maxx, maxy))
            db.execute("INSERT INTO gpkg_geometry_columns VALUES (?, 'geom', ?, 2154, 0, 0)", (table, kind))
        db.executemany("INSERT INTO lieux VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [
            (p.fid, _gpkg_point(p.x, p.y), p.code, p.name, p.type, p.population, p.created_on, p.updated_at)
            for p in points])
        db.executemany("INSERT INTO zones VALUES (?, ?, ?, ?, ?)", [
            (z.fid, _gpkg_polygon(z.ring), z.code, z.name, z.area_m2) for z in polygons])
    return data


MAPFILE = """MAP
  NAME "lille"
  STATUS ON
  EXTENT {extent}
  UNITS METERS
  SIZE 400 400
  PROJECTION
    "init=epsg:2154"
  END
  OUTPUTFORMAT
    NAME "geojson"
    DRIVER "OGR/GEOJSON"
    MIMETYPE "application/json; subtype=geojson"
    FORMATOPTION "STORAGE=stream"
    FORMATOPTION "FORM=SIMPLE"
  END
  WEB
    METADATA
      "ows_title" "Lille test WFS (MapServer)"
      "ows_abstract" "Generated points and polygons near Lille, Lambert-93"
      "ows_onlineresource" "{url}?"
      "ows_srs" "{srs}"
      "ows_enable_request" "*"
      "ows_encoding" "UTF-8"
      "ows_keywordlist" "test,lille"
      "ows_fees" "none"
      "ows_accessconstraints" "none"
      "ows_contactorganization" "test"
      "ows_contactperson" "test"
      "ows_contactelectronicmailaddress" "test@example.org"
      "wfs_maxfeatures" "{maxfeatures}"
      "wfs_compute_number_matched" "{compute}"
      "wfs_getfeature_formatlist" "{formats}"
    END
  END
{layers}END
"""

LAYER = """  LAYER
    NAME "{name}"
    TYPE {kind}
    STATUS ON
    CONNECTIONTYPE OGR
    CONNECTION "{gpkg}"
    DATA "{name}"
    PROJECTION
      "init=epsg:2154"
    END
    METADATA
      "wfs_title" "{title}"
      "wfs_srs" "{srs}"
      "gml_include_items" "all"
      "gml_featureid" "code"
      "gml_types" "auto"
      "wfs_enable_request" "*"
    END
  END
"""


def write_mapfile(path: Path, data: LayerData, *, url: str, maxfeatures: int = 500,
                  formats: Sequence[str] = DEFAULT_FORMATS, srs: Sequence[str] = DEFAULT_SRS,
                  compute_number_matched: bool = True) -> Path:
    """Write a MapServer mapfile serving both layers of `data` over WFS, and the MapServer 8 config file beside it.

    Args:
        path: The mapfile to write; `mapserver.conf` is written in the same directory.
        data: What `write_layer_data` wrote.
        url: Public URL of the endpoint (advertised as `ows_onlineresource`).
        maxfeatures: `wfs_maxfeatures`: the cap on features per GetFeature response.
        formats: `wfs_getfeature_formatlist`: output format names offered by GetFeature.
        srs: `ows_srs`/`wfs_srs`: the first is the default CRS (and the only output CRS of WFS 1.0.0).
        compute_number_matched: `wfs_compute_number_matched`: without it MapServer answers
            `numberMatched="unknown"` to WFS 2.0 GetFeature and caps `resultType=hits` at `maxfeatures`.

    Returns:
        The path of the config file (`MAPSERVER_CONFIG_FILE`).
    """
    minx, miny, maxx, maxy = data.extent()
    layers = "".join(LAYER.format(name=name, kind=kind, gpkg=data.path.resolve(), title=title, srs=" ".join(srs))
                     for name, kind, title in ((POINT_LAYER, "POINT", "Lieux"), (POLYGON_LAYER, "POLYGON", "Zones")))
    path.write_text(MAPFILE.format(extent=f"{minx - 100:.0f} {miny - 100:.0f} {maxx + 100:.0f} {maxy + 100:.0f}",
                                   url=url, maxfeatures=maxfeatures, formats=",".join(formats), srs=" ".join(srs),
                                   compute="true" if compute_number_matched else "false", layers=layers),
                    encoding="utf-8")
    config = path.with_name("mapserver.conf")
    config.write_text(f'CONFIG\n  ENV\n    MS_MAP_NO_PATH "1"\n  END\n  MAPS\n    LILLE "{path.resolve()}"\n'
                      "  END\nEND\n", encoding="utf-8")
    return config


class _MapServerHTTP(ThreadingHTTPServer):
    """Runs `mapserv` once per request, with `env` (set before serving) plus the request's CGI variables."""

    daemon_threads = True
    mapserv: str
    env: dict[str, str]
    log_path: Path | None
    log_lock: threading.Lock


class _CgiHandler(BaseHTTPRequestHandler):
    server: _MapServerHTTP
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._run(b"")

    def do_POST(self) -> None:
        self._run(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

    def log_message(self, *args: object) -> None:  # one line per request would drown the test output
        pass

    def _run(self, body: bytes) -> None:
        path, _, query = self.path.partition("?")
        host, port = self.server.server_address[:2]
        env = {**self.server.env, "GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": self.command,
               "QUERY_STRING": query, "SCRIPT_NAME": path, "SERVER_NAME": str(host), "SERVER_PORT": str(port),
               "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": self.client_address[0],
               "HTTP_HOST": self.headers.get("Host", f"{host}:{port}")}
        if self.command == "POST":
            env["CONTENT_TYPE"] = self.headers.get("Content-Type", "application/xml")
            env["CONTENT_LENGTH"] = str(len(body))
        try:
            done = subprocess.run([self.server.mapserv], input=body, env=env, capture_output=True,
                                  timeout=REQUEST_TIMEOUT, check=False)
        except subprocess.TimeoutExpired:
            self._reply(504, [("Content-Type", "text/plain")], b"mapserv timed out")
            return
        if done.stderr and self.server.log_path is not None:
            with self.server.log_lock, self.server.log_path.open("ab") as log:
                log.write(f"{self.command} {self.path}\n".encode() + done.stderr + b"\n")
        status, headers, payload = _parse_cgi(done.stdout)
        if done.returncode != 0 and not payload:
            status, headers, payload = 502, [("Content-Type", "text/plain")], done.stderr or b"mapserv failed"
        self._reply(status, headers, payload)

    def _reply(self, status: int, headers: list[tuple[str, str]], payload: bytes) -> None:
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def _parse_cgi(output: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
    """Split a CGI response into (status, headers, body); `Status:` gives the HTTP status (200 without it)."""
    ends = [(i, len(sep)) for sep in (b"\r\n\r\n", b"\n\n") if (i := output.find(sep)) >= 0]
    if not ends:
        return 502, [("Content-Type", "text/plain")], b"mapserv wrote no CGI header: " + output[:200]
    end, size = min(ends)
    status, headers = 200, []
    for line in output[:end].decode("latin-1").splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() == "status":
            status = int(value.split()[0])
        elif key.strip():
            headers.append((key.strip(), value.strip()))
    return status, headers, output[end + size:]


def wait_until_ready(url: str, *, timeout: float = STARTUP_TIMEOUT, probe: str = "") -> None:
    """Poll `url` + `probe` until it answers 200 (short waits between tries, no fixed sleep).

    Args:
        url: Base URL of the server.
        timeout: Seconds before giving up.
        probe: Query string or path appended to `url`.

    Raises:
        RuntimeError: The server did not answer 200 in time.
    """
    deadline, last = time.monotonic() + timeout, "no answer"
    pause = threading.Event()
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + probe, timeout=10) as response:
                if response.status == 200:
                    response.read()
                    return
                last = f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}: {exc.read()[:300]!r}"
        except OSError as exc:
            last = repr(exc)
        pause.wait(0.05)
    raise RuntimeError(f"{url} not ready after {timeout:.0f}s: {last}")


@contextlib.contextmanager
def running_mapserver(workdir: Path, *, data: LayerData | None = None, n_points: int = 2500, maxfeatures: int = 500,
                      formats: Sequence[str] = DEFAULT_FORMATS, srs: Sequence[str] = DEFAULT_SRS,
                      compute_number_matched: bool = True) -> Iterator[str]:
    """Serve MapServer's WFS on 127.0.0.1 (a free port) until the block ends.

    Args:
        workdir: Directory for the mapfile, the config file, the CGI error log (`mapserv.log`) and, unless
            `data` is given, the generated GeoPackage.
        data: Layer data already written by `write_layer_data`; generated in `workdir` when None.
        n_points: Points to generate when `data` is None.
        maxfeatures: `wfs_maxfeatures`.
        formats: `wfs_getfeature_formatlist`.
        srs: `ows_srs`/`wfs_srs` (see `write_mapfile`).
        compute_number_matched: `wfs_compute_number_matched` (see `write_mapfile`).

    Yields:
        The endpoint's URL (`http://127.0.0.1:PORT/wfs`): add `?SERVICE=WFS&REQUEST=...`.
    """
    binary = mapserv_binary()
    if binary is None:
        raise RuntimeError("MapServer is not installed: run scripts/peer-mapserver")
    workdir.mkdir(parents=True, exist_ok=True)
    if data is None:
        data = write_layer_data(workdir, n_points)
    server = _MapServerHTTP(("127.0.0.1", 0), _CgiHandler)
    url = f"http://127.0.0.1:{server.server_address[1]}/wfs"
    mapfile = workdir / "lille.map"
    config = write_mapfile(mapfile, data, url=url, maxfeatures=maxfeatures, formats=formats, srs=srs,
                           compute_number_matched=compute_number_matched)
    server.mapserv, server.log_path, server.log_lock = binary, workdir / "mapserv.log", threading.Lock()
    server.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "MAPSERVER_CONFIG_FILE": str(config.resolve()),
                  "MS_MAPFILE": str(mapfile.resolve()), "LANG": "C.UTF-8"}
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        wait_until_ready(url, probe="?SERVICE=WFS&REQUEST=GetCapabilities&VERSION=2.0.0")
        yield url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
