"""Department versions of the SCDL reference examples: what a department's own export of the same data looks like.

Headers renamed to the schema's French field titles (or a label made from the name), columns in reverse order,
enum vocabularies perturbed (accents dropped, capitalised), ISO dates written `dd/mm/yyyy`, decimal commas,
booleans as `Oui`/`Non`, and the publisher's columns removed. `truth` says which column each field became.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from tests.data import SCDL, read_reference_csv

#: Words of a field's name or title saying it is about the publisher.
PUBLISHER = re.compile(r"attribuant|_orga\b", re.IGNORECASE)
ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
#: SCDL subventions labels a department writes, none the schema's title (the issue's own examples among them).
HANDWRITTEN = {"dateConvention": "Date de la délibération", "referenceDecision": "N° de décision",
               "nomBeneficiaire": "Nom du bénéficiaire", "idBeneficiaire": "SIRET bénéficiaire",
               "rnaBeneficiaire": "N° RNA", "objet": "Objet", "montant": "Montant accordé (€)",
               "nature": "Nature de l'aide", "conditionsVersement": "Versement",
               "datesPeriodeVersement": "Période de versement", "idRAE": "RAE", "notificationUE": "Aide UE ?",
               "pourcentageSubvention": "Part de la subvention", "dispositifAide": "Dispositif"}




@dataclass(frozen=True)
class Department:
    """A perturbed example and what it was made from."""

    frame: pd.DataFrame
    schema: Path
    truth: dict[str, str]          # schema field → column of the department file
    removed: dict[str, str]        # publisher field → its value in the original first row


def examples() -> list[Path]:
    """The valid reference examples of SCDL schemas."""
    return sorted(p for p in SCDL.rglob("exemple*valide*.csv") if "invalide" not in p.name)


def schema_of(example: Path) -> Path:
    return next(folder / "schema.json" for folder in (example.parent, example.parent.parent)
                if (folder / "schema.json").is_file())


def label(descriptor: dict) -> str:
    """The header a department would write: the field's title, else its name as words."""
    return descriptor.get("title") or descriptor["name"].replace("_", " ").capitalize()


def perturb(value: str | None) -> str | None:
    """An enum value as typed by hand: no accents, capitalised."""
    if not value:
        return value
    bare = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    return bare[:1].upper() + bare[1:]


def department(example: Path) -> Department:
    """The department version of one reference example."""
    schema = schema_of(example)
    fields = {f["name"]: f for f in json.loads(schema.read_text(encoding="utf-8"))["fields"]}
    frame = read_reference_csv(example)
    frame = frame.loc[:, ~frame.columns.duplicated()]
    removed = {c: str(frame[c].iloc[0]) for c in frame.columns
               if c in fields and (PUBLISHER.search(c) or PUBLISHER.search(fields[c].get("title", "")))}
    frame = frame.drop(columns=list(removed))
    for name in frame.columns:
        spec = fields.get(name, {})
        column = frame[name]
        if (spec.get("constraints") or {}).get("enum"):
            frame[name] = column.map(perturb, na_action="ignore")
        elif spec.get("type") == "date" and spec.get("format", "default") == "default":
            frame[name] = column.str.replace(ISO_DATE, lambda m: f"{m[3]}/{m[2]}/{m[1]}", regex=True)
        elif spec.get("type") == "number":
            frame[name] = column.str.replace(".", ",", regex=False)
        elif spec.get("type") == "boolean":
            frame[name] = column.map({"true": "Oui", "false": "Non"}, na_action="ignore").fillna(column)
    truth = {name: label(fields[name]) for name in frame.columns if name in fields}
    frame = frame.rename(columns=truth)[list(reversed([truth.get(c, c) for c in frame.columns]))]
    return Department(frame=frame, schema=schema, truth=truth, removed=removed)
