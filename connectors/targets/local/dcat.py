"""DCAT-AP 2 JSON-LD catalog built from Frictionless Data Packages written by the `local` target.

The catalog is what data.gouv.fr's DCAT harvester reads (udata `harvest/backends/dcat.py`):
datasets are keyed on `dct:identifier`, the frequency is an EU vocabulary URI, the spatial
coverage a GeoJSON or WKT literal, the checksum an `spdx:Checksum`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from moisson.core.errors import RejectedError
from moisson.core.frequencies import eu_uri
from moisson.core.metadata import LICENSES, DatasetMetadata

EU_FILE_TYPE = "http://publications.europa.eu/resource/authority/file-type/"
EU_LANGUAGE = "http://publications.europa.eu/resource/authority/language/"
IANA_MEDIA_TYPES = "https://www.iana.org/assignments/media-types/"

#: ISO 639-1 codes of `DatasetMetadata.language` → EU language authority codes.
EU_LANGUAGE_CODES: dict[str, str] = {"fr": "FRA", "en": "ENG", "de": "DEU", "es": "SPA", "it": "ITA"}

#: Resource format (Data Package `format`) → EU file-type code.
EU_FILE_TYPE_CODES: dict[str, str] = {"csv": "CSV", "geojson": "GEOJSON", "json": "JSON"}

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
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}

# udata reads a spatial literal only when typed as GeoJSON (IANA) or WKT (`core/dataset/rdf.py`).
_GEOJSON_LITERAL = IANA_MEDIA_TYPES + "application/vnd.geo+json"


def link(base_url: str | None, path: str) -> str:
    """Return `path` under the portal's public URL, or `path` itself (relative) without one."""
    return f"{base_url.rstrip('/')}/{path}" if base_url else path


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
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
        raise RejectedError(f"{where} holds invalid metadata ({problems}); fix the file or publish "
                            "the dataset again", dataset_id=package.get("name"), connector="local") from err


def build_catalog(packages: Iterable[tuple[Mapping[str, Any], DatasetMetadata]], *, title: str,
                  publisher: str | None, base_url: str | None) -> dict[str, Any]:
    """Build the DCAT-AP 2 catalog (JSON-LD) of the active datasets.

    Args:
        packages: Each dataset's `datapackage.json` and its metadata; archived ones are left out,
            so data.gouv.fr archives its harvested copy too.
        title: Portal title.
        publisher: Organisation running the portal; a dataset without producer gets it.
        base_url: Public URL of the portal directory; links stay relative without it.

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


def _dataset(package: Mapping[str, Any], metadata: DatasetMetadata, publisher: str | None,
             base_url: str | None) -> dict[str, Any]:
    name = package["name"]
    extras = package.get("moisson", {})
    node: dict[str, Any] = {
        "@id": link(base_url, f"{name}/"),
        "@type": "dcat:Dataset",
        "dct:identifier": name,
        "dct:title": metadata.title or name,
        "dct:description": metadata.description or metadata.title or name,
        "dcat:landingPage": {"@id": metadata.landing_page or link(base_url, f"index.html#{name}")},
    }
    if metadata.keywords:
        node["dcat:keyword"] = metadata.keywords
    license_url = _license_url(metadata.license)
    if license_url:
        node["dct:license"] = {"@id": license_url}
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
    if spatial := _spatial(metadata):
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
    node["dcat:distribution"] = [_distribution(name, resource, license_url, base_url)
                                 for resource in package.get("resources", [])]
    return node


def _distribution(name: str, resource: Mapping[str, Any], license_url: str | None,
                  base_url: str | None) -> dict[str, Any]:
    url = link(base_url, f"{name}/{resource['path']}")
    node: dict[str, Any] = {
        "@id": url,
        "@type": "dcat:Distribution",
        "dct:title": resource.get("title") or resource["path"],
        "dcat:downloadURL": {"@id": url},
        "dcat:accessURL": {"@id": url},
    }
    if code := EU_FILE_TYPE_CODES.get(resource.get("format", "")):
        node["dct:format"] = {"@id": EU_FILE_TYPE + code}
    if resource.get("mediatype"):
        node["dcat:mediaType"] = {"@id": IANA_MEDIA_TYPES + resource["mediatype"]}
    if "bytes" in resource:
        node["dcat:byteSize"] = {"@value": str(resource["bytes"]), "@type": "xsd:decimal"}
    algorithm, _, digest = str(resource.get("hash", "")).rpartition(":")
    if algorithm == "sha256":
        node["spdx:checksum"] = {
            "@type": "spdx:Checksum",
            "spdx:algorithm": {"@id": CONTEXT["spdx"] + "checksumAlgorithm_sha256"},
            "spdx:checksumValue": digest,
        }
    if license_url:
        node["dct:license"] = {"@id": license_url}
    return node


def _spatial(metadata: DatasetMetadata) -> list[dict[str, Any]]:
    spatial = metadata.spatial
    if spatial is None:
        return []
    locations: list[dict[str, Any]] = [{"@type": "dct:Location", "dct:identifier": zone}
                                       for zone in spatial.zones]
    if spatial.bbox:
        west, south, east, north = spatial.bbox
        ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
        wkt = "POLYGON((" + ", ".join(f"{x} {y}" for x, y in ring) + "))"
        locations.append({
            "@type": "dct:Location",
            "dcat:bbox": {"@value": wkt, "@type": "gsp:wktLiteral"},
            "locn:geometry": {"@value": json.dumps({"type": "Polygon", "coordinates": [ring]}),
                              "@type": _GEOJSON_LITERAL},
        })
    return locations


def _license_url(license_id: str | None) -> str | None:
    return (LICENSES[license_id][1] or None) if license_id in LICENSES else None


def _agent(name: str) -> dict[str, Any]:
    return {"@type": "foaf:Agent", "foaf:name": name}
