"""Opendatasoft metadata: our `DatasetMetadata` as the field values of a portal's metadata templates.

Each portal configures its own templates, licences and themes, so nothing here is hard-coded
beyond field names: the caller passes the fields the portal declares
(`GET /metadata/templates/{name}/fields/`), values are shaped by the declared field type and
only declared fields are written. Licences and themes are domain ids found from the choices
and labels of the `license_id` and `theme_id` fields.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from moisson.core.errors import RejectedError
from moisson.core.frequencies import EU_FREQUENCY, FREQUENCIES
from moisson.core.ids import fold_accents
from moisson.core.metadata import LICENSES, DatasetMetadata

#: Names portals commonly give the licences of data.gouv.fr ids, besides the udata titles.
LICENSE_SYNONYMS: dict[str, tuple[str, ...]] = {
    "lov2": ("Licence Ouverte v2.0", "Licence Ouverte v2.0 (Etalab)", "Etalab Open License 2.0",
             "Open Licence 2.0", "etalab-2.0"),
    "fr-lo": ("Licence Ouverte (Etalab)", "Licence Ouverte", "Open Licence"),
    "odc-odbl": ("ODbL", "Open Database License (ODbL)", "Open Database License", "ODbL 1.0"),
    "odc-by": ("ODC-BY", "ODC BY 1.0", "Open Data Commons Attribution License (ODC-By)"),
    "odc-pddl": ("PDDL", "ODC-PDDL", "Public Domain Dedication and License (PDDL)"),
    "cc-by": ("CC BY", "CC BY 4.0", "CC-BY", "Creative Commons Attribution 4.0 International (CC BY 4.0)"),
    "cc-by-sa": ("CC BY-SA", "CC BY-SA 4.0", "CC-BY-SA",
                 "Creative Commons Attribution-ShareAlike 4.0 International (CC BY-SA 4.0)"),
    "cc-zero": ("CC0", "CC0 1.0", "CC0 1.0 Universal", "Creative Commons Zero (CC0)"),
}

_NOISE = {"etalab", "version", "the", "de", "la", "le", "international", "universal"}

#: Template field types whose value is a list.
_LIST_TYPES = {"list", "multitext", "enumlist", "uri_enumlist"}


def _words(name: str) -> frozenset[str]:
    """Comparable form of a licence or theme name: accents, punctuation, versions' `.0` and `v` dropped."""
    text = fold_accents(name).replace("license", "licence")
    text = re.sub(r"(\d)\.0\b", r"\1", text)
    text = re.sub(r"\bv(\d)", r"\1", text)
    return frozenset(w for w in re.split(r"[^a-z0-9]+", text) if w and w not in _NOISE)


@dataclass(frozen=True)
class TemplateField:
    """A field a portal's metadata template declares (`MetadataTemplateField`).

    Attributes:
        template: Template name (`default`, `internal`, `dcat`, `inspire`).
        name: Field name.
        type: Field type (`text`, `date`, `list`, `enum`…).
        choices: Allowed values, for enum-like fields.
        labels: Label of each choice per language, `{choice: {lang: label}}`.
    """

    template: str
    name: str
    type: str = "text"
    choices: tuple[str, ...] = ()
    labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @classmethod
    def from_api(cls, template: str, body: Mapping[str, Any]) -> TemplateField:
        """Build from one item of `GET /metadata/templates/{name}/fields/`."""
        return cls(template=template, name=body["name"], type=body.get("type") or "text",
                   choices=tuple(body.get("choices") or ()), labels=body.get("labels") or {})

    def names_of(self, choice: str) -> list[str]:
        """The labels of a choice in every language, and the choice itself."""
        return [*self.labels.get(choice, {}).values(), choice]


Fields = Mapping[str, Mapping[str, TemplateField]]
"""The portal's fields: template name → field name → field."""


def find_license(license_id: str, field_: TemplateField, mapping: Mapping[str, str]) -> str:
    """Return the portal's id of a data.gouv.fr licence id.

    Args:
        license_id: Our licence id (`lov2`…).
        field_: The portal's `license_id` field, whose choices are its licence ids.
        mapping: Explicit `{our id: portal id}` from the target config, which wins.

    Raises:
        RejectedError: The portal knows no such licence (the message lists the ones it knows).
    """
    known = ", ".join(f"{field_.names_of(c)[0]} ({c})" for c in field_.choices) or "aucune"
    if license_id in mapping:
        if mapping[license_id] in field_.choices:
            return mapping[license_id]
        raise RejectedError(f"la configuration de la cible associe la licence {license_id!r} à "
                            f"{mapping[license_id]!r}, que ce portail ne connaît pas ; ses licences : {known}")
    wanted = {_words(name) for name in (license_id, LICENSES[license_id][0], *LICENSE_SYNONYMS.get(license_id, ()))}
    for choice in field_.choices:
        if any(_words(name) in wanted for name in field_.names_of(choice)):
            return choice
    raise RejectedError(f"ce portail n'a aucune licence correspondant à {license_id!r} ({LICENSES[license_id][0]}) ; "
                        f"ses licences : {known}. Choisissez-en une dans le catalogue, ou faites la correspondance "
                        f"dans la configuration de la cible : licenses: {{{license_id}: <id de licence du portail>}}")


def find_themes(themes: Iterable[str], field_: TemplateField) -> list[str]:
    """Return the portal's theme ids for theme names (or ids), compared without case and accents.

    Raises:
        RejectedError: A theme the portal does not have (the message lists its themes).
    """
    found = []
    for theme in themes:
        match = next((c for c in field_.choices
                      if any(_words(name) == _words(theme) for name in field_.names_of(c))), None)
        if match is None:
            known = ", ".join(field_.names_of(c)[0] for c in field_.choices) or "aucun"
            raise RejectedError(f"ce portail n'a pas de thème {theme!r} ; ses thèmes : {known}")
        found.append(match)
    return found


def description_html(text: str | None) -> str | None:
    """The plain-text description as the HTML Opendatasoft shows: one `<p>` per paragraph."""
    if not text:
        return None
    paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
    return "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)


def _candidates(metadata: DatasetMetadata, options: Mapping[str, Any], has_geometry: bool
                ) -> dict[tuple[str, str], Any]:
    """Values to write, keyed (template, field), before type shaping; None means "leave alone"."""
    md = metadata
    contact = md.contact
    bbox = md.spatial.bbox if md.spatial else None
    frequency = md.frequency
    temporal = md.temporal
    geo = options.get("geographic_reference")
    spatial_text = None
    if md.spatial:
        spatial_text = ", ".join([*md.spatial.zones, *([md.spatial.description] if md.spatial.description else [])])
    values: dict[tuple[str, str], Any] = {
        ("default", "title"): md.title,
        ("default", "description"): description_html(md.description),
        ("default", "keyword"): md.keywords or None,
        ("default", "modified"): md.modified,
        ("default", "language"): md.language,
        ("default", "publisher"): md.producer,
        ("default", "references"): md.landing_page,
        ("default", "attributions"): [md.attribution] if md.attribution else None,
        ("default", "geographic_reference"): list(geo) if geo else None,
        # Without explicit portal codes, let the portal compute the references from the geometries.
        ("default", "geographic_reference_auto"): True if has_geometry and not geo else None,
        ("dcat", "issued"): md.issued,
        ("dcat", "creator"): md.producer,
        ("dcat", "contact_name"): contact.name if contact else None,
        ("dcat", "contact_email"): contact.email if contact else None,
        ("dcat", "accrualperiodicity"): frequency,
        ("dcat", "spatial"): spatial_text or None,
        ("dcat", "temporal"): (f"{temporal.start or '..'}/{temporal.end or '..'}"
                               if temporal and (temporal.start or temporal.end) else None),
        ("inspire", "contact_individual_name"): contact.name if contact else None,
        ("inspire", "contact_email"): contact.email if contact else None,
    }
    if bbox:
        for side, value in zip(("westbound_longitude", "southbound_latitude", "eastbound_longitude",
                                "northbound_latitude"), bbox, strict=True):
            values[("inspire", f"extend_bounding_box_{side}")] = value
    return values


def _frequency_choices(frequency: str) -> list[str]:
    known = FREQUENCIES.get(frequency)
    return [EU_FREQUENCY + known.eu, known.eu, frequency] if known else [frequency]


def _shape(field_: TemplateField, value: Any) -> Any:
    """Shape a value for a field's declared type; None when it cannot fit (left unwritten)."""
    kind = field_.type
    if field_.name == "accrualperiodicity":
        candidates = _frequency_choices(value)
        if field_.choices:
            lowered = {c.lower(): c for c in field_.choices}
            return next((lowered[c.lower()] for c in candidates if c.lower() in lowered), None)
        return candidates[0]
    if isinstance(value, dt.datetime):
        value = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return value.date().isoformat() if kind == "date" else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat() if kind == "date" else dt.datetime.combine(value, dt.time(), dt.UTC).isoformat()
    if kind in _LIST_TYPES:
        return list(value) if isinstance(value, list) else [str(value)]
    if kind == "boolean":
        return bool(value)
    if kind == "double":
        return float(value)
    if kind == "int":
        return int(value)
    if isinstance(value, list):
        return ", ".join(map(str, value))
    if field_.choices and str(value) not in field_.choices:
        return None
    return value if isinstance(value, bool) else str(value)


def metadata_values(metadata: DatasetMetadata, fields: Fields, *, options: Mapping[str, Any],
                    has_geometry: bool, licenses: Mapping[str, str], fallback_title: str
                    ) -> dict[str, dict[str, Any]]:
    """Every metadata value to write on the portal, as `{template: {field: value}}`.

    Only fields the portal declares are returned; the licence and themes become the portal's
    ids, looked up in the `internal` template, else in `default` (where some portals keep them).

    Args:
        metadata: The dataset's merged metadata.
        fields: The portal's templates and fields.
        options: The dataset's options for this target (e.g. `geographic_reference` codes).
        has_geometry: Whether the data carries geometries.
        licenses: Explicit licence mapping from the target config.
        fallback_title: Title when the metadata has none (the dataset id).

    Raises:
        RejectedError: A licence or theme the portal does not know.
    """
    values: dict[str, dict[str, Any]] = {}
    candidates = _candidates(metadata, options, has_geometry)
    candidates[("default", "title")] = metadata.title or fallback_title
    for (template, name), value in candidates.items():
        declared = fields.get(template, {}).get(name)
        if value is None or declared is None:
            continue
        shaped = _shape(declared, value)
        if shaped is not None:
            values.setdefault(template, {})[name] = shaped
    for name, wanted in (("license_id", metadata.license), ("theme_id", metadata.themes or None)):
        if not wanted:
            continue
        template = next((t for t in ("internal", "default") if name in fields.get(t, {})), None)
        if template is None:
            raise RejectedError(f"ce portail ne déclare pas de champ de métadonnées {name} : moisson ne peut pas "
                                f"renseigner {'la licence' if name == 'license_id' else 'les thèmes'} ; "
                                "vérifiez les droits de la clé d'API")
        declared = fields[template][name]
        ids: Any = (find_license(wanted, declared, licenses) if name == "license_id"
                    else find_themes(wanted, declared))
        values.setdefault(template, {})[name] = ids
    return values
