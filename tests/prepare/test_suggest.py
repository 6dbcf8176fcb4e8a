"""`suggest` on the real SCDL examples made into department files: the right column for at least 90 % of fields."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from moisson.prepare.suggest import fingerprint, fold, suggest
from moisson.quality.schema import load_schema
from tests.data import read_reference_csv
from tests.prepare.department import HANDWRITTEN, Department, department, examples


def schema(path: Path, tmp_path: Path):
    return load_schema(str(path), schemas_dir=path.parent, cache_dir=tmp_path)


def table(frame) -> pa.Table:
    return pa.Table.from_pandas(frame.astype("string"), preserve_index=False)


def organization(dept: Department) -> dict[str, str | None]:
    """The publisher the removed columns described, as a catalog's `defaults.organization`."""
    names = [v for k, v in dept.removed.items() if "nom" in k.lower()]
    sirets = [v for v in dept.removed.values() if len(v) == 14 and v.isdigit()]
    return {"name": names[0] if names else None, "siret": sirets[0] if sirets else None}


class Org(dict):
    """`{organization.siret}` rendered by str.format."""

    def __getattr__(self, key: str) -> str:
        return self[key]


def recovered(dept: Department, found) -> tuple[int, int]:
    good = 0
    for name, entry in found.fields.items():
        rule = entry["rule"] or {}
        if name in dept.truth:
            good += rule.get("from") == dept.truth[name]
        elif name in dept.removed:
            good += rule.get("const", "").format_map({"organization": Org(organization(dept))}) == dept.removed[name]
    return good, len(dept.truth) + len(dept.removed)


@pytest.mark.parametrize("example", examples(), ids=lambda p: p.parent.name if p.parent.name != "exemples"
                         else p.parent.parent.name)
def test_suggest_recovers_the_fields_of_a_department_file(example, tmp_path):
    dept = department(example)
    found = suggest(table(dept.frame), schema(dept.schema, tmp_path), dataset="d", organization=organization(dept))
    good, total = recovered(dept, found)
    assert good / total >= 0.9, (good, total)
    # Every required field without a rule is named, never left out silently.
    table_schema = schema(dept.schema, tmp_path)
    without = [f.name for f in table_schema.fields if f.required and found.fields[f.name]["rule"] is None]
    assert found.unmapped_required == without
    entry = next(iter(found.fields.values()))
    assert set(entry) == {"rule", "confidence", "candidates"} and len(entry["candidates"]) <= 3
    assert set(found.to_dict()) == {"dataset", "schema", "fields", "unmapped_required", "unused_columns"}


def test_handwritten_labels_french_marks_and_perturbed_vocabularies(tmp_path):
    dept = department(next(p for p in examples() if "subventions" in str(p)))
    frame = dept.frame.rename(columns={dept.truth[k]: v for k, v in HANDWRITTEN.items()})
    found = suggest(table(frame), schema(dept.schema, tmp_path), dataset="subventions", organization={})
    rules = {k: v["rule"] for k, v in found.fields.items()}
    right = sum((rules[k] or {}).get("from") == v for k, v in HANDWRITTEN.items())
    assert right / len(HANDWRITTEN) >= 0.9, rules
    assert rules["dateConvention"]["parse"] == {"date": "%d/%m/%Y"}
    assert rules["montant"]["parse"] == {"decimal": ","}
    assert rules["nature"]["map"]["Aide en numeraire"] == "aide en numéraire"
    # Without an organization in the catalog the publisher's fields cannot be made up: they are named.
    assert found.unmapped_required == ["nomAttribuant", "idAttribuant"]
    reasons = found.fields["idBeneficiaire"]["candidates"][0]["reasons"]
    assert any("SIRET" in r for r in reasons), reasons


def test_publisher_fields_become_constants_from_the_organization(tmp_path):
    dept = department(next(p for p in examples() if "subventions" in str(p)))
    found = suggest(table(dept.frame), schema(dept.schema, tmp_path), dataset="s",
                    organization={"name": "ANTIBES", "siret": "21060004500392"})
    assert found.fields["nomAttribuant"]["rule"] == {"const": "{organization.name}"}
    assert found.fields["idAttribuant"]["rule"] == {"const": "{organization.siret}"}
    assert found.unmapped_required == []


def test_a_file_already_in_the_layout_gets_the_identity(tmp_path):
    example = next(p for p in examples() if "subventions" in str(p))
    frame = read_reference_csv(example)
    found = suggest(table(frame), schema(example.parent.parent / "schema.json", tmp_path), dataset="s")
    assert all(v["rule"] == {"from": k} and v["confidence"] == 1.0 for k, v in found.fields.items())
    assert found.unused_columns == []


def test_folding_and_fingerprints():
    assert fold("Montant accordé (€)") == "montant accorde"
    assert fold("nomBeneficiaire") == "nom beneficiaire"
    assert fingerprint("Equipement Sportif") == fingerprint("sportif équipement")
