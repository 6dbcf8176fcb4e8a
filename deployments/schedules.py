"""When each dataset runs: its data.gouv.fr update frequency turned into a Prefect schedule.

Every periodic frequency of `moisson.core.frequencies.TABLE` has a schedule in the
catalog's time zone (Europe/Paris by default; cron follows wall-clock time across DST).
Datasets run at night (03:00) so that a hundred of them do not hit the sources during
office hours, and the minute comes from a stable hash of the dataset id so they do not
all start at 03:00:00 either. Frequencies without a period (`punctual`, `irregular`,
`unknown`…) get no schedule: such datasets run by hand or from an explicit `schedule:`.

An explicit `schedule:` in the catalog wins: a cron expression (`30 6 * * 1-5`), an
iCalendar RRULE (`FREQ=WEEKLY;INTERVAL=2;BYDAY=TU`) or `manual` (no schedule at all).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from zoneinfo import ZoneInfo

from prefect.deployments.schedules import create_deployment_schedule_create
from prefect.schedules import Cron, Interval, RRule, Schedule
from prefect.server.schemas import schedules as server_schedules

from moisson.core.frequencies import FREQUENCIES, MANUAL

#: Slug of the one schedule moisson puts on a deployment: re-deploying updates it in place.
SLUG = "catalog"


_MINUTE = dt.timedelta(minutes=1)


def minute_of(dataset_id: str) -> int:
    """The minute (0–59) a dataset starts at: a hash of its id, the same on every machine and run."""
    return int.from_bytes(hashlib.sha256(dataset_id.encode()).digest()[:4], "big") % 60


def _override(value: str, timezone: str) -> Schedule:
    if value.startswith(("FREQ=", "RRULE:", "DTSTART")):
        return RRule(value, timezone=timezone, slug=SLUG)
    return Cron(value, timezone=timezone, slug=SLUG)


def schedule_for(dataset_id: str, frequency: str | None, override: str | None = None,
                 timezone: str = "Europe/Paris") -> Schedule | None:
    """The schedule of one dataset, or None when it only runs on demand.

    Args:
        dataset_id: Dataset id; its hash sets the start minute.
        frequency: data.gouv.fr frequency id (already validated by the catalog).
        override: Explicit `schedule:` of the catalog: cron, RRULE or `manual`.
        timezone: IANA time zone the schedule follows.

    Raises:
        ValueError: `frequency` is not a data.gouv.fr id (the catalog refuses those first).
    """
    if override is not None:
        return None if override.strip() == MANUAL else _override(override.strip(), timezone)
    if frequency is None:
        return None
    if frequency not in FREQUENCIES:
        raise ValueError(f"unknown update frequency {frequency!r}")
    known, m = FREQUENCIES[frequency], minute_of(dataset_id)
    if known.every is not None:
        anchor = dt.datetime(2024, 1, 1, tzinfo=ZoneInfo(timezone)) + (m * _MINUTE) % known.every
        return Interval(known.every, anchor_date=anchor, timezone=timezone, slug=SLUG)
    if known.schedule is None:
        return None
    template = known.schedule.format(m=m)
    if template.startswith("DTSTART"):
        return RRule(template, timezone=timezone, slug=SLUG)
    return Cron(template, timezone=timezone, slug=SLUG)


def describe(schedule: Schedule | None) -> str:
    """One line for people: `cron 17 3 1 * * (Europe/Paris)`, `toutes les 0:15:00`, or `manual` (the catalog's word)."""
    if schedule is None:
        return MANUAL
    if schedule.cron is not None:
        what = f"cron {schedule.cron}"
    elif schedule.rrule is not None:
        what = "rrule " + schedule.rrule.replace("\n", " ")
    else:
        what = f"toutes les {schedule.interval}"
    return f"{what} ({schedule.timezone})"


def next_runs(schedule: Schedule | None, n: int = 3, after: dt.datetime | None = None) -> list[dt.datetime]:
    """The next `n` run times, computed offline by the Prefect server's own schedule code."""
    if schedule is None:
        return []
    client_side = create_deployment_schedule_create(schedule).schedule
    kind = {"cron": server_schedules.CronSchedule, "rrule": server_schedules.RRuleSchedule}.get(
        "cron" if schedule.cron else "rrule" if schedule.rrule else "", server_schedules.IntervalSchedule)
    server_side = kind.model_validate(client_side.model_dump())
    return list(asyncio.run(server_side.get_dates(n=n, start=after)))
