"""Geography checks on tables the tests build: area, swaps, Lambert-93, invalid geometries, near duplicates."""

from __future__ import annotations

import numpy as np
import pandas as pd

from moisson.quality.checks import Issues
from moisson.quality.geography import check_geography, coordinate_pairs, near_duplicates
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
