"""The shrink guard's decision, shape by shape (the flow test runs it end to end)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from moisson.core.records import RemoteState
from moisson.core.state import StateStore
from moisson.tasks.shrink import Shape, published_shape, shape_of, shrink_refusal


def test_no_row_is_refused_even_on_a_first_publication():
    message = shrink_refusal("budget", Shape(0, 5), None, allowed=0.5)
    assert "aucune ligne" in message and "allow_shrink: 1" in message and "--accept-shrink budget" in message
    assert shrink_refusal("budget", Shape(0, 5), None, allowed=1) is None


def test_a_loss_beyond_the_share_names_both_counts_and_the_share_that_accepts_it():
    message = shrink_refusal("salles", Shape(328, 4), Shape(1000, 4), allowed=0.5)
    assert "de 1000 à 328 lignes" in message and "(−67%" in message
    assert "allow_shrink: 0.68" in message
    assert shrink_refusal("salles", Shape(328, 4), Shape(1000, 4), allowed=0.7) is None
    assert shrink_refusal("salles", Shape(500, 4), Shape(1000, 4), allowed=0.5) is None, "exactly the share passes"


def test_lost_columns_and_growth():
    assert "de 10 à 3 colonnes" in shrink_refusal("x", Shape(10, 3), Shape(10, 10), allowed=0.5)
    assert shrink_refusal("x", Shape(5000, 12), Shape(10, 10), allowed=0) is None


def test_a_cut_last_row_is_refused_whatever_the_share():
    message = shrink_refusal("x", Shape(1000, 4), Shape(1000, 4), allowed=1, cut="a quote left open on row 1001")
    assert "coupée (a quote left open on row 1001)" in message and "--accept-shrink x" in message


def test_english_messages():
    assert "goes from 1000 to 10 rows" in shrink_refusal("x", Shape(10, 4), Shape(1000, 4), allowed=0.5, lang="en")


def test_the_published_shape_is_the_largest_remembered(tmp_path):
    path = tmp_path / "clean.parquet"
    pq.write_table(pa.table({"a": ["1", "2", "3"], "b": ["x", "y", "z"]}), path)
    assert shape_of(path) == Shape(3, 2)
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    store.save_remote("d", "portail", RemoteState(extra={"resource_id": "r", **Shape(900, 4).as_extra()}))
    store.save_remote("d", "datagouv", RemoteState(extra=Shape(1000, 3).as_extra()))
    store.save_remote("d", "ancien", RemoteState(extra={}))  # published before the guard existed
    assert published_shape(store, "d", ["portail", "datagouv", "ancien", "jamais"]) == Shape(1000, 4)
    assert published_shape(store, "d", ["ancien"]) is None
