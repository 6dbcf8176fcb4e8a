"""Metadata completeness: title and licence block, the rest warns, the score shows in the report."""

from __future__ import annotations

import datetime as dt

from moisson.core.metadata import DatasetMetadata
from moisson.quality.checks import Issues
from moisson.quality.completeness import FIELDS, check_metadata, score_metadata
from tests.data import text_frame


def test_missing_title_and_licence_block_the_rest_warns():
    issues = Issues(text_frame({"a": ["1"]}), first_row=2, lang="en")
    result = check_metadata(DatasetMetadata(description="Arceaux vélos", keywords=["vélo"]), issues)
    assert result.blocking == ["title", "license"]
    assert [(e.field, e.type) for e in issues.errors] == [("title", "metadata"), ("license", "metadata")]
    assert issues.error_count == 2
    assert {w.field for w in issues.warnings} == set(result.missing) - {"title", "license"}
    assert result.score == round(100 * 2 / len(FIELDS))
    assert "2/10" in result.summary(issues)


def test_complete_metadata_scores_100_and_unspecified_licence_counts_as_missing():
    full = DatasetMetadata(
        title="Stationnements vélos", description="Arceaux", keywords=["vélo"], producer="Commune",
        license="lov2", spatial={"zones": ["fr:commune:59350"], "granularity": "poi"},
        temporal={"start": dt.date(2024, 1, 1)}, frequency="quarterly", modified=dt.datetime(2024, 5, 1))
    assert score_metadata(full).score == 100 and score_metadata(full).missing == []
    assert score_metadata(full.merged({"license": "notspecified"})).blocking == ["license"]
