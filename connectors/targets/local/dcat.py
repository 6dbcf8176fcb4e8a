"""DCAT-AP 2 catalog (JSON-LD and Turtle) built from the Data Packages written by the `local` target.

The catalog is what data.gouv.fr's DCAT harvester reads (udata `harvest/backends/dcat.py`,
`core/dataset/rdf.py`): datasets are keyed on `dct:identifier`; the licence is found by
`License.guess` from the licence node's `rdfs:label` (our data.gouv.fr id) before its URL; the
frequency is an EU vocabulary URI; the spatial coverage must be a Polygon or MultiPolygon literal
(GeoJSON or WKT) — zone ids alone are dropped; the schema is `dct:conformsTo`; the checksum an
`spdx:Checksum`. Every IRI is absolute: the harvester resolves relative ones against its own
working folder and rejects every item.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pydantic import ValidationError

from moisson.core.errors import RejectedError
from moisson.core.frequencies import eu_uri
from moisson.core.metadata import LICENSES, DatasetMetadata
from moisson.core.notes import counted
from moisson.core.validation import described

EU_FILE_TYPE = "http://publications.europa.eu/resource/authority/file-type/"
EU_LANGUAGE = "http://publications.europa.eu/resource/authority/language/"
IANA_MEDIA_TYPES = "https://www.iana.org/assignments/media-types/"
SCHEMA_REGISTRY = "https://schema.data.gouv.fr"

#: ISO 639-1 codes of `DatasetMetadata.language` → EU language authority codes.
EU_LANGUAGE_CODES: dict[str, str] = {"fr": "FRA", "en": "ENG", "de": "DEU", "es": "SPA", "it": "ITA"}

#: Resource format (Data Package `format`) → EU file-type code.
EU_FILE_TYPE_CODES: dict[str, str] = {"csv": "CSV", "geojson": "GEOJSON", "json": "JSON"}

#: The URL data.gouv.fr's licence list gives each licence id (`/api/1/datasets/licenses/`); ids
#: without one (other-*, notspecified) are matched by their label only.
DATAGOUV_LICENSE_URLS: dict[str, str] = {
    "lov2": "https://www.etalab.gouv.fr/licence-ouverte-open-licence",
    "fr-lo": "https://www.etalab.gouv.fr/wp-content/uploads/2014/05/Licence_Ouverte.pdf",
    "odc-odbl": "http://opendatacommons.org/licenses/odbl/summary/",
    "odc-by": "http://opendatacommons.org/licenses/by/summary/",
    "odc-pddl": "http://opendatacommons.org/licenses/pddl/summary/",
    "cc-by": "http://opendefinition.org/licenses/cc-by/",
    "cc-by-sa": "http://www.opendefinition.org/licenses/cc-by-sa",
    "cc-zero": "http://www.opendefinition.org/licenses/cc-zero",
}

#: data.gouv.fr granularities in French, for the text that carries them (udata reads no granularity).
GRANULARITY_FR: dict[str, str] = {
    "country-group": "groupe de pays", "country": "pays", "country-subset": "partie de pays",
    "fr:region": "région", "fr:departement": "département", "fr:arrondissement": "arrondissement",
    "fr:commune": "commune", "fr:iris": "IRIS", "fr:canton": "canton", "fr:collectivite": "collectivité",
    "fr:epci": "intercommunalité (EPCI)", "poi": "point d'intérêt", "other": "autre",
}

CONTEXT: dict[str, str] = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "vcard": "http://www.w3.org/2006/vcard/ns#",
    "adms": "http://www.w3.org/ns/adms#",
    "spdx": "http://spdx.org/rdf/terms#",
    "schema": "http://schema.org/",
    "locn": "http://www.w3.org/ns/locn#",
    "gsp": "http://www.opengis.net/ont/geosparql#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}


def link(base_url: str | None, path: str) -> str:
    """Return `path` under the portal's public URL; relative only for a portal declared not harvestable."""
    return f"{base_url.rstrip('/')}/{path}" if base_url else path


def schema_url(reference: str | None) -> tuple[str, str] | None:
    """The public URL and the `name@version` of a schema reference; None for a local file.

    A schema.data.gouv.fr name (`scdl/deliberations@2.1.5`) gives its registry URL; an https URL
    is kept as is.
    """
    if not reference:
        return None
    if reference.startswith(("http://", "https://")):
        return reference, reference
    name, at, version = reference.partition("@")
    if name.endswith(".json") or name.count("/") != 1:
        return None
    return f"{SCHEMA_REGISTRY}/schemas/{name}/{version or 'latest'}/schema.json", reference if at else name


def package_metadata(package: Mapping[str, Any], where: str) -> DatasetMetadata:
    """Read back the `DatasetMetadata` stored in a Data Package written by the local target.

    Args:
        package: The `datapackage.json` descriptor.
        where: Its path, for the error message.

    Raises:
        RejectedError: The descriptor was edited into something that is not valid metadata.
    """
    extras = package.get("moisson", {})
    licenses = package.get("licenses") or [{}]
    fields = {key: value for key, value in extras.items() if key in DatasetMetadata.model_fields}
    fields.update(title=package.get("title"), description=package.get("description"),
                  keywords=package.get("keywords", []), license=licenses[0].get("name"),
                  landing_page=package.get("homepage"))
    try:
        return DatasetMetadata.model_validate(fields)
    except ValidationError as err:
        raise RejectedError(f"{where} contient des métadonnées invalides ({described(err, root='metadata')}) ; "
                            "corrigez le fichier ou publiez à nouveau le jeu de données",
                            dataset_id=package.get("name"), connector="local") from err


def build_catalog(packages: Iterable[tuple[Mapping[str, Any], DatasetMetadata]], *, title: str,
                  publisher: str | None, base_url: str | None) -> dict[str, Any]:
    """Build the DCAT-AP 2 catalog (JSON-LD) of the active datasets.

    Args:
        packages: Each dataset's `datapackage.json` and its metadata; archived ones are left out,
            so data.gouv.fr archives its harvested copy too.
        title: Portal title.
        publisher: Organisation running the portal; a dataset without producer gets it.
        base_url: Public URL of the portal directory; None only for a portal that says `harvestable: false`.

    Returns:
        The JSON-LD document.
    """
    datasets = [_dataset(package, metadata, publisher, base_url) for package, metadata in packages
                if not package.get("moisson", {}).get("archived")]
    catalog: dict[str, Any] = {
        "@context": CONTEXT,
        "@id": link(base_url, "catalog.jsonld"),
        "@type": "dcat:Catalog",
        "dct:title": title,
        "dct:description": f"{title} : catalogue DCAT-AP des jeux de données publiés"
                           + (f" par {publisher}" if publisher else ""),
        "foaf:homepage": {"@id": link(base_url, "index.html")},
        "dct:language": {"@id": EU_LANGUAGE + "FRA"},
        "dcat:dataset": datasets,
    }
    if publisher:
        catalog["dct:publisher"] = _agent(publisher)
    if modified := [d["dct:modified"]["@value"] for d in datasets if "dct:modified" in d]:
        catalog["dct:modified"] = {"@value": max(modified), "@type": "xsd:dateTime"}
    return catalog


def turtle(catalog: Mapping[str, Any]) -> str:
    """The same catalog as Turtle: the graph a JSON-LD processor (rdflib, data.gouv.fr) reads from it.

    Written from the document itself rather than parsed back and serialised by rdflib, which took
    most of a portal's rebuild once the catalog held a few hundred datasets. Nodes without `@id`
    become blank nodes, nodes with one are described under their IRI, arrays are sets of values;
    relative IRIs (a portal nobody harvests) stay relative, resolved against the file's own
    address as `catalog.jsonld`'s are. Only the prefixes used are declared, as rdflib did.
    """
    return _Turtle(catalog).text()


class _Turtle:
    """Turtle text of a JSON-LD document using the compact IRIs of `CONTEXT` (the only ones we write)."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.used: set[str] = set()
        self.pending: deque[Mapping[str, Any]] = deque([document])
        # Insertion-ordered set: a node met several times (a licence) is described once.
        self.blocks: dict[str, None] = {}

    def text(self) -> str:
        while self.pending:
            node = self.pending.popleft()
            self.blocks.setdefault(f"{self.iri(node['@id'])} {self.properties(node, '    ')} .\n")
        prefixes = "".join(f"@prefix {p}: <{CONTEXT[p]}> .\n" for p in sorted(self.used))
        return prefixes + "\n" + "\n".join(self.blocks)

    def properties(self, node: Mapping[str, Any], indent: str) -> str:
        pairs = [f"a {', '.join(self.iri(t) for t in _values(node['@type']))}"] if node.get("@type") else []
        for key, value in node.items():
            if not key.startswith("@") and (objects := [self.term(v, indent) for v in _values(value)]):
                pairs.append(self.iri(key) + " " + (",\n" + indent + "    ").join(objects))
        return f" ;\n{indent}".join(pairs)

    def term(self, value: Any, indent: str) -> str:
        if not isinstance(value, Mapping):
            return self.literal(value)
        if "@value" in value:
            return self.literal(value["@value"], value.get("@type"))
        if "@id" in value:
            if value.keys() - {"@id"}:
                self.pending.append(value)
            return self.iri(value["@id"])
        inner = self.properties(value, indent + "    ")
        return f"[\n{indent}    {inner}\n{indent}]" if inner else "[]"

    def literal(self, value: Any, datatype: str | None = None) -> str:
        """A literal; JSON booleans and numbers typed as JSON-LD does (only a hand-edited package has any)."""
        if datatype is None and not isinstance(value, str):
            datatype = ("xsd:boolean" if isinstance(value, bool) else "xsd:integer" if isinstance(value, int)
                        else "xsd:double")
        lexical = '"' + (str(value).lower() if isinstance(value, bool) else str(value)).translate(_STRING_ESCAPES)
        return f'{lexical}"^^{self.iri(datatype)}' if datatype else f'{lexical}"'

    def iri(self, value: str) -> str:
        """An IRI (a node's, a property's, a type's), as a prefixed name when it is in a namespace of `CONTEXT`."""
        prefix, colon, rest = value.partition(":")
        if colon and prefix in CONTEXT and _LOCAL_NAME.fullmatch(rest):
            self.used.add(prefix)
            return value
        absolute = _expanded(value)
        for prefix, namespace in CONTEXT.items():
            if absolute.startswith(namespace) and _LOCAL_NAME.fullmatch(absolute[len(namespace):]):
                self.used.add(prefix)
                return prefix + ":" + absolute[len(namespace):]
        return "<" + absolute.translate(_IRI_ESCAPES) + ">"


# A safe subset of Turtle's PN_LOCAL: a local name needing no escape.
_LOCAL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
# Characters an IRIREF cannot hold raw, written as \u escapes.
_IRI_ESCAPES = {c: f"\\u{c:04X}" for c in (*range(0x21), *map(ord, '<>"{}|^`\\'))}
_STRING_ESCAPES = {ord("\\"): "\\\\", ord('"'): '\\"', ord("\n"): "\\n", ord("\r"): "\\r"}


def _values(value: Any) -> Iterator[Any]:
    """The values of a JSON-LD property: an array is a set of them, null is none."""
    for item in value if isinstance(value, list) else [value]:
        if item is not None:
            yield item


def _expanded(value: str) -> str:
    """A compact IRI (`dct:title`) expanded with `CONTEXT`; any other IRI as it is."""
    prefix, colon, rest = value.partition(":")
    return CONTEXT[prefix] + rest if colon and prefix in CONTEXT and not rest.startswith("//") else value


def license_node(license_id: str | None) -> dict[str, Any] | None:
    """The `dct:license` node: data.gouv.fr's URL for the id, labelled with the id itself."""
    if license_id not in LICENSES:
        return None
    node: dict[str, Any] = {"@type": "dct:LicenseDocument", "rdfs:label": license_id, "dct:identifier": license_id,
                            "dct:title": LICENSES[license_id][0]}
    if url := DATAGOUV_LICENSE_URLS.get(license_id):
        node["@id"] = url
    return node


def _dataset(package: Mapping[str, Any], metadata: DatasetMetadata, publisher: str | None,
             base_url: str | None) -> dict[str, Any]:
    name = package["name"]
    extras = package.get("moisson", {})
    node: dict[str, Any] = {
        "@id": link(base_url, f"{name}/"),
        "@type": "dcat:Dataset",
        "dct:identifier": name,
        "dct:title": metadata.title or name,
        "dct:description": _description(metadata, name),
        "dcat:landingPage": {"@id": metadata.landing_page or link(base_url, f"{name}/index.html")},
    }
    if metadata.keywords:
        node["dcat:keyword"] = metadata.keywords
    if metadata.themes:
        node["dcat:theme"] = metadata.themes
    licence = license_node(metadata.license)
    if licence:
        node["dct:license"] = licence
    if metadata.attribution:
        node["dct:rights"] = {"@type": "dct:RightsStatement", "rdfs:label": metadata.attribution}
    if metadata.producer or publisher:
        node["dct:publisher"] = _agent(metadata.producer or publisher or "")
    if metadata.contact and (metadata.contact.email or metadata.contact.url):
        contact: dict[str, Any] = {"@type": "vcard:Kind", "vcard:fn": metadata.contact.name
                                   or metadata.producer or publisher or name}
        if metadata.contact.email:
            contact["vcard:hasEmail"] = {"@id": f"mailto:{metadata.contact.email}"}
        if metadata.contact.url:
            contact["vcard:hasURL"] = {"@id": metadata.contact.url}
        node["dcat:contactPoint"] = contact
    if spatial := _spatial(metadata, extras.get("extent")):
        node["dct:spatial"] = spatial
    if metadata.temporal and (metadata.temporal.start or metadata.temporal.end):
        period: dict[str, Any] = {"@type": "dct:PeriodOfTime"}
        for key, value in (("dcat:startDate", metadata.temporal.start), ("dcat:endDate", metadata.temporal.end)):
            if value:
                period[key] = {"@value": value.isoformat(), "@type": "xsd:date"}
        node["dct:temporal"] = period
    if frequency := eu_uri(metadata.frequency):
        node["dct:accrualPeriodicity"] = {"@id": frequency}
    if metadata.issued:
        node["dct:issued"] = {"@value": metadata.issued.isoformat(), "@type": "xsd:date"}
    modified = metadata.modified.isoformat(timespec="seconds") if metadata.modified else extras.get("published")
    if modified:
        node["dct:modified"] = {"@value": modified, "@type": "xsd:dateTime"}
    if language := EU_LANGUAGE_CODES.get(metadata.language):
        node["dct:language"] = {"@id": EU_LANGUAGE + language}
    conforms = _conforms_to(extras.get("schema"))
    if conforms:
        node["dct:conformsTo"] = conforms
    node["dcat:distribution"] = [_distribution(name, resource, package, licence, conforms, base_url)
                                 for resource in package.get("resources", [])]
    return node


def _description(metadata: DatasetMetadata, name: str) -> str:
    """The description, followed by what udata has no field for (granularity, attribution)."""
    text = metadata.description or metadata.title or name
    notes = []
    if metadata.spatial and metadata.spatial.granularity:
        notes.append(f"Granularité spatiale : {GRANULARITY_FR[metadata.spatial.granularity]}.")
    if metadata.attribution:
        notes.append(f"Attribution : {metadata.attribution}")
    return text + ("\n\n" + "\n".join(notes) if notes else "")


def _conforms_to(reference: str | None) -> dict[str, Any] | None:
    found = schema_url(reference)
    if not found:
        return None
    url, label = found
    return {"@id": url, "@type": "dct:Standard", "dct:title": label.partition("@")[0],
            "rdfs:label": label, **({"owl:versionInfo": label.partition("@")[2]} if "@" in label else {})}


def _distribution(name: str, resource: Mapping[str, Any], package: Mapping[str, Any],
                  licence: Mapping[str, Any] | None, conforms: Mapping[str, Any] | None,
                  base_url: str | None) -> dict[str, Any]:
    url = link(base_url, f"{name}/{resource['path']}")
    node: dict[str, Any] = {
        "@id": url,
        "@type": "dcat:Distribution",
        "dct:title": resource.get("title") or resource["path"],
        "dct:description": _distribution_description(resource, package, conforms),
        "dcat:downloadURL": {"@id": url},
        "dcat:accessURL": {"@id": url},
    }
    if code := EU_FILE_TYPE_CODES.get(resource.get("format", "")):
        node["dct:format"] = {"@id": EU_FILE_TYPE + code}
    if resource.get("mediatype"):
        node["dcat:mediaType"] = {"@id": IANA_MEDIA_TYPES + resource["mediatype"]}
    if "bytes" in resource:
        node["dcat:byteSize"] = {"@value": str(resource["bytes"]), "@type": "xsd:nonNegativeInteger"}
    algorithm, _, digest = str(resource.get("hash", "")).rpartition(":")
    if algorithm == "sha256":
        node["spdx:checksum"] = {
            "@type": "spdx:Checksum",
            "spdx:algorithm": {"@id": CONTEXT["spdx"] + "checksumAlgorithm_sha256"},
            "spdx:checksumValue": digest,
        }
    if licence:
        node["dct:license"] = licence
    if conforms and resource.get("format") == "csv":
        node["dct:conformsTo"] = conforms
    return node


def _distribution_description(resource: Mapping[str, Any], package: Mapping[str, Any],
                              conforms: Mapping[str, Any] | None) -> str:
    extras = package.get("moisson", {})
    rows = extras.get("rows")
    kind = {"csv": "Fichier CSV (UTF-8, séparateur virgule)",
            "geojson": "Fichier GeoJSON (WGS84), une entité par ligne"}.get(resource.get("format", ""), "Fichier")
    parts = [kind]
    if rows is not None:
        parts.append(counted(rows, "ligne"))
    fields = (resource.get("schema") or {}).get("fields") or []
    if fields:
        parts.append(f"{len(fields)} colonnes : " + ", ".join(f.get("title") or f["name"] for f in fields))
    if conforms:
        parts.append(f"conforme au schéma {conforms['rdfs:label']}")
    return " ; ".join(parts) + "."


def _spatial(metadata: DatasetMetadata, extent: list[float] | None) -> list[dict[str, Any]]:
    """Zones by id, and the bbox (the catalog's, else the extent of the geometries) as a polygon."""
    spatial = metadata.spatial
    locations: list[dict[str, Any]] = [{"@type": "dct:Location", "dct:identifier": zone}
                                       for zone in (spatial.zones if spatial else [])]
    box = (spatial.bbox if spatial and spatial.bbox else None) or (tuple(extent) if extent else None)
    if box:
        west, south, east, north = box
        if west == east:
            west, east = west - 1e-4, east + 1e-4
        if south == north:
            south, north = south - 1e-4, north + 1e-4
        ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
        wkt = "POLYGON((" + ", ".join(f"{x} {y}" for x, y in ring) + "))"
        locations.append({
            "@type": "dct:Location",
            "dcat:bbox": {"@value": wkt, "@type": "gsp:wktLiteral"},
            "locn:geometry": {"@value": json.dumps({"type": "Polygon", "coordinates": [ring]}),
                              "@type": "gsp:geoJSONLiteral"},
        })
    return locations


def _agent(name: str) -> dict[str, Any]:
    return {"@type": "foaf:Agent", "foaf:name": name}
