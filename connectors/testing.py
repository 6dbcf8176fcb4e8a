"""Contract test kit: every connector's tests subclass `SourceContract` or `TargetContract`.

Like the Meltano SDK's generated tap tests or Prefect's `BlockStandardTestSuite`, the kit
checks what every connector promises (config schema, unique ids, Parquet row counts,
errors from the shared hierarchy, idempotent publication), so a new connector gets
those tests by writing a few fixtures. Plain pytest, no Prefect.

Example::

    class TestSpreadsheetSource(SourceContract):
        @pytest.fixture
        def source(self, tmp_path):
            return SpreadsheetSource(SpreadsheetSource.Config(root=tmp_path))

        @pytest.fixture
        def dataset(self, source):
            return next(iter(source.discover()))
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, ClassVar

import pyarrow.parquet as pq

try:
    import pytest
except ImportError as missing:  # the kit is for connector authors' tests: pytest comes with moisson[dev]
    raise ImportError("moisson.connectors.testing a besoin de pytest : installez 'moisson[dev]' "
                       "ou pytest avec pip") from missing

from moisson.connectors.base import DatasetDescriptor, Publication, PublishResult, SourceConnector, TargetConnector
from moisson.core.errors import ConnectorError
from moisson.core.ids import DATASET_ID
from moisson.core.metadata import DatasetMetadata
from moisson.core.records import RemoteState


class SourceContract:
    """Tests every source must pass. Subclasses provide the fixtures below.

    Fixtures:
        source: a configured source instance.
        dataset: one `DatasetDescriptor` the source can extract.
        missing_dataset: a descriptor whose locator points at nothing (default: derived
            from `dataset` with a locator the subclass overrides via `missing_locator`).
    """

    missing_locator: ClassVar[dict[str, Any]] = {"path": "does-not-exist.csv"}

    @pytest.fixture
    def missing_dataset(self, dataset: DatasetDescriptor) -> DatasetDescriptor:
        return DatasetDescriptor(id="missing-dataset", locator=self.missing_locator)

    def test_is_a_source(self, source: SourceConnector) -> None:
        assert isinstance(source, SourceConnector)
        assert source.kind and source.kind == source.kind.lower()

    def test_config_exports_json_schema(self, source: SourceConnector) -> None:
        schema = source.Config.model_json_schema()
        assert schema["type"] == "object"
        assert schema.get("additionalProperties") is False, "Config must forbid unknown keys"

    def test_check_passes(self, source: SourceConnector) -> None:
        source.check()

    def test_discover_yields_valid_unique_ids(self, source: SourceConnector) -> None:
        ids = [d.id for d in source.discover()]
        assert ids, "discover() found nothing"
        assert all(DATASET_ID.match(i) for i in ids), ids
        assert len(ids) == len(set(ids)), "discover() yielded duplicate ids"

    def test_extract_writes_parquet_with_matching_row_count(
        self, source: SourceConnector, dataset: DatasetDescriptor, tmp_path: Path
    ) -> None:
        result = source.extract(dataset, tmp_path)
        assert result.path.exists() and result.path.suffix == ".parquet"
        table = pq.read_table(result.path)
        assert table.num_rows == result.rows
        assert result.rows > 0
        if result.geometry:
            assert result.geometry in table.column_names
        DatasetMetadata.model_validate(result.metadata)

    def test_extract_missing_raises_connector_error(
        self, source: SourceConnector, missing_dataset: DatasetDescriptor, tmp_path: Path
    ) -> None:
        with pytest.raises(ConnectorError) as info:
            source.extract(missing_dataset, tmp_path)
        assert not info.value.retryable


class TargetContract:
    """Tests every target must pass. Subclasses provide the fixtures below.

    Fixtures:
        target: a configured target instance.
        publication: a `Publication` of a small dataset with no `previous` state.
    """

    def test_is_a_target(self, target: TargetConnector) -> None:
        assert isinstance(target, TargetConnector)

    def test_config_exports_json_schema(self, target: TargetConnector) -> None:
        schema = target.Config.model_json_schema()
        assert schema.get("additionalProperties") is False, "Config must forbid unknown keys"

    def test_plan_of_new_dataset_is_create(self, target: TargetConnector, publication: Publication) -> None:
        assert target.plan(publication).action == "create"

    def test_publish_then_republish_is_idempotent(
        self, target: TargetConnector, publication: Publication
    ) -> None:
        first = target.publish(publication)
        assert first.status == "created", first
        again = republish(publication, first)
        assert target.plan(again).action == "unchanged"
        second = target.publish(again)
        assert second.status == "unchanged", second
        assert second.remote_id == first.remote_id

    def test_changed_content_updates_in_place(
        self, target: TargetConnector, publication: Publication
    ) -> None:
        first = target.publish(publication)
        changed = republish(publication, first, content_hash=hashlib.sha256(b"other").hexdigest())
        assert target.plan(changed).action == "update"
        second = target.publish(changed)
        assert second.status == "updated"
        assert second.remote_id == first.remote_id, "an update must not create a second dataset"

    def test_archive_keeps_the_dataset(self, target: TargetConnector, publication: Publication) -> None:
        first = target.publish(publication)
        result = target.archive(publication.dataset, state_after(publication, first))
        assert isinstance(result, PublishResult)
        assert result.status == "archived"
        assert result.remote_id == first.remote_id


def state_after(publication: Publication, result: PublishResult) -> RemoteState:
    """The state the store would keep after `result`."""
    return RemoteState(remote_id=result.remote_id, url=result.url, content_hash=publication.content_hash,
                       metadata_hash=publication.metadata_hash, extra=dict(result.extra))


def republish(publication: Publication, result: PublishResult, **changes: Any) -> Publication:
    """The same publication again, with the state `result` left and optional changes."""
    fields = {**publication.__dict__, "previous": state_after(publication, result), **changes}
    return Publication(**fields)
