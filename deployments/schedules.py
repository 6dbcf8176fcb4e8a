"""When each dataset runs: its data.gouv.fr update frequency turned into a Prefect schedule.

Every periodic frequency of `connectors.metadata.FREQUENCIES` has a schedule in the
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

#: Slug of the one schedule moisson puts on a deployment: re-deploying updates it in place.
SLUG = "catalog"

#: The `schedule:` value that turns scheduling off for a dataset.
MANUAL = "manual"

_MINUTE = dt.timedelta(minutes=1)

#: Sub-hourly frequencies: an interval, anchored on the dataset's minute (heavy: use sparingly).
INTERVALS: dict[str, dt.timedelta] = {
    "oneMinute": _MINUTE, "fiveMinutes": 5 * _MINUTE, "tenMinutes": 10 * _MINUTE,
    "fifteenMinutes": 15 * _MINUTE, "thirtyMinutes": 30 * _MINUTE,
}

#: Cron templates; `{m}` is the dataset's minute. Night runs at 03:xx, on Mondays or the 1st.
CRONS: dict[str, str] = {
    "hourly": "{m} * * * *", "bihourly": "{m} */2 * * *", "trihourly": "{m} */3 * * *",
    "severalTimesADay": "{m} */6 * * *", "threeTimesADay": "{m} 3,11,19 * * *",
    "semidaily": "{m} 3,15 * * *", "twelveHours": "{m} 3,15 * * *",
    "daily": "{m} 3 * * *", "fiveTimesAWeek": "{m} 3 * * 1-5", "threeTimesAWeek": "{m} 3 * * 1,3,5",
    "semiweekly": "{m} 3 * * 1,4", "weekly": "{m} 3 * * 1",
    "threeTimesAMonth": "{m} 3 1,11,21 * *", "semimonthly": "{m} 3 1,15 * *", "monthly": "{m} 3 1 * *",
    "bimonthly": "{m} 3 1 */2 *", "quarterly": "{m} 3 1 1,4,7,10 *", "threeTimesAYear": "{m} 3 1 1,5,9 *",
    "semiannual": "{m} 3 1 1,7 *", "annual": "{m} 3 2 1 *",
}

#: What cron cannot say (every other week, every n years): RRULEs anchored on a fixed Monday
#: (2024-01-01) or 2 January, so the same weeks and years are chosen on every machine.
RRULES: dict[str, str] = {
    "biweekly": "DTSTART:20240101T03{m:02d}00\nRRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO",
    **{freq: f"DTSTART:20240102T03{{m:02d}}00\nRRULE:FREQ=YEARLY;INTERVAL={years}"
       for freq, years in (("biennial", 2), ("triennial", 3), ("quadrennial", 4), ("quinquennial", 5),
                           ("decennial", 10), ("bidecennial", 20), ("tridecennial", 30))},
}

#: Frequencies that never schedule a run by themselves.
UNSCHEDULED: frozenset[str] = frozenset(
    {"continuous", "punctual", "irregular", "never", "notPlanned", "other", "unknown"})


def minute_of(dataset_id: str) -> int:
    """The minute (0–59) a dataset starts at: a hash of its id, the same on every machine and run."""
    return int.from_bytes(hashlib.sha256(dataset_id.encode()).digest()[:4], "big") % 60


def check_override(value: str) -> str:
    """Validate an explicit `schedule:` of the catalog (cron, RRULE or `manual`).

    Raises:
        ValueError: Neither; the message shows the three accepted forms.
    """
    value = value.strip()
    if value == MANUAL:
        return value
    try:
        _override(value, "UTC")
    except ValueError as exc:
        raise ValueError(f"schedule {value!r} is not a cron expression (like '30 6 * * 1-5'), an RRULE "
                         f"(like 'FREQ=WEEKLY;INTERVAL=2;BYDAY=TU') or 'manual': {exc}") from None
    return value


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
    if frequency is None or frequency in UNSCHEDULED:
        return None
    m = minute_of(dataset_id)
    if frequency in INTERVALS:
        every = INTERVALS[frequency]
        anchor = dt.datetime(2024, 1, 1, tzinfo=ZoneInfo(timezone)) + (m * _MINUTE) % every
        return Interval(every, anchor_date=anchor, timezone=timezone, slug=SLUG)
    if frequency in CRONS:
        return Cron(CRONS[frequency].format(m=m), timezone=timezone, slug=SLUG)
    if frequency in RRULES:
        return RRule(RRULES[frequency].format(m=m), timezone=timezone, slug=SLUG)
    raise ValueError(f"unknown update frequency {frequency!r}")


def describe(schedule: Schedule | None) -> str:
    """One line for people: `cron 17 3 1 * * (Europe/Paris)`, `every 0:15:00`, or `manual`."""
    if schedule is None:
        return MANUAL
    if schedule.cron is not None:
        what = f"cron {schedule.cron}"
    elif schedule.rrule is not None:
        what = "rrule " + schedule.rrule.replace("\n", " ")
    else:
        what = f"every {schedule.interval}"
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
