"""Merging the commune's list, OpenStreetMap and the national base into one list of defibrillators."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from moisson.core.errors import RejectedError
from moisson.prepare.merge import MergeRule, merge

RULE = MergeRule(distance_m=30, lat="lat", lon="lon", commune="insee", name="nom",
                 precedence={"default": ["commune", "national", "osm"], "acces": ["national", "commune"]})


def places(n: int, seed: int, jitter_m: float) -> pd.DataFrame:
    """`n` points 200 m apart near Lille, moved by up to `jitter_m` metres."""
    rng = np.random.default_rng(seed)
    lat = 50.60 + (np.arange(n) // 100) * 0.0018 + rng.uniform(-1, 1, n) * jitter_m / 111_320
    lon = 3.00 + (np.arange(n) % 100) * 0.0028 + rng.uniform(-1, 1, n) * jitter_m / 70_800
    return pd.DataFrame({"nom": [f"DAE {i}" for i in range(n)], "lat": [f"{v:.6f}" for v in lat],
                         "lon": [f"{v:.6f}" for v in lon], "insee": "59350"}, dtype="string")


def test_the_same_thing_once_with_each_field_from_its_trusted_source():
    commune = places(5, 1, 5).assign(acces=["hall", None, "accueil", None, None])
    national = places(5, 2, 5).assign(acces=["24h/24", "24h/24", None, None, None]).iloc[[0, 1, 2]]
    osm = places(7, 3, 5).assign(acces=None, source_id=[f"osm:node/{i}" for i in range(7)])
    osm.loc[1, "nom"] = "Défibrillateur de la mairie"
    merged, report = merge({"commune": commune, "national": national, "osm": osm}, RULE)
    assert report.rows == 7 and len(merged) == 7
    first = merged.iloc[0]
    assert first["nom"] == "DAE 0" and first["acces"] == "24h/24"       # acces trusts the national base
    assert merged.iloc[2]["acces"] == "accueil"                          # national had no value: the commune's
    assert first["source"] == "commune,national,osm" and "osm:osm:node/0" in first["source_id"]
    assert report.only == {"osm": 2}
    assert {c["field"] for c in report.conflicts} >= {"nom", "acces", "lat"}
    assert merged["source"].str.count(",").sum() == 2 * 3 + 2


def test_matching_is_one_to_one_nearest_first_and_blocked_by_commune():
    commune = pd.DataFrame({"nom": ["A", "B"], "lat": ["50.600000", "50.600100"], "lon": ["3.0", "3.0"],
                            "insee": ["59350", "59350"]}, dtype="string")
    osm = pd.DataFrame({"nom": ["B", "X"], "lat": ["50.600090", "50.600000"], "lon": ["3.0", "3.0"],
                        "insee": ["59350", "59352"]}, dtype="string")
    rule = RULE.model_copy(update={"precedence": {"default": ["commune", "osm"]}})
    merged, report = merge({"commune": commune, "osm": osm}, rule)
    assert list(merged["source"]) == ["commune", "commune,osm", "osm"]  # X is in another commune
    assert len(report.matched) == 1


def test_a_merge_that_would_leave_out_too_many_rows_is_refused():
    commune = places(10, 1, 5)
    commune.loc[:4, "lat"] = None
    with pytest.raises(RejectedError, match="5 of 10 rows of source 'commune' have no coordinates"):
        merge({"commune": commune, "osm": places(3, 2, 5)},
              RULE.model_copy(update={"precedence": {"default": ["commune", "osm"]}}))


def test_merge_on_a_key():
    a = pd.DataFrame({"id": ["1", "2"], "nom": ["A", None]}, dtype="string")
    b = pd.DataFrame({"id": ["2", "3"], "nom": ["B", "C"]}, dtype="string")
    merged, _ = merge({"a": a, "b": b}, MergeRule(key="id"))
    assert list(merged["nom"]) == ["A", "B", "C"] and list(merged["source"]) == ["a", "a,b", "b"]
