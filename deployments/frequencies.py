"""How long each data.gouv.fr update frequency lasts, and whether a dataset is due.

The deltas follow udata's `UpdateFrequency.delta` (the "up to date" signal of data.gouv.fr):
a dataset is due when its last successful run is older than its frequency. Frequencies
without a period (punctual, irregular, unknown…) are never due on their own.
"""

from __future__ import annotations

import datetime as dt

_MIN, _HOUR, _DAY = dt.timedelta(minutes=1), dt.timedelta(hours=1), dt.timedelta(days=1)

DELTAS: dict[str, dt.timedelta] = {
    "continuous": _MIN, "oneMinute": _MIN, "fiveMinutes": 5 * _MIN, "tenMinutes": 10 * _MIN,
    "fifteenMinutes": 15 * _MIN, "thirtyMinutes": 30 * _MIN, "hourly": _HOUR, "bihourly": 2 * _HOUR,
    "trihourly": 3 * _HOUR, "twelveHours": 12 * _HOUR, "severalTimesADay": 6 * _HOUR,
    "threeTimesADay": 8 * _HOUR, "semidaily": 12 * _HOUR, "daily": _DAY, "fiveTimesAWeek": _DAY,
    "threeTimesAWeek": 2 * _DAY, "semiweekly": 3 * _DAY, "weekly": 7 * _DAY, "biweekly": 14 * _DAY,
    "threeTimesAMonth": 10 * _DAY, "semimonthly": 15 * _DAY, "monthly": 30 * _DAY,
    "bimonthly": 61 * _DAY, "quarterly": 91 * _DAY, "threeTimesAYear": 122 * _DAY,
    "semiannual": 182 * _DAY, "annual": 365 * _DAY, "biennial": 730 * _DAY, "triennial": 1095 * _DAY,
    "quadrennial": 1461 * _DAY, "quinquennial": 1826 * _DAY, "decennial": 3652 * _DAY,
    "bidecennial": 7305 * _DAY, "tridecennial": 10957 * _DAY,
}

#: Share of the period after which a run counts as due: a monthly run at 03:00 must not
#: wait one more month because last month's finished at 03:05.
SLACK = 0.9


def is_due(frequency: str | None, last_success: dt.datetime | None, now: dt.datetime | None = None) -> bool:
    """True when a dataset should run now: never succeeded, or its period has (nearly) elapsed."""
    if last_success is None:
        return True
    delta = DELTAS.get(frequency or "")
    if delta is None:
        return False
    now = now or dt.datetime.now(dt.UTC)
    return now - last_success >= delta * SLACK
