"""Geography checks on tables the tests build: area, swaps, Lambert-93, invalid geometries, near duplicates."""

from __future__ import annotations

import numpy as np
import pandas as pd

from moisson.quality.checks import Issues
from moisson.quality.geography import (
    Communes,
    check_communes,
    check_geography,
    coordinate_pairs,
    near_duplicates,
    point_sets,
)
from moisson.quality.schema import FieldSpec
from tests.data import text_frame


def run(text, **kwargs):
    issues = Issues(text, first_row=2, lang="en")
    check_geography(text, issues, **kwargs)
    return issues


def rules(issues, warnings=False):
    found = issues.warnings if warnings else issues.errors
    return sorted((i.rule, i.row) for i in found)


def test_lat_lon_columns_swapped_lambert_outside_and_duplicates():
    text = text_frame({
        "EQUIP_LAT": ["50.63", "3.06", "7012345.5", "48.85", "50.63002", None],
        "EQUIP_LONG": ["3.06", "50.63", "704123.1", "-73.98", "3.06001", "3.0"],
    })
    issues = run(text)
    assert rules(issues) == [("extent", 5), ("lambert93", 4), ("swapped", 3)]
    # Row 6 is 2 m from row 2: probably the same place recorded twice.
    assert rules(issues, warnings=True) == [("duplicate-point", 6)]
    assert "row 2" in issues.warnings[0].message


def test_declared_extent_replaces_france():
    text = text_frame({"lat": ["50.63", "43.30"], "lon": ["3.06", "5.37"]})
    assert rules(run(text, extent=(2.5, 50.0, 3.5, 51.0))) == [("extent", 3)]


def test_geopoint_field_and_schema_gps_check_are_not_reported_twice():
    text = text_frame({"coordonneesxy": ["[3.06, 50.63]", "[50.63, 3.06]", "[704123, 7012345]"]})
    fields = {"coordonneesxy": FieldSpec.of({"name": "coordonneesxy", "type": "geopoint", "format": "array"})}
    assert rules(run(text, fields=fields)) == [("lambert93", 4), ("swapped", 3)]
    covered = [{"name": "french_gps_coordinates", "params": {"column": "coordonneesxy"}}]
    assert rules(run(text, fields=fields, custom_checks=covered)) == [("lambert93", 4)]


def test_invalid_and_unreadable_geometries_and_points_from_geometry():
    bowtie = '{"type":"Polygon","coordinates":[[[3,50],[3.1,50.1],[3.1,50],[3,50.1],[3,50]]]}'
    geometry = pd.Series(['{"type":"Point","coordinates":[3.06,50.63]}', bowtie, "not json",
                          '{"type":"Point","coordinates":[50.63,3.06]}', None], name="geometry")
    issues = run(text_frame({"nom": ["a", "b", "c", "d", "e"]}), geometry=geometry)
    assert rules(issues) == [("geometry", 4), ("invalid-geometry", 3), ("swapped", 5)]
    assert "Self-intersection" in issues.errors[[i.rule for i in issues.errors].index("invalid-geometry")].message


def test_coordinate_pairs_follow_scdl_names():
    assert coordinate_pairs(["lat_coor1", "long_coor1", "relation", "EQUIP_LAT", "EQUIP_LONG", "latitude",
                             "longitude"]) == [("lat_coor1", "long_coor1"), ("EQUIP_LAT", "EQUIP_LONG"),
                                               ("latitude", "longitude")]


def test_near_duplicates_on_a_million_points_with_a_default_coordinate():
    rng = np.random.default_rng(1)
    n = 1_000_000
    lon, lat = rng.uniform(2.0, 4.0, n), rng.uniform(49.0, 51.0, n)
    lon[:1000], lat[:1000] = 3.0, 50.0                      # a default point typed a thousand times
    lon[-1], lat[-1] = lon[5000] + 0.00002, lat[5000]       # about 1.4 m east of row 5000
    partner = near_duplicates(lon, lat, np.ones(n, bool), 5.0)
    assert (partner[1:1000] == 0).all() and partner[0] == -1
    assert partner[-1] == 5000


def test_points_in_another_commune_are_warned_with_the_commune_found_and_the_one_expected():
    text = text_frame({"latitude": ["50.63", "50.67", "50.64", "50.65"], "longitude": ["3.06", "3.12", "3.07", "3.0"]})
    issues = Issues(text, first_row=2, lang="fr")
    [points] = point_sets(text, {})
    communes = Communes("defibrillateurs", points=points, expected=["59350", "59350", "59350", None],
                        found=[("59350", "Moisson-sur-Lys"), ("59352", "Val-de-Moisson"), None, None])
    [note] = check_communes(communes, issues)
    assert rules(issues, warnings=True) == [("commune", 3)] and not issues.errors
    message = issues.warnings[0].message
    for part in ("defibrillateurs", "ligne 3", "(3.12, 50.67)", "Val-de-Moisson (59352)", "attendue (59350)",
                 "corrigez"):
        assert part in message, message
    # Row 4 had no address near it: not counted as checked; row 5 was not asked (no expected commune).
    assert note == ("contrôle des communes : 2 points situés par le géocodeur (adresse la plus proche), "
                    "1 hors de la commune attendue, 1 sans adresse connue à proximité (non vérifiés)")


def test_no_geocoder_or_no_commune_is_said_in_a_note_and_warns_nothing():
    issues = Issues(text_frame({"lat": ["50.63"], "lon": ["3.06"]}), first_row=2, lang="en")
    [note] = check_communes(Communes("salles", skipped="geocoder"), issues)
    assert "configures no geocoder" in note and not issues.warnings
    [note] = check_communes(Communes("salles", skipped="commune"), issues)
    assert "organization.insee" in note and not issues.warnings
