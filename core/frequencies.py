"""Update frequencies: the one table of data.gouv.fr ids with their label, EU code, period and schedule.

Every layer reads this table: the catalog validates ids against it, the local portal and
the DCAT catalog show its labels and EU codes, Opendatasoft gets its EU code, the
deployments turn its schedule templates into Prefect schedules, and `is_due` uses its periods
(udata's `UpdateFrequency.delta`, the "up to date" signal of data.gouv.fr).

Schedules run at night (03:xx, Mondays or the 1st) in the catalog's time zone; `{m}` is the
dataset's minute, from a hash of its id. A template starting with `DTSTART` is an RRULE (what
cron cannot say: every other week, every n years, anchored on fixed dates so that every machine
picks the same weeks); `every` is an interval for sub-hourly frequencies.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

import cronsim
from dateutil import rrule

from moisson.core.suggest import did_you_mean

_MIN, _HOUR, _DAY = dt.timedelta(minutes=1), dt.timedelta(hours=1), dt.timedelta(days=1)


class Frequency(NamedTuple):
    """One data.gouv.fr update frequency.

    Attributes:
        id: data.gouv.fr id (udata `UpdateFrequency`).
        label: French label, as it reads after "Mise à jour :".
        eu: EU frequency authority code (the inverse of udata's `EUFREQ_TERM_TO_UDATA`).
        period: How long a version stays up to date; None for frequencies without a period.
        schedule: Cron or RRULE template of the night run; None when it never runs by itself.
        every: Interval of a sub-hourly frequency (then `schedule` is None).
    """

    id: str
    label: str
    eu: str
    period: dt.timedelta | None = None
    schedule: str | None = None
    every: dt.timedelta | None = None


def _years(n: int) -> str:
    return f"DTSTART:20240102T03{{m:02d}}00\nRRULE:FREQ=YEARLY;INTERVAL={n}"


#: The 40 frequencies of data.gouv.fr, in udata's order.
TABLE: tuple[Frequency, ...] = (
    Frequency("continuous", "en continu", "UPDATE_CONT", _MIN),
    Frequency("oneMinute", "toutes les minutes", "1MIN", _MIN, every=_MIN),
    Frequency("fiveMinutes", "toutes les 5 minutes", "5MIN", 5 * _MIN, every=5 * _MIN),
    Frequency("tenMinutes", "toutes les 10 minutes", "10MIN", 10 * _MIN, every=10 * _MIN),
    Frequency("fifteenMinutes", "toutes les 15 minutes", "15MIN", 15 * _MIN, every=15 * _MIN),
    Frequency("thirtyMinutes", "toutes les 30 minutes", "30MIN", 30 * _MIN, every=30 * _MIN),
    Frequency("hourly", "toutes les heures", "HOURLY", _HOUR, "{m} * * * *"),
    Frequency("bihourly", "toutes les 2 heures", "BIHOURLY", 2 * _HOUR, "{m} */2 * * *"),
    Frequency("trihourly", "toutes les 3 heures", "TRIHOURLY", 3 * _HOUR, "{m} */3 * * *"),
    Frequency("twelveHours", "toutes les 12 heures", "12HRS", 12 * _HOUR, "{m} 3,15 * * *"),
    Frequency("severalTimesADay", "plusieurs fois par jour", "CONT", 6 * _HOUR, "{m} */6 * * *"),
    Frequency("threeTimesADay", "3 fois par jour", "DAILY_3", 8 * _HOUR, "{m} 3,11,19 * * *"),
    Frequency("semidaily", "2 fois par jour", "DAILY_2", 12 * _HOUR, "{m} 3,15 * * *"),
    Frequency("daily", "quotidienne", "DAILY", _DAY, "{m} 3 * * *"),
    Frequency("fiveTimesAWeek", "5 fois par semaine", "WEEKLY_5", _DAY, "{m} 3 * * 1-5"),
    Frequency("threeTimesAWeek", "3 fois par semaine", "WEEKLY_3", 2 * _DAY, "{m} 3 * * 1,3,5"),
    Frequency("semiweekly", "2 fois par semaine", "WEEKLY_2", 3 * _DAY, "{m} 3 * * 1,4"),
    Frequency("weekly", "hebdomadaire", "WEEKLY", 7 * _DAY, "{m} 3 * * 1"),
    Frequency("biweekly", "toutes les 2 semaines", "BIWEEKLY", 14 * _DAY,
              "DTSTART:20240101T03{m:02d}00\nRRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO"),
    Frequency("threeTimesAMonth", "3 fois par mois", "MONTHLY_3", 10 * _DAY, "{m} 3 1,11,21 * *"),
    Frequency("semimonthly", "2 fois par mois", "MONTHLY_2", 15 * _DAY, "{m} 3 1,15 * *"),
    Frequency("monthly", "mensuelle", "MONTHLY", 30 * _DAY, "{m} 3 1 * *"),
    Frequency("bimonthly", "bimestrielle", "BIMONTHLY", 61 * _DAY, "{m} 3 1 */2 *"),
    Frequency("quarterly", "trimestrielle", "QUARTERLY", 91 * _DAY, "{m} 3 1 1,4,7,10 *"),
    Frequency("threeTimesAYear", "3 fois par an", "ANNUAL_3", 122 * _DAY, "{m} 3 1 1,5,9 *"),
    Frequency("semiannual", "semestrielle", "ANNUAL_2", 182 * _DAY, "{m} 3 1 1,7 *"),
    Frequency("annual", "annuelle", "ANNUAL", 365 * _DAY, "{m} 3 2 1 *"),
    Frequency("biennial", "tous les 2 ans", "BIENNIAL", 730 * _DAY, _years(2)),
    Frequency("triennial", "tous les 3 ans", "TRIENNIAL", 1095 * _DAY, _years(3)),
    Frequency("quadrennial", "tous les 4 ans", "QUADRENNIAL", 1461 * _DAY, _years(4)),
    Frequency("quinquennial", "tous les 5 ans", "QUINQUENNIAL", 1826 * _DAY, _years(5)),
    Frequency("decennial", "tous les 10 ans", "DECENNIAL", 3652 * _DAY, _years(10)),
    Frequency("bidecennial", "tous les 20 ans", "BIDECENNIAL", 7305 * _DAY, _years(20)),
    Frequency("tridecennial", "tous les 30 ans", "TRIDECENNIAL", 10957 * _DAY, _years(30)),
    Frequency("punctual", "ponctuelle", "AS_NEEDED"),
    Frequency("irregular", "irrégulière", "IRREG"),
    Frequency("never", "aucune", "NEVER"),
    Frequency("notPlanned", "non planifiée", "NOT_PLANNED"),
    Frequency("other", "autre", "OTHER"),
    Frequency("unknown", "inconnue", "UNKNOWN"),
)

#: The table by id.
FREQUENCIES: dict[str, Frequency] = {frequency.id: frequency for frequency in TABLE}

#: Legacy ids that udata still accepts and maps.
ALIASES: dict[str, str] = {
    "realtime": "continuous", "fourTimesADay": "severalTimesADay", "fourTimesAWeek": "other",
    "fortnighly": "biweekly", "fortnightly": "biweekly", "biannual": "semiannual",
}

#: Where EU frequency codes live as URIs.
EU_FREQUENCY = "http://publications.europa.eu/resource/authority/frequency/"

#: The `schedule:` value that turns scheduling off for a dataset.
MANUAL = "manual"

#: Share of the period after which a run counts as due: a monthly run at 03:00 must not
#: wait one more month because last month's finished at 03:05.
SLACK = 0.9


def check_frequency(value: str) -> str:
    """Return the data.gouv.fr frequency id for `value` (legacy ids mapped).

    Raises:
        ValueError: Not a data.gouv.fr frequency id.
    """
    value = ALIASES.get(value, value)
    if value not in FREQUENCIES:
        spellings = {f.id: f.id for f in TABLE} | {f.label: f.id for f in TABLE}
        raise ValueError(f"fréquence de mise à jour inconnue {value!r}{did_you_mean(value, spellings)} ; "
                         "utilisez un identifiant data.gouv.fr comme daily, weekly, monthly, quarterly, annual, "
                         "punctual, irregular")
    return value


def check_schedule(value: str) -> str:
    """Validate an explicit `schedule:` of the catalog (cron, RRULE or `manual`) without Prefect.

    Raises:
        ValueError: Neither; the message shows the three accepted forms.
    """
    value = value.strip()
    if value == MANUAL:
        return value
    try:
        if value.startswith(("FREQ=", "RRULE:", "DTSTART")):
            rrule.rrulestr(value)
        else:
            cronsim.CronSim(value, dt.datetime(2024, 1, 1))
    except (ValueError, cronsim.CronSimError) as exc:
        raise ValueError(f"le calendrier `schedule` {value!r} n'est ni une expression cron (comme '30 6 * * 1-5'), "
                         f"ni une RRULE (comme 'FREQ=WEEKLY;INTERVAL=2;BYDAY=TU'), ni 'manual' : {exc}") from None
    return value


def label(frequency: str) -> str:
    """The French label of a frequency id (the id itself when unknown)."""
    known = FREQUENCIES.get(frequency)
    return known.label if known else frequency


def eu_uri(frequency: str | None) -> str | None:
    """The EU frequency URI of a data.gouv.fr frequency id, or None when unset or unknown."""
    known = FREQUENCIES.get(frequency or "")
    return EU_FREQUENCY + known.eu if known else None


def is_due(frequency: str | None, last_success: dt.datetime | None, now: dt.datetime | None = None) -> bool:
    """True when a dataset should run now: never succeeded, or its period has (nearly) elapsed."""
    if last_success is None:
        return True
    known = FREQUENCIES.get(frequency or "")
    if known is None or known.period is None:
        return False
    now = now or dt.datetime.now(dt.UTC)
    return now - last_success >= known.period * SLACK
