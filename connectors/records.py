"""Record sources' shared ground: what one harvest found, what changed since the last, what may be archived.

Pure functions over record states: a record is new, changed (its
content hash differs: dates lie), unchanged, or missing. A record is marked missing only
by a complete listing of every identifier; it becomes archivable after a grace period,
and nothing is archived when the run was incomplete or when too large a share of the
catalog would go at once (a catalog answering empty must not empty the portals).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from moisson.core.records import RecordState


@dataclass(frozen=True)
class Seen:
    """A record as this run saw it.

    Attributes:
        record_id: Its identifier.
        datestamp: Its change date in the listing.
        record_hash: Hash of the full record when it was fetched; None when only listed with
            an unchanged date (the stored hash stands).
    """

    record_id: str
    datestamp: str | None
    record_hash: str | None = None


@dataclass
class Changes:
    """The difference between the store and this run, with the record states to save.

    Attributes:
        new: Records never seen before.
        changed: Records whose content hash changed.
        unchanged: Records seen again as they were.
        reappeared: Records marked missing that came back (their mark is cleared).
        missing: Records absent from a complete listing (newly or still).
        archive: Missing records past the grace period that may be archived on the targets.
        held: Why nothing is archived, when deletions were blocked.
        states: Every record state to store after this run.
    """

    new: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    reappeared: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    archive: list[str] = field(default_factory=list)
    held: str | None = None
    states: list[RecordState] = field(default_factory=list)


def reconcile(known: Mapping[str, RecordState], seen: Mapping[str, Seen], *, listed_all: bool, complete: bool,
              now: dt.datetime, grace: dt.timedelta, max_share: float) -> Changes:
    """Compare what this run saw with the store.

    Args:
        known: Record states from the store.
        seen: Records this run listed or fetched.
        listed_all: The run listed every identifier of the catalog (so absence means something).
        complete: That listing was complete: no failed page, no shortfall, no early stop.
        now: Time of the run (UTC).
        grace: How long a record stays missing before it may be archived.
        max_share: Largest share of the known records that may be missing at once and still archived.
    """
    out = Changes()
    for record_id, item in seen.items():
        before = known.get(record_id)
        if before is None:
            out.new.append(record_id)
        elif item.record_hash is not None and item.record_hash != before.record_hash:
            out.changed.append(record_id)
        else:
            out.unchanged.append(record_id)
        if before is not None and before.missing_since is not None:
            out.reappeared.append(record_id)
        out.states.append(RecordState(
            record_id, item.datestamp or (before.datestamp if before else None),
            item.record_hash or (before.record_hash if before else None), now, None))
    judge_absence = listed_all and complete
    for record_id, before in known.items():
        if record_id in seen:
            continue
        if judge_absence:
            out.missing.append(record_id)
            before = RecordState(before.record_id, before.datestamp, before.record_hash, before.last_seen,
                                 before.missing_since or now)
        out.states.append(before)
    if listed_all and not complete:
        out.held = "la liste du catalogue était incomplète : aucune fiche n'a été marquée absente et rien n'est archivé"
    elif out.missing:
        share = len(out.missing) / max(1, len(known))
        due = [s.record_id for s in out.states if s.missing_since is not None and s.missing_since <= now - grace]
        if share > max_share:
            out.held = (f"{len(out.missing)} des {len(known)} fiches connues ({share:.0%}) manquent au catalogue, "
                        f"plus que les {max_share:.0%} admis d'un coup : rien n'est archivé. Si le catalogue les a "
                        "vraiment perdues, relevez `deletion.max_share` le temps d'une exécution")
        else:
            out.archive = due
    return out


@dataclass
class Skipped:
    """A record left out of the harvest, and why (for the report)."""

    record: str
    reason: str


@dataclass
class Harvest:
    """What one harvest of a record source found.

    Attributes:
        mode: `full` (every record fetched and hashed) or `incremental`.
        matched: Records the catalog says match the constraints.
        collected: Distinct records received.
        complete: Every matched record was accounted for (deletions may be judged).
        changes: New, changed, unchanged, missing, archivable records and the states to store.
        records: Records fetched and read this run, by identifier (datasets and kept services), in the
            source's own type (an ISO 19139 record for CSW), handed back to `RecordSource.descriptor`.
        skipped: Records left out, with the reason.
        notes: Paging anomalies and decisions.
        requests: Requests sent, by kind.
    """

    mode: Literal["full", "incremental"]
    matched: int | None
    collected: int
    complete: bool
    changes: Changes
    records: dict[str, Any] = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    requests: Counter[str] = field(default_factory=Counter)
