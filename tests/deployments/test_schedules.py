"""Every data.gouv.fr frequency id maps to a schedule whose runs are as far apart as the frequency says."""

from __future__ import annotations

import datetime as dt
import textwrap
from zoneinfo import ZoneInfo

import pytest

from moisson.catalog.model import load_catalog
from moisson.core.errors import CatalogError
from moisson.core.frequencies import FREQUENCIES
from moisson.deployments.schedules import describe, minute_of, next_runs, schedule_for

PARIS = ZoneInfo("Europe/Paris")
AFTER = dt.datetime(2026, 1, 5, 12, 0, tzinfo=PARIS)


@pytest.mark.parametrize("frequency", FREQUENCIES)
def test_every_frequency_has_the_right_rhythm(frequency):
    schedule = schedule_for("equipements-sportifs", frequency)
    known = FREQUENCIES[frequency]
    if known.schedule is None and known.every is None:
        assert known.id in {"continuous", "punctual", "irregular", "never", "notPlanned", "other", "unknown"}
        assert schedule is None and describe(schedule) == "manual"
        assert next_runs(schedule) == []
        return
    assert schedule is not None and schedule.timezone == "Europe/Paris" and schedule.slug == "catalog"
    period = known.period
    n = 4 if period >= dt.timedelta(days=365) else 25
    runs = next_runs(schedule, n=n, after=AFTER)
    assert len(runs) == n and runs == sorted(runs) and runs[0] >= AFTER
    mean_gap = (runs[-1] - runs[0]) / (n - 1)
    # Calendar rhythms are uneven (1st/11th/21st, Mon/Thu), but never faster than the frequency promises.
    assert 0.9 * period <= mean_gap <= 1.5 * period, (frequency, mean_gap, period)
    if period >= dt.timedelta(hours=1):
        minute = minute_of("equipements-sportifs")
        assert {r.astimezone(PARIS).minute for r in runs} == {minute}
    if period >= dt.timedelta(days=1):
        assert {r.astimezone(PARIS).hour for r in runs} == {3}, "daily and slower runs happen at night"


def test_minutes_are_stable_and_spread():
    ids = [f"jeu-{i}" for i in range(200)]
    minutes = [minute_of(i) for i in ids]
    assert minutes == [minute_of(i) for i in ids]
    assert len(set(minutes)) > 45, "two hundred datasets must not all start in the same few minutes"
    assert schedule_for("jeu-7", "daily").cron == f"{minute_of('jeu-7')} 3 * * *"


def test_wall_clock_time_across_daylight_saving():
    runs = next_runs(schedule_for("x", "daily"), n=3, after=dt.datetime(2026, 3, 27, 12, tzinfo=PARIS))
    assert [r.astimezone(PARIS).hour for r in runs] == [3, 3, 3]
    assert runs[1].utcoffset() != runs[0].utcoffset() or runs[2].utcoffset() != runs[1].utcoffset()


def test_explicit_schedule_wins():
    cron = schedule_for("x", "monthly", override="30 6 * * 1-5")
    assert cron.cron == "30 6 * * 1-5"
    rrule = schedule_for("x", None, override="FREQ=WEEKLY;INTERVAL=2;BYDAY=TU", timezone="America/Cayenne")
    assert rrule.rrule and rrule.timezone == "America/Cayenne"
    assert next_runs(rrule, 1, after=AFTER)[0].astimezone(ZoneInfo("America/Cayenne")).weekday() == 1
    assert schedule_for("x", "daily", override="manual") is None


def test_catalog_refuses_a_bad_schedule_with_its_line(tmp_path):
    path = tmp_path / "catalog.yaml"
    path.write_text(textwrap.dedent("""\
        version: 1
        sources: {s: {connector: "tests.fakes.connectors:MemorySource"}}
        datasets:
          - id: a
            source: s
            schedule: "every tuesday"
        """), encoding="utf-8")
    with pytest.raises(CatalogError) as caught:
        load_catalog(path)
    message = str(caught.value)
    assert ":6" in message and "datasets[0].schedule" in message and "expression cron" in message
