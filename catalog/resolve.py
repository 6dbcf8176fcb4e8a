"""The catalog as a run sees it: its collections expanded from the record states the state store holds."""

from __future__ import annotations

from collections.abc import Iterable

from moisson.catalog.model import Catalog
from moisson.core.frequencies import is_due
from moisson.core.state import StateStore


def with_stored_records(catalog: Catalog, store: StateStore) -> Catalog:
    """`catalog` with every present, dataset-bearing record of its collections' sources, read from `store`.

    Records marked missing, and records a harvest skipped (services), make no dataset.
    """
    sources = {collection.source for collection in catalog.model.collections}
    present = {}
    for source in sorted(sources):
        skipped = store.record_skips(source)
        present[source] = [record_id for record_id, state in store.records(source).items()
                           if state.missing_since is None and record_id not in skipped]
    return catalog.with_records(present)


def due_datasets(catalog: Catalog, dataset_ids: Iterable[str], store: StateStore) -> list[str]:
    """The ids among `dataset_ids` whose frequency asks for a run now (the one due filter: CLI and flows)."""
    return [i for i in dataset_ids if is_due(catalog.dataset(i).frequency, store.last_success(i))]
