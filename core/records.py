"""What the state store remembers: a dataset on a target, a record of a catalog source."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RemoteState:
    """What the state store remembers of a dataset on one target."""

    remote_id: str | None = None
    url: str | None = None
    content_hash: str | None = None
    metadata_hash: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RecordState:
    """What the state store remembers of one record of a catalog source (CSW).

    Attributes:
        record_id: The record's identifier in its catalog (`gmd:fileIdentifier`).
        datestamp: Its change date as the catalog last gave it.
        record_hash: sha256 of the canonical record, for catalogs whose dates lie.
        last_seen: When a listing or a fetch last saw it.
        missing_since: First complete listing that no longer had it (None while present).
    """

    record_id: str
    datestamp: str | None
    record_hash: str | None
    last_seen: dt.datetime | None
    missing_since: dt.datetime | None
