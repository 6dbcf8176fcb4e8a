"""A real QGIS Server 3.22 on 127.0.0.1 for the WFS tests, serving a QGIS project written here.

QGIS Server comes from Debian (`scripts/peer-qgis-server` installs `qgis-server-bin` and its WFS module
`qgis-server-wfs`). It is run as `qgis_mapserver`, the standalone HTTP server of the same package (the
`QgsServer` that `qgis_mapserv.fcgi` wraps): as a CGI, `qgis_mapserv.fcgi` loads QGIS and its providers
on every request (about 1.4 s of CPU, 6 s on a loaded machine), too slow for paging tests.
It runs headless with `QT_QPA_PLATFORM=offscreen` and a HOME of its own (QGIS writes its settings there).

The project (`.qgs`) publishes over WFS the two layers of the GeoPackage `mapserver_peer.write_layer_data`
writes (Lambert-93 points near Lille, and polygons), so both map servers serve the same features. Its CRS
is written in full (PROJ string and EPSG ids): given only by `authid`, QGIS 3.22 keeps the layer's CRS
undefined for transformations and serves Lambert-93 numbers labelled EPSG:4326.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from tests.peers.mapserver_peer import POINT_LAYER, POLYGON_LAYER, LayerData, wait_until_ready
from tests.peers.process import free_port

SERVER_CANDIDATES = ("/usr/bin/qgis_mapserver",)
WFS_MODULE = Path("/usr/lib/qgis/server/libwfs.so")
STARTUP_TIMEOUT = 90.0
#: Decimals QGIS writes in GML (its default, 6, is about 10 cm in degrees).
PRECISION = 8
TITLE = "Lille test WFS (QGIS Server)"

LAMBERT93 = ("<spatialrefsys nativeFormat=\"Wkt\"><wkt></wkt><proj4>+proj=lcc +lat_0=46.5 +lon_0=3 +lat_1=49 "
             "+lat_2=44 +x_0=700000 +y_0=6600000 +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +units=m +no_defs</proj4>"
             "<srsid>145</srsid><srid>2154</srid><authid>EPSG:2154</authid><description>RGF93 v1 / Lambert-93"
             "</description><projectionacronym>lcc</projectionacronym><ellipsoidacronym>EPSG:7019"
             "</ellipsoidacronym><geographicflag>false</geographicflag></spatialrefsys>")

PROJECT = """<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>
<qgis projectname="lille" version="3.22.16-Białowieża">
  <title>{title}</title>
  <projectCrs>{crs}</projectCrs>
  <layer-tree-group>
{tree}  </layer-tree-group>
  <projectlayers>
{layers}  </projectlayers>
  <properties>
    <WFSLayers type="QStringList">{wfs_layers}</WFSLayers>
    <WFSLayersPrecision>{precisions}</WFSLayersPrecision>
    <WMSServiceCapabilities type="bool">true</WMSServiceCapabilities>
    <WMSServiceTitle type="QString">{title}</WMSServiceTitle>
    <WMSServiceAbstract type="QString">Generated points and polygons near Lille, Lambert-93</WMSServiceAbstract>
    <WMSCrsList type="QStringList"><value>EPSG:2154</value><value>EPSG:4326</value></WMSCrsList>
  </properties>
</qgis>
"""

LAYER = """    <maplayer type="vector" geometry="{kind}" wkbType="{kind}">
      <id>{id}</id>
      <datasource>{source}</datasource>
      <layername>{name}</layername>
      <abstract>{abstract}</abstract>
      <srs>{crs}</srs>
      <provider encoding="UTF-8">ogr</provider>
    </maplayer>
"""


def server_binary() -> str | None:
    """Path of `qgis_mapserver` (`QGIS_MAPSERVER` env var first), or None when QGIS Server is not installed."""
    for candidate in (os.environ.get("QGIS_MAPSERVER"), *SERVER_CANDIDATES, shutil.which("qgis_mapserver")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def available() -> bool:
    """True when QGIS Server and its WFS module are installed (`scripts/peer-qgis-server`)."""
    return server_binary() is not None and WFS_MODULE.exists()


def write_project(path: Path, data: LayerData, *, crs: str = LAMBERT93) -> Path:
    """Write a QGIS project publishing both layers of `data` over WFS.

    Args:
        path: The `.qgs` file to write.
        data: What `mapserver_peer.write_layer_data` wrote.
        crs: The `<spatialrefsys>` of the project and its layers (Lambert-93, in full).

    Returns:
        `path`.
    """
    # QGIS keeps a layer id only when it is longer than 10 characters (else it makes a new one, and the
    # WFSLayers list no longer names the layer).
    layers = [(f"{name}_moisson_peer", name, kind, title) for name, kind, title in
              ((POINT_LAYER, "Point", "Lieux"), (POLYGON_LAYER, "Polygon", "Zones"))]
    source = f"{data.path.resolve()}|layername="
    path.write_text(PROJECT.format(
        title=escape(TITLE), crs=crs,
        tree="".join(f"    <layer-tree-layer id={quoteattr(i)} name={quoteattr(n)} providerKey=\"ogr\" "
                     f"source={quoteattr(source + n)} checked=\"Qt::Checked\" expanded=\"1\"/>\n"
                     for i, n, _, _ in layers),
        layers="".join(LAYER.format(kind=k, id=i, source=escape(source + n), name=n, abstract=escape(t), crs=crs)
                       for i, n, k, t in layers),
        wfs_layers="".join(f"<value>{i}</value>" for i, _, _, _ in layers),
        precisions="".join(f"<{i} type=\"int\">{PRECISION}</{i}>" for i, _, _, _ in layers)), encoding="utf-8")
    return path


@contextlib.contextmanager
def running_qgis_server(workdir: Path, data: LayerData, *, crs: str = LAMBERT93) -> Iterator[str]:
    """Serve the project over `data` with QGIS Server on 127.0.0.1 (a free port) until the block ends.

    Args:
        workdir: Directory for the project, QGIS's HOME and the server's log (`qgis_server.log`).
        data: What `mapserver_peer.write_layer_data` wrote.
        crs: See `write_project`.

    Yields:
        The endpoint's URL (`http://127.0.0.1:PORT/wfs`): add `?SERVICE=WFS&REQUEST=...`.
    """
    binary = server_binary()
    if binary is None or not WFS_MODULE.exists():
        raise RuntimeError("QGIS Server is not installed: run scripts/peer-qgis-server")
    workdir.mkdir(parents=True, exist_ok=True)
    project = write_project(workdir / "lille.qgs", data, crs=crs)
    home = workdir / "home"
    home.mkdir(exist_ok=True)
    port = free_port()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "XDG_RUNTIME_DIR": str(home),
           "QT_QPA_PLATFORM": "offscreen", "LANG": "C.UTF-8", "QGIS_SERVER_LOG_LEVEL": "1"}
    url = f"http://127.0.0.1:{port}/wfs"
    with (workdir / "qgis_server.log").open("wb") as log:
        proc = subprocess.Popen([binary, "-l", "1", "-p", str(project), f"127.0.0.1:{port}"], env=env,
                                stdout=log, stderr=subprocess.STDOUT)
        try:
            try:
                wait_until_ready(url, timeout=STARTUP_TIMEOUT,
                                 probe="?SERVICE=WFS&REQUEST=GetCapabilities&VERSION=1.1.0")
            except RuntimeError as exc:
                raise RuntimeError(f"QGIS Server did not start ({exc}); see {workdir / 'qgis_server.log'}") from None
            yield url
        finally:
            proc.kill()
            proc.wait()
