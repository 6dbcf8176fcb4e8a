"""Connectors loaded by dotted path in tests (`tests.fakes.connectors:MemorySource`)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import Field

from moisson.connectors.base import ConnectorConfig, DatasetDescriptor, Extract, Plan, Publication, PublishResult
from moisson.core.records import RemoteState
from moisson.core.secrets import Secret, reveal


class MemorySource:
    """A source whose rows are given in its config; `token` checks secret resolution.

    With `gate`, `extract` waits until that file exists, so a test holds a run in Running as long as it needs.
    """

    kind = "memory"

    class Config(ConnectorConfig):
        rows: list[dict[str, str | None]] = Field(default_factory=list)
        token: Secret | None = None
        folder: Path | None = None
        gate: Path | None = None
        timeout: float | None = None

    def __init__(self, config: Config) -> None:
        self.config = config

    def check(self) -> None:
        if self.config.token is not None:
            reveal(self.config.token, what="token")

    def discover(self) -> Iterator[DatasetDescriptor]:
        yield DatasetDescriptor(id="memory", locator={})

    def extract(self, dataset: DatasetDescriptor, dest: Path) -> Extract:
        if self.config.gate is not None:
            opened_by = time.monotonic() + 300  # a forgotten gate must not hang the suite
            while not self.config.gate.exists() and time.monotonic() < opened_by:
                time.sleep(0.1)
        path = dest / f"{dataset.id}.parquet"
        empty = pa.table({"a": pa.array([], pa.string())})
        table = pa.Table.from_pylist(self.config.rows) if self.config.rows else empty
        pq.write_table(table, path)
        return Extract(path=path, rows=table.num_rows)


class MemoryTarget:
    """A target that remembers publications in a class-level dict (for flow tests)."""

    kind = "memory"
    published: ClassVar[dict[str, Publication]] = {}

    class Config(ConnectorConfig):
        name: str = "memory"

    def __init__(self, config: Config) -> None:
        self.config = config

    def plan(self, publication: Publication) -> Plan:
        if publication.unchanged:
            return Plan("unchanged")
        return Plan("update" if publication.previous else "create")

    def publish(self, publication: Publication) -> PublishResult:
        if publication.unchanged:
            return PublishResult("unchanged", publication.previous.remote_id)
        self.published[publication.dataset.id] = publication
        status = "updated" if publication.previous else "created"
        return PublishResult(status, remote_id=f"mem-{publication.dataset.id}", url=f"memory://{publication.dataset.id}")

    def archive(self, dataset: DatasetDescriptor, previous: RemoteState) -> PublishResult:
        return PublishResult("archived", remote_id=previous.remote_id)
