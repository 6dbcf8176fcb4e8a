"""WFS GetCapabilities (1.0.0, 1.1.0, 2.0.0) and DescribeFeatureType, read with lxml under the safe parser.

The three versions spell the same facts differently: layer names are qualified in 2.0
(`ms:lieux`) and bare in 1.x; 2.0 and 1.1 list output formats by MIME type, 1.0 by format
*name* as empty elements (`<GML2/>`, `<geojson/>`); the page cap is `CountDefault` (2.0) or
`DefaultMaxFeatures` (1.1). A layer asked as `lieux` matches `ms:lieux` and the reverse.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from moisson.connectors.sources.csw.iso19139 import parse_xml
from moisson.core.errors import NotFoundError, RejectedError

VERSIONS = ("2.0.0", "1.1.0", "1.0.0")
OWS11 = "http://www.opengis.net/ows/1.1"
OWS10 = "http://www.opengis.net/ows"
XSD = "http://www.w3.org/2001/XMLSchema"
#: XML Schema types (local names) → Table Schema types; anything else stays a string.
XSD_TYPES = {
    "string": "string", "boolean": "boolean", "date": "date", "dateTime": "datetime", "time": "time",
    "TimeInstantType": "date", "decimal": "number", "double": "number", "float": "number",
    **dict.fromkeys(("int", "integer", "long", "short", "byte", "nonNegativeInteger", "positiveInteger",
                     "unsignedInt", "unsignedLong", "unsignedShort", "unsignedByte"), "integer"),
}
Format = str


@dataclass(frozen=True)
class FeatureType:
    """One layer of the capabilities.

    Attributes:
        name: Its name as the server writes it (`ms:lieux` in 2.0).
        title: Its title.
        abstract: Its description.
        default_crs: `DefaultCRS`/`DefaultSRS`/`SRS` as written.
        other_crs: Further CRSs offered.
        formats: Output formats offered for this layer (or for GetFeature when the layer lists none).
        wgs84_bbox: `[west, south, east, north]` in degrees, when the server gives one in degrees.
        keywords: Its keywords.
    """

    name: str
    title: str | None = None
    abstract: str | None = None
    default_crs: str | None = None
    other_crs: tuple[str, ...] = ()
    formats: tuple[Format, ...] = ()
    wgs84_bbox: tuple[float, float, float, float] | None = None
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class Capabilities:
    """What a WFS offers.

    Attributes:
        version: Version the server answered with.
        layers: Its feature types.
        count_default: Largest page it serves (`CountDefault`, `DefaultMaxFeatures`), None when unsaid.
        paging: It says it implements result paging (2.0 `ImplementsResultPaging`).
        title: Service title.
    """

    version: str
    layers: tuple[FeatureType, ...]
    count_default: int | None = None
    paging: bool = False
    title: str | None = None

    def layer(self, name: str, *, where: str) -> FeatureType:
        """The layer called `name`, with or without its namespace prefix.

        Raises:
            NotFoundError: No such layer (the message lists the server's layers).
        """
        bare = name.rpartition(":")[2]
        for candidate in (name, bare):
            found = [ft for ft in self.layers if ft.name == candidate or ft.name.rpartition(":")[2] == candidate]
            if len(found) == 1:
                return found[0]
        names = ", ".join(ft.name for ft in self.layers) or "aucune"
        raise NotFoundError(f"le WFS {where} n'a pas de couche {name!r} ; ses couches : {names}. Corrigez `layer` "
                            "dans le `locator` du jeu de données (ou `gmd:name` de la fiche du catalogue)")


@dataclass(frozen=True)
class Field:
    """An attribute of a layer as DescribeFeatureType types it (Table Schema type)."""

    name: str
    type: str
    geometry: bool = False


@dataclass
class Schema:
    """The attributes of one layer, in the server's order."""

    fields: list[Field] = field(default_factory=list)

    @property
    def attributes(self) -> list[Field]:
        """The non-geometry fields."""
        return [f for f in self.fields if not f.geometry]

    @property
    def geometry(self) -> str | None:
        """Name of the geometry property, when the schema has one."""
        return next((f.name for f in self.fields if f.geometry), None)


def parse_capabilities(data: bytes, *, where: str) -> Capabilities:
    """Read a GetCapabilities answer of any version.

    Raises:
        RejectedError: Not XML, an exception report, or not WFS capabilities.
    """
    root = parse_answer(data, what=f"la réponse GetCapabilities de {where}", where=where)
    if etree.QName(root).localname != "WFS_Capabilities":
        raise RejectedError(f"le serveur {where} a répondu à GetCapabilities par <{etree.QName(root).localname}> "
                            "et non par des capacités WFS : vérifiez que l'URL est celle d'un service WFS")
    version = root.get("version") or "1.0.0"
    wfs = etree.QName(root).namespace
    layers = tuple(_feature_type(ft, wfs, version) for ft in root.iter(f"{{{wfs}}}FeatureType"))
    if version.startswith("1.0"):
        formats = tuple(etree.QName(e).localname for e in root.iterfind(
            f"{{{wfs}}}Capability/{{{wfs}}}Request/{{{wfs}}}GetFeature/{{{wfs}}}ResultFormat/*"))
    else:
        formats = tuple(_texts(root, ".//{*}Operation[@name='GetFeature']/{*}Parameter[@name='outputFormat']"
                                     "//{*}Value"))
    layers = tuple(ft if ft.formats else _with_formats(ft, formats) for ft in layers)
    constraints = {c.get("name"): (c.findtext(f"{{{OWS11}}}DefaultValue") or c.findtext(f"{{{OWS10}}}Value")
                                   or c.findtext(f"{{{OWS11}}}Value") or "").strip()
                   for c in root.iterfind(".//{*}OperationsMetadata/{*}Constraint")}
    cap = constraints.get("CountDefault") or constraints.get("DefaultMaxFeatures") or ""
    title = root.findtext(f".//{{{OWS11}}}Title") or root.findtext(f".//{{{OWS10}}}Title") \
        or root.findtext(f"{{{wfs}}}Service/{{{wfs}}}Title")
    return Capabilities(version=version, layers=layers, count_default=int(cap) if cap.isdigit() else None,
                        paging=constraints.get("ImplementsResultPaging", "").upper() == "TRUE", title=title)


def parse_schema(data: bytes, layer: FeatureType, *, where: str) -> Schema:
    """Read a DescribeFeatureType answer (XML Schema) into the layer's typed fields.

    Raises:
        RejectedError: Not XML or an exception report.
    """
    root = parse_answer(data, what=f"la réponse DescribeFeatureType de {where}", where=where)
    bare = layer.name.rpartition(":")[2]
    element = next((e for e in root.iterfind(f"{{{XSD}}}element") if e.get("name") in (bare, layer.name)), None)
    type_name = (element.get("type") or "").rpartition(":")[2] if element is not None else f"{bare}Type"
    complex_types = list(root.iterfind(f"{{{XSD}}}complexType"))
    chosen = next((c for c in complex_types if c.get("name") == type_name), None)
    if chosen is None and len(complex_types) == 1:
        chosen = complex_types[0]
    if chosen is None:
        return Schema()
    fields = []
    for e in chosen.iter(f"{{{XSD}}}element"):
        name = e.get("name") or (e.get("ref") or "").rpartition(":")[2]
        if not name:
            continue
        kind = e.get("type") or next((r.get("base") for r in e.iter(f"{{{XSD}}}restriction")), "") or ""
        prefix, _, local = kind.rpartition(":")
        is_geometry = prefix.startswith("gml") and local.endswith("PropertyType")
        fields.append(Field(name, "geometry" if is_geometry else XSD_TYPES.get(local, "string"), is_geometry))
    return Schema(fields)


def parse_answer(data: bytes, *, what: str, where: str) -> etree._Element:
    """Parse an XML answer safely; an OGC exception report (which may come with HTTP 200) becomes an error.

    Raises:
        RejectedError: Not well-formed XML, entities declared, or an exception report (its code and text quoted).
    """
    root = parse_xml(data, what=what)
    if etree.QName(root).localname in ("ExceptionReport", "ServiceExceptionReport"):
        raise exception_error(root, what=what, where=where)
    return root


def exception_error(root: etree._Element, *, what: str, where: str) -> RejectedError:
    """The error for an `ows:ExceptionReport` or `ogc:ServiceExceptionReport`, quoting the server."""
    first = next(root.iter("{*}Exception", "{*}ServiceException"), None)
    code = first.get("exceptionCode") or first.get("code") if first is not None else None
    locator = first.get("locator") if first is not None else None
    text = " ".join(t.strip() for t in root.itertext() if t.strip())[:300]
    at = f" (paramètre {locator})" if locator else ""
    return RejectedError(f"{what} : le WFS {where} a refusé la requête : {code or 'exception'}{at} : {text}")


def _feature_type(ft: etree._Element, wfs: str, version: str) -> FeatureType:
    crs_tags = ("DefaultCRS", "DefaultSRS", "SRS")
    default = next((t for tag in crs_tags if (t := (ft.findtext(f"{{{wfs}}}{tag}") or "").strip())), None)
    other = tuple(_texts(ft, f"{{{wfs}}}OtherCRS") + _texts(ft, f"{{{wfs}}}OtherSRS"))
    return FeatureType(name=(ft.findtext(f"{{{wfs}}}Name") or "").strip(),
                       title=(ft.findtext(f"{{{wfs}}}Title") or ft.findtext(f"{{{OWS11}}}Title") or "").strip() or None,
                       abstract=(ft.findtext(f"{{{wfs}}}Abstract") or ft.findtext(f"{{{OWS11}}}Abstract")
                                 or "").strip() or None,
                       default_crs=default, other_crs=other,
                       formats=tuple(_texts(ft, f"{{{wfs}}}OutputFormats/{{{wfs}}}Format")),
                       wgs84_bbox=_bbox(ft, wfs, version), keywords=tuple(_texts(ft, ".//{*}Keyword")))


def _bbox(ft: etree._Element, wfs: str, version: str) -> tuple[float, float, float, float] | None:
    box = ft.find(f"{{{OWS11}}}WGS84BoundingBox") if version.startswith("2") else ft.find(
        f"{{{OWS10}}}WGS84BoundingBox")
    try:
        if box is not None:
            west, south = (float(v) for v in box.findtext("{*}LowerCorner", "").split())
            east, north = (float(v) for v in box.findtext("{*}UpperCorner", "").split())
            values: tuple[float, ...] = (west, south, east, north)
        elif (box := ft.find(f"{{{wfs}}}LatLongBoundingBox")) is not None:
            values = tuple(float(box.get(k, "nan")) for k in ("minx", "miny", "maxx", "maxy"))
        else:
            return None
    except ValueError:
        return None
    # MapServer (LatLongBoundingBox) and QGIS Server (WGS84BoundingBox, when its project's CRS is only an
    # EPSG id) write it in the layer's projected CRS: only degrees are kept.
    if all(-180 <= v <= 180 for v in values[::2]) and all(-90 <= v <= 90 for v in values[1::2]):
        return values  # type: ignore[return-value]
    return None


def _with_formats(ft: FeatureType, formats: tuple[Format, ...]) -> FeatureType:
    return FeatureType(**{**ft.__dict__, "formats": formats})


def _texts(root: etree._Element, path: str) -> list[str]:
    return [e.text.strip() for e in root.iterfind(path) if e.text and e.text.strip()]
