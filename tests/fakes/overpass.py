"""A small Overpass API: answers Overpass JSON built from an OSM XML file, with faults on demand.

Overpass cannot run here; this server understands what the OSM source sends (tag filters on
`node` and `way`, a bbox, `out center tags`), computes way centres from their nodes as Overpass
does, and can answer 429, 504 or a "runtime error" remark before the real answer.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

from lxml import etree

_FILTER = re.compile(r'\["([^"]+)"(?:="([^"]*)")?\]')
_PART = re.compile(r"(node|way)((?:\[[^\]]*\])+)(?:\(([-\d.,]+)\))?")


def elements_of(osm_xml: Path) -> list[dict]:
    """Overpass-style elements of an OSM XML file: nodes with lat/lon, ways with their centre."""
    root = etree.parse(str(osm_xml), etree.XMLParser(resolve_entities=False, no_network=True)).getroot()
    nodes = {n.get("id"): (float(n.get("lat")), float(n.get("lon"))) for n in root.iter("node")}
    found = []
    for element in root:
        tags = {t.get("k"): t.get("v") for t in element.iter("tag")}
        if element.tag == "node":
            lat, lon = nodes[element.get("id")]
            found.append({"type": "node", "id": int(element.get("id")), "lat": lat, "lon": lon, "tags": tags})
        elif element.tag == "way":
            points = [nodes[nd.get("ref")] for nd in element.iter("nd")]
            centre = {"lat": sum(p[0] for p in points) / len(points), "lon": sum(p[1] for p in points) / len(points)}
            found.append({"type": "way", "id": int(element.get("id")), "center": centre, "tags": tags})
    return found


def answer(elements: list[dict], query: str) -> list[dict]:
    """The elements the query's `node[...]` and `way[...]` parts select."""
    selected = []
    for kind, filters, bbox in _PART.findall(query):
        wanted = _FILTER.findall(filters)
        box = [float(v) for v in bbox.split(",")] if bbox and "," in bbox else None
        for element in elements:
            tags = element.get("tags") or {}
            if element["type"] != kind or not all(k in tags and (not v or tags[k] == v) for k, v in wanted):
                continue
            where = element if "lat" in element else element["center"]
            if box and not (box[0] <= where["lat"] <= box[2] and box[1] <= where["lon"] <= box[3]):
                continue
            selected.append(element)
    return selected


class Overpass:
    """The server's state: the data, the faults still to send, the queries received."""

    def __init__(self, elements: list[dict]) -> None:
        self.elements = elements
        self.faults: list[str] = []  # "429", "504", "runtime-error"
        self.queries: list[str] = []


@contextmanager
def running_overpass(elements: list[dict]) -> Iterator[tuple[str, Overpass]]:
    """Serve `elements` on 127.0.0.1; yields the interpreter URL and the state."""
    state = Overpass(elements)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
            query = parse_qs(body).get("data", [""])[0]
            state.queries.append(query)
            fault = state.faults.pop(0) if state.faults else None
            if fault in ("429", "504"):
                self.send_response(int(fault))
                self.send_header("Retry-After", "0")
                self.end_headers()
                return
            doc = {"version": 0.6, "generator": "moisson test Overpass", "elements": []}
            if fault == "runtime-error":
                doc["remark"] = "runtime error: Query timed out in \"query\" at line 1 after 2 seconds."
            elif "out count;" in query:
                total = len(answer(state.elements, query))
                doc["elements"] = [{"type": "count", "id": 0, "tags": {"total": str(total)}}]
            else:
                doc["elements"] = answer(state.elements, query)
            data = json.dumps(doc).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/interpreter", state
    finally:
        server.shutdown()
        server.server_close()
