"""GML 2, 3.1 and 3.2 features of a WFS answer → attribute texts and WKB geometries, axes in x/y order.

Axis order is the trap: WFS 1.1 and 2.0 write `EPSG:4326` (in the URN form
`urn:ogc:def:crs:EPSG::4326`, and MapServer even under the short `EPSG:4326` it echoes in
1.1) latitude first, as the EPSG register defines it, while GML 2 / WFS 1.0 and
`EPSG:4326` written the old way are longitude first. `lat_first` decides per CRS name and
version; coordinates are swapped to x/y here, so the WGS84 reprojection (`always_xy`) sees
longitude first. Properties with nested elements (MapServer's `gml:TimeInstant` for a DATE)
give their inner text.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from lxml import etree

from moisson.core.lazy import lazy

if TYPE_CHECKING:
    import pyproj
else:
    pyproj = lazy("pyproj")  # only to read a CRS's axis order

GML_NAMESPACES = frozenset({"http://www.opengis.net/gml", "http://www.opengis.net/gml/3.2"})
_EPSG = re.compile(r"(?:EPSG|epsg)(?::|\.xml#|/0/|::|:[0-9.]*:)(\d+)$")
_CRS84 = re.compile(r"CRS:?84$", re.IGNORECASE)  # OGC's WGS84 longitude first: `CRS:84`, `urn:…:OGC:1.3:CRS84`
_SKIPPED = frozenset({"boundedBy", "name", "description", "identifier", "metaDataProperty", "descriptionReference"})
_POINT, _LINE, _POLYGON, _MULTIPOINT, _MULTILINE, _MULTIPOLYGON, _COLLECTION = 1, 2, 3, 4, 5, 6, 7


@dataclass
class Feature:
    """One feature: its id, attribute texts by name, and its geometry as WKB (x/y order) with its CRS name."""

    id: str | None
    properties: dict[str, str | None]
    wkb: bytes | None
    srs: str | None


def epsg_code(srs: str | None) -> int | None:
    """The EPSG code in any spelling of a CRS name (`EPSG:2154`, URN, OGC URI, `epsg.xml#2154`), else None.

    OGC's CRS84 counts as 4326: the same datum, only the axis order differs (see `lat_first`).
    """
    if _CRS84.search((srs or "").strip()):
        return 4326
    match = _EPSG.search((srs or "").strip())
    return int(match.group(1)) if match else None


@cache
def authority_lat_first(code: int) -> bool:
    """True when the EPSG register orders the CRS's axes northing/latitude first (4326 yes, 2154 no)."""
    try:
        axes = pyproj.CRS.from_epsg(code).axis_info
    except pyproj.exceptions.CRSError:
        return False
    return bool(axes) and axes[0].direction.lower() in ("north", "south")


def lat_first(srs: str | None, version: str) -> bool:
    """Whether coordinates written under the CRS name `srs` by a WFS of `version` come northing first.

    URN and URI forms follow the EPSG register in every version. The short `EPSG:n` form is
    x/y in WFS 1.0 (GML 2); WFS 1.1 and 2.0 servers give it the register's order (MapServer 8
    writes latitude first in 1.1 under the `EPSG:4326` it echoes).
    """
    code = epsg_code(srs)
    if code is None or _CRS84.search((srs or "").strip()):
        return False
    text = (srs or "").lower()
    authority_form = text.startswith(("urn:", "http://www.opengis.net/def/", "https://www.opengis.net/def/"))
    if not authority_form and version.startswith("1.0"):
        return False
    return authority_lat_first(code)


def members(root: etree._Element) -> list[etree._Element]:
    """The feature elements of a FeatureCollection (WFS 2.0 `wfs:member`, GML `featureMember(s)`)."""
    found: list[etree._Element] = []
    for holder in root:
        if not isinstance(holder.tag, str):
            continue
        local = etree.QName(holder).localname
        if local in ("member", "featureMember", "featureMembers"):
            found += [c for c in holder if isinstance(c.tag, str)]
    return found


def read_features(root: etree._Element, *, version: str, default_srs: str | None) -> Iterator[Feature]:
    """Each feature of a FeatureCollection, geometries as WKB with x/y axes.

    Args:
        root: The parsed FeatureCollection.
        version: WFS version of the request (decides the short `EPSG:n` axis order).
        default_srs: CRS requested, for geometries that name none.
    """
    for element in members(root):
        properties: dict[str, str | None] = {}
        wkb, srs = None, None
        for child in element:
            if not isinstance(child.tag, str):
                continue
            qname = etree.QName(child)
            if qname.namespace in GML_NAMESPACES and qname.localname in _SKIPPED:
                continue
            geometry = next((g for g in child if isinstance(g.tag, str)
                             and etree.QName(g).namespace in GML_NAMESPACES and etree.QName(g).localname in _READERS),
                            None)
            if geometry is not None and wkb is None:
                srs = _srs_of(geometry) or default_srs
                wkb = geometry_wkb(geometry, lat_first(srs, version))
                continue
            if child.get("{http://www.w3.org/2001/XMLSchema-instance}nil") in ("true", "1"):
                properties[qname.localname] = None
                continue
            text = "".join(child.itertext()).strip() if len(child) else child.text
            properties[qname.localname] = text
        ident = next((v for k, v in element.attrib.items() if etree.QName(k).localname in ("id", "fid")), None)
        yield Feature(ident, properties, wkb, srs)


def geometry_wkb(element: etree._Element, swap: bool) -> bytes:
    """Standard WKB of a GML geometry element, coordinates in x/y order (swapped when `swap`).

    Raises:
        ValueError: A geometry type or coordinate encoding this reader does not know.
    """
    kind, dims, body = _READERS[etree.QName(element).localname](element, swap)
    return struct.pack("<BI", 1, kind + (1000 if dims == 3 else 0)) + body


def _srs_of(element: etree._Element) -> str | None:
    node: etree._Element | None = element
    while node is not None:
        if node.get("srsName"):
            return node.get("srsName")
        node = node.getparent()
    return None


def _coords(element: etree._Element, swap: bool) -> tuple[int, list[tuple[float, ...]]]:
    """The coordinates directly under a geometry (posList, pos, coordinates, coord), and their dimension."""
    dims = int(element.get("srsDimension") or 0)
    points: list[tuple[float, ...]] = []
    for child in element:
        if not isinstance(child.tag, str):
            continue
        local = etree.QName(child).localname
        if local == "posList":
            size = int(child.get("srsDimension") or dims or 2)
            values = [float(v) for v in (child.text or "").split()]
            points += [tuple(values[i:i + size]) for i in range(0, len(values) - size + 1, size)]
        elif local == "pos":
            points.append(tuple(float(v) for v in (child.text or "").split()))
        elif local == "coordinates":
            decimal, cs, ts = child.get("decimal", "."), child.get("cs", ","), child.get("ts", " ")
            for tuple_text in (child.text or "").strip().split(ts):
                if tuple_text.strip():
                    points.append(tuple(float(v.replace(decimal, ".")) for v in tuple_text.strip().split(cs)))
        elif local == "coord":
            points.append(tuple(float(child.findtext(f"{{*}}{axis}")) for axis in ("X", "Y", "Z")
                                if child.find(f"{{*}}{axis}") is not None))
    if swap:
        points = [(p[1], p[0], *p[2:]) for p in points]
    size = max((len(p) for p in points), default=2)
    if size not in (2, 3):
        raise ValueError(f"coordonnées de dimension {size}")
    return size, points


def _pack(points: list[tuple[float, ...]], dims: int) -> bytes:
    flat = [v for p in points for v in (p if len(p) == dims else (*p, 0.0))]
    return struct.pack(f"<I{len(flat)}d", len(points), *flat)


def _point(element: etree._Element, swap: bool) -> tuple[int, int, bytes]:
    dims, points = _coords(element, swap)
    if not points:
        return _POINT, dims, struct.pack("<dd", float("nan"), float("nan"))  # WKB's empty point
    return _POINT, dims, struct.pack(f"<{dims}d", *points[0][:dims])


def _line(element: etree._Element, swap: bool) -> tuple[int, int, bytes]:
    dims, points = _segments(element, swap)
    return _LINE, dims, _pack(points, dims)


def _segments(element: etree._Element, swap: bool) -> tuple[int, list[tuple[float, ...]]]:
    """A LineString's points, or those of a Curve's LineStringSegments (joined, shared ends once)."""
    if etree.QName(element).localname != "Curve":
        return _coords(element, swap)
    dims, points = 2, []
    for segment in element.iter("{*}LineStringSegment"):
        dims, part = _coords(segment, swap)
        points += part[1:] if points and part and points[-1] == part[0] else part
    return dims, points


def _ring(holder: etree._Element, swap: bool) -> tuple[int, list[tuple[float, ...]]]:
    ring = next((c for c in holder if isinstance(c.tag, str)), None)
    if ring is None:
        return 2, []
    if etree.QName(ring).localname == "Ring":  # a Ring of curve members
        dims, points = 2, []
        for curve in ring.iter("{*}LineString", "{*}LineStringSegment"):
            dims, part = _coords(curve, swap)
            points += part[1:] if points and part and points[-1] == part[0] else part
        return dims, points
    return _coords(ring, swap)


def _polygon(element: etree._Element, swap: bool) -> tuple[int, int, bytes]:
    if etree.QName(element).localname == "Surface":
        patch = next(element.iter("{*}PolygonPatch"), None)
        if patch is None:
            raise ValueError("un gml:Surface sans PolygonPatch")
        element = patch
    rings = []
    for child in element:
        if isinstance(child.tag, str) and etree.QName(child).localname in (
                "exterior", "outerBoundaryIs", "interior", "innerBoundaryIs"):
            rings.append(_ring(child, swap))
    dims = max((d for d, _ in rings), default=2)
    return _POLYGON, dims, struct.pack("<I", len(rings)) + b"".join(_pack(p, dims) for _, p in rings)


def _multi(kind: int, part_kind: int) -> object:
    def read(element: etree._Element, swap: bool) -> tuple[int, int, bytes]:
        parts = [g for g in element.iter() if isinstance(g.tag, str) and g is not element
                 and etree.QName(g).localname in _PART_NAMES[part_kind]
                 and etree.QName(g.getparent()).localname not in _PART_NAMES[part_kind]]
        packed = [_READERS[etree.QName(p).localname](p, swap) for p in parts]
        dims = max((d for _, d, _ in packed), default=2)
        body = b"".join(struct.pack("<BI", 1, k + (1000 if d == 3 else 0)) + b for k, d, b in packed)
        return kind, dims, struct.pack("<I", len(packed)) + body
    return read


_PART_NAMES = {_POINT: ("Point",), _LINE: ("LineString", "Curve"), _POLYGON: ("Polygon", "Surface")}
_READERS = {
    "Point": _point, "LineString": _line, "Curve": _line, "Polygon": _polygon, "Surface": _polygon,
    "MultiPoint": _multi(_MULTIPOINT, _POINT), "MultiLineString": _multi(_MULTILINE, _LINE),
    "MultiCurve": _multi(_MULTILINE, _LINE), "MultiPolygon": _multi(_MULTIPOLYGON, _POLYGON),
    "MultiSurface": _multi(_MULTIPOLYGON, _POLYGON),
}
