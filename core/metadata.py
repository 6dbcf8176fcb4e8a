"""Publication metadata of a dataset: what a French open-data portal needs to show it.

One pydantic model, `DatasetMetadata`, filled from the source (CSW records, file
properties) and overridden by the catalog. Vocabularies follow data.gouv.fr (udata ≥ 12):
frequency ids, licence ids, spatial zone GeoIDs and granularities, so the same values
go unchanged to data.gouv.fr and are mapped once for Opendatasoft and DCAT.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from moisson.core.frequencies import check_frequency
from moisson.core.suggest import did_you_mean

#: Licence ids of data.gouv.fr with their titles and reference URLs.
LICENSES: dict[str, tuple[str, str]] = {
    "lov2": ("Licence Ouverte / Open Licence version 2.0",
             "https://www.etalab.gouv.fr/licence-ouverte-open-licence"),
    "fr-lo": ("Licence Ouverte / Open Licence", "https://www.etalab.gouv.fr/licence-ouverte-open-licence"),
    "odc-odbl": ("Open Data Commons Open Database License (ODbL)",
                 "https://opendatacommons.org/licenses/odbl/1-0/"),
    "odc-by": ("Open Data Commons Attribution License", "https://opendatacommons.org/licenses/by/1-0/"),
    "odc-pddl": ("Open Data Commons Public Domain Dedication and Licence (PDDL)",
                 "https://opendatacommons.org/licenses/pddl/1-0/"),
    "cc-by": ("Creative Commons Attribution", "https://creativecommons.org/licenses/by/4.0/"),
    "cc-by-sa": ("Creative Commons Attribution Share-Alike", "https://creativecommons.org/licenses/by-sa/4.0/"),
    "cc-zero": ("Creative Commons CCZero", "https://creativecommons.org/publicdomain/zero/1.0/"),
    "other-at": ("Other (Attribution)", ""),
    "other-open": ("Other (Open)", ""),
    "other-pd": ("Other (Public Domain)", ""),
    "notspecified": ("License Not Specified", ""),
}

#: Spellings people write in catalogs, mapped to data.gouv.fr ids.
LICENSE_ALIASES: dict[str, str] = {
    "etalab-2.0": "lov2", "etalab": "lov2", "licence-ouverte": "lov2", "lo-2.0": "lov2",
    "odbl": "odc-odbl", "cc-by-4.0": "cc-by", "cc0": "cc-zero",
}

#: Spatial granularities of data.gouv.fr (`/spatial/granularities/`).
GRANULARITIES: tuple[str, ...] = (
    "country-group", "country", "country-subset", "fr:region", "fr:departement",
    "fr:arrondissement", "fr:commune", "fr:iris", "fr:canton", "fr:collectivite", "fr:epci",
    "poi", "other",
)

_ZONE = re.compile(r"^(fr:(commune|departement|region|epci|arrondissement|canton|iris):[0-9A-Za-z]+"
                   r"|country:[a-z]{2}|country-group:[a-z-]+|country-subset:[a-z:-]+)$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Contact(_Model):
    """A person or service to write to about the dataset (a functional address, not a private one)."""

    name: str | None = None
    email: str | None = None
    url: str | None = None
    role: str | None = None


class Spatial(_Model):
    """Spatial coverage: data.gouv.fr zones (`fr:commune:59350`), a WGS84 bbox, a granularity."""

    zones: list[str] = Field(default_factory=list)
    bbox: tuple[float, float, float, float] | None = Field(
        None, description="west, south, east, north in WGS84 degrees")
    granularity: str | None = None
    description: str | None = None

    @field_validator("zones")
    @classmethod
    def _zones(cls, zones: list[str]) -> list[str]:
        bad = [z for z in zones if not _ZONE.match(z)]
        if bad:
            raise ValueError(f"identifiant(s) de zone inconnu(s) {bad} : écrivez-les comme fr:commune:59350, "
                             "fr:departement:59, fr:region:32 ou country:fr")
        return zones

    @field_validator("granularity")
    @classmethod
    def _granularity(cls, value: str | None) -> str | None:
        if value is not None and value not in GRANULARITIES:
            raise ValueError(f"granularité inconnue {value!r} ; valeurs possibles : {', '.join(GRANULARITIES)}")
        return value

    @field_validator("bbox")
    @classmethod
    def _bbox(cls, bbox: tuple[float, float, float, float] | None) -> tuple[float, ...] | None:
        if bbox is not None:
            west, south, east, north = bbox
            if not (-180 <= west <= 180 and -180 <= east <= 180 and -90 <= south <= north <= 90):
                raise ValueError("`bbox` s'écrit [ouest, sud, est, nord] en degrés WGS84")
        return bbox


class Temporal(_Model):
    """Temporal coverage; an open end is ``None``."""

    start: dt.date | None = None
    end: dt.date | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Temporal:
        if self.start and self.end and self.end < self.start:
            raise ValueError(f"la couverture temporelle finit ({self.end}) avant de commencer ({self.start}) : "
                             "vérifiez `start` et `end`")
        return self


class DatasetMetadata(_Model):
    """Everything a portal shows about a dataset; every field optional until publication.

    Quality's metadata completeness check says which missing ones block (title, licence)
    and which only warn.
    """

    title: str | None = None
    description: str | None = None
    keywords: list[str] = Field(default_factory=list)
    themes: list[str] = Field(default_factory=list)
    producer: str | None = Field(None, description="organisation that produces the data")
    contact: Contact | None = None
    legal: str | None = Field(None, description="legal basis or conditions (e.g. a deliberation)")
    attribution: str | None = Field(None, description="how re-users must credit the producer")
    license: str | None = None
    spatial: Spatial | None = None
    temporal: Temporal | None = None
    issued: dt.date | None = Field(None, description="first publication date")
    modified: dt.datetime | None = Field(None, description="last modification of the data")
    frequency: str | None = None
    language: str = "fr"
    landing_page: str | None = None
    lineage: str | None = None
    extras: dict[str, Any] = Field(default_factory=dict)

    @field_validator("frequency")
    @classmethod
    def _frequency(cls, value: str | None) -> str | None:
        return None if value is None else check_frequency(value)

    @field_validator("license")
    @classmethod
    def _license(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = LICENSE_ALIASES.get(value.lower(), value)
        if value not in LICENSES:
            spellings = {**{lid: lid for lid in LICENSES}, **{title: lid for lid, (title, _) in LICENSES.items()},
                         **LICENSE_ALIASES}
            raise ValueError(f"licence inconnue {value!r}{did_you_mean(value, spellings)} ; utilisez un identifiant "
                             f"data.gouv.fr : lov2 (Licence Ouverte 2.0), odc-odbl (ODbL) ou l'un de "
                             f"{', '.join(LICENSES)}")
        return value

    @field_validator("keywords")
    @classmethod
    def _keywords(cls, keywords: list[str]) -> list[str]:
        seen: dict[str, str] = {}
        for word in keywords:
            word = word.strip()
            if word and word.lower() not in seen:
                seen[word.lower()] = word
        return list(seen.values())

    def merged(self, *overrides: DatasetMetadata | dict[str, Any] | None) -> DatasetMetadata:
        """Return a copy with the fields set in each override replacing ours, left to right."""
        data = self.model_dump(exclude_unset=True)
        for override in overrides:
            if override is None:
                continue
            if isinstance(override, DatasetMetadata):
                override = override.model_dump(exclude_unset=True)
            data.update(override)
        return DatasetMetadata.model_validate(data)


Status = Literal["published", "unchanged", "blocked", "failed", "skipped"]
