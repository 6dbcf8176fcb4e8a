"""A third-party record source, as a plugin author would write one: records from a JSON file, no moisson internals.

It implements `RecordSource` (harvest + descriptor) and the plain source methods, and is loaded
by dotted path, so discovery, collections and the discovery deployment must work for it with
no change in moisson.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from moisson.connectors.base import ConnectorConfig, DatasetDescriptor, Extract
from moisson.connectors.records import Harvest, Seen, reconcile
from moisson.core.ids import record_dataset_id
from moisson.core.metadata import DatasetMetadata
from moisson.core.records import RecordState


class JsonRecordSource:
    """Records of a JSON file `{id: {"title": …, "rows": [...]}}`; each record is one dataset."""

    kind = "json-records"

    class Config(ConnectorConfig):
        path: Path

    def __init__(self, config: Config) -> None:
        self.config = config

    def _records(self) -> dict[str, dict[str, Any]]:
        return json.loads(self.config.path.read_text(encoding="utf-8"))

    def check(self) -> None:
        self._records()

    def discover(self) -> Iterator[DatasetDescriptor]:
        for record_id, record in self._records().items():
            yield self.descriptor(record_id, record)

    def descriptor(self, record_id: str, record: Any) -> DatasetDescriptor:
        return DatasetDescriptor(id=record_dataset_id(record_id), locator={"record": record_id},
                                 metadata=DatasetMetadata(title=record["title"]))

    def harvest(self, known: Mapping[str, RecordState], *, full: bool | None = None) -> Harvest:
        records = self._records()
        seen = {rid: Seen(rid, None, hashlib.sha256(json.dumps(r, sort_keys=True).encode()).hexdigest())
                for rid, r in records.items()}
        changes = reconcile(known, seen, listed_all=True, complete=True, now=dt.datetime.now(dt.UTC),
                            grace=dt.timedelta(0), max_share=1.0)
        return Harvest(mode="full", matched=len(records), collected=len(records), complete=True,
                       changes=changes, records=records)

    def extract(self, dataset: DatasetDescriptor, dest: Path) -> Extract:
        record = self._records()[dataset.locator["record"]]
        path = dest / f"{dataset.id}.parquet"
        pq.write_table(pa.Table.from_pylist(record["rows"]), path)
        return Extract(path=path, rows=len(record["rows"]), metadata={"title": record["title"]})
