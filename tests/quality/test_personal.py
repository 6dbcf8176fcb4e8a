"""Personal data gate: detections on built tables, precision on the SCDL reference examples, drop/hash/keep."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from pydantic import SecretStr
from stdnum import iban as stdnum_iban
from stdnum.fr import nir as stdnum_nir

from moisson.core.errors import ConfigError
from moisson.quality.checks import Issues
from moisson.quality.personal import PERSONAL, find_personal, iban_valid, nir_key_valid, protect
from tests.data import read_reference_csv, text_frame

FREE_TEXT = [
    "Réservation auprès de jean.dupont@gmail.com",   # 0 webmail, nominative → email
    "Écrire à mairie@moisson-sur-lys.fr",            # 1 role account
    "Agent : paul.durand@ville-lille.fr",            # 2 public-sector domain
    "Portable du gardien : 06 12 34 56 78",          # 3 mobile → phone
    "NIR 1 85 05 78 006 084 91",                     # 4 valid NIR
    "NIR 1 85 05 78 006 084 92",                     # 5 wrong key: not a NIR
    "RIB FR76 3000 6000 0112 3456 7890 189",         # 6 valid IBAN
    "Salle réservée par M. Dupont",                  # 7 civility + name
    "École Madame de Sévigné, rue Monsieur Le Prince",  # 8 places named after someone
    "M. le Maire ouvre la séance",                   # 9 a function, not a name
    "SIRET 21590350100017, lat 50.0612345678",       # 10 digits that are not phones
    "Numéro vert 0800 123 456",                      # 11 service number
]


def kinds(found):
    return {(f.column, f.kind, f.warning): np.flatnonzero(f.rows).tolist() for f in found}


def test_each_kind_is_found_in_free_text_and_nothing_else():
    found = kinds(find_personal(text_frame({"notes": FREE_TEXT})))
    assert found == {
        ("notes", "email", False): [0],
        ("notes", "phone", False): [3],
        ("notes", "nir", False): [4],
        ("notes", "iban", False): [6],
        ("notes", "person-name", False): [7],
    }


def test_declared_contact_columns_only_warn_or_block_private_mailboxes():
    table = text_frame({
        "tel1": ["03 20 12 34 56", "+33 6 12 34 56 78", None],
        "contact_email": ["accueil@mairie-x.fr", "anne.roy@asso-velo.fr", "anne.roy@orange.fr"],
    })
    fields = [{"name": "tel1", "type": "string"}, {"name": "contact_email", "type": "string", "format": "email"}]
    found = kinds(find_personal(table, fields))
    # A switchboard is what a commune publishes; a mobile is worth a look.
    assert found[("tel1", "phone", True)] == [1]
    assert ("tel1", "phone", False) not in found
    assert found[("contact_email", "email", False)] == [2]
    assert found[("contact_email", "email", True)] == [1]


def test_producer_domain_and_typed_columns_are_left_alone():
    table = text_frame({"contact": ["jean.martin@moisson-sur-lys.fr"], "code": ["0612345678"]})
    fields = [{"name": "contact", "type": "string"}, {"name": "code", "type": "integer"}]
    assert find_personal(table, fields, own_domains=["moisson-sur-lys.fr"]) == []


def test_nir_and_iban_checks_agree_with_python_stdnum():
    rng = np.random.default_rng(7)
    bodies = [f"{rng.integers(1, 3)}{rng.integers(0, 100):02d}{rng.integers(1, 13):02d}"
              f"{rng.choice(['59', '2A', '2B', '75'])}{rng.integers(0, 10**6):06d}" for _ in range(300)]
    keys = [f"{rng.integers(0, 98):02d}" for _ in bodies]
    ours = nir_key_valid(pd.Series(bodies, dtype="string"), pd.Series(keys, dtype="string"))
    theirs = [stdnum_nir.is_valid(b + k) for b, k in zip(bodies, keys, strict=True)]
    assert ours.tolist() == theirs and any(theirs)
    ibans = ["FR7630006000011234567890189", "FR7630006000011234567890188", "DE89370400440532013000",
             "GB82WEST12345698765432", "GB82WEST12345698765433"]
    assert iban_valid(pd.Series(ibans, dtype="string")).tolist() == [stdnum_iban.is_valid(i) for i in ibans]


def test_no_valid_reference_example_is_blocked_but_for_its_named_contact(scdl):
    files = sorted(scdl.glob("*/exemple*valide*.csv")) + sorted((scdl / "subventions" / "exemples").glob("*.csv"))
    assert len(files) >= 9
    for path in files:
        table = read_reference_csv(path)
        blocking = [(f.column, f.kind) for f in find_personal(table.astype("string")) if not f.warning]
        expected = [("contact_name", "person-name")] if "defibrillateurs" in str(path) else []
        assert blocking == expected, path


def test_the_defibrillator_contact_is_a_named_person(scdl):
    # `contact_name: Pierre Dupont` is a first name and a surname in a contact column: the issue's incident,
    # so it blocks until the catalog decides (`personal_data: {contact_name: keep}`); its address and phone,
    # a declared contact's, still do not.
    table = read_reference_csv(scdl / "futurocite-wallonie-defibrillateurs" / "exemple-valide.csv")
    blocking = [f for f in find_personal(table.astype("string")) if not f.warning]
    assert [(f.column, f.kind) for f in blocking] == [("contact_name", "person-name")]


def make_issues(frame):
    return Issues(frame, first_row=2, lang="en")


def test_a_detection_blocks_with_column_rows_and_what_to_write():
    text = text_frame({"nom": ["Club A", "Club B"], "courriel": ["contact@club-a.fr", "marc.petit@gmail.com"]})
    issues = make_issues(text)
    clean, notes = protect(text, text, issues, actions={})
    [error] = issues.errors
    assert error.type == PERSONAL and error.field == "courriel" and error.rule == "email"
    assert "row 3" in error.message.replace("rows 3", "row 3")
    assert "personal_data: {courriel: drop}" in error.message
    assert "marc.petit" not in error.message, "the report must not repeat the personal data"
    assert list(clean.columns) == ["nom", "courriel"] and notes == []


def test_drop_hash_and_keep_change_the_published_table():
    text = text_frame({"a": ["x@gmail.com", None], "b": ["06 12 34 56 78", "07 12 34 56 78"],
                       "c": ["M. Dupont", "Mme Roy"]})
    issues = make_issues(text)
    clean, notes = protect(text, text, issues, actions={"a": "drop", "b": "hash", "c": "keep"},
                           salt=SecretStr("pepper"))
    assert issues.errors == []
    assert list(clean.columns) == ["b", "c"]
    assert clean["b"].iat[0] == hashlib.sha256(b"pepper06 12 34 56 78").hexdigest()
    assert clean["c"].tolist() == ["M. Dupont", "Mme Roy"]
    assert len(notes) == 2
    with pytest.raises(ConfigError, match="MOISSON_HASH_SALT"):
        protect(text, text, make_issues(text), actions={"b": "hash"}, salt=None)


def test_a_policy_naming_an_absent_column_warns():
    text = text_frame({"a": ["x"]})
    issues = make_issues(text)
    protect(text, text, issues, actions={"courriel": "drop"})
    assert [w.field for w in issues.warnings] == ["courriel"]


def test_a_million_rows_are_scanned_vectorised():
    cells = pd.Series(FREE_TEXT * 83_334, dtype="string[pyarrow]")[:1_000_000]
    found = kinds(find_personal(pd.DataFrame({"notes": cells})))
    assert len(found[("notes", "email", False)]) == 1_000_000 // len(FREE_TEXT) + 1
