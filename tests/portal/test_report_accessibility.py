"""The quality report pages in headless chromium, opened from `file://`: axe-core (RGAA) and the map's drawing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.portal.test_pages import ARTIFACTS, AXE, axe_violations, visit
from tests.quality.test_report import blocked_report, geographic_report
from tests.server.browser import chromium


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, Any]:
    if not AXE.is_file():
        pytest.skip(f"axe-core missing at {AXE}: run scripts/web-assets")
    root = tmp_path_factory.mktemp("rapports")
    return {"bloque": blocked_report(root / "bloque"), "carte": geographic_report(root / "carte"),
            "english": blocked_report(root / "english", lang="en")}


@pytest.fixture(scope="module")
def browser(reports, tmp_path_factory) -> Any:
    with chromium("about:blank", tmp_path_factory.mktemp("profile")) as page:
        yield page


@pytest.mark.parametrize("name", ["bloque", "carte", "english"])
def test_report_has_no_serious_accessibility_violation(reports, browser, name):
    result = reports[name]
    visit(browser, Path(result.report_html).as_uri())
    assert browser.evaluate("document.documentElement.lang") == result.lang
    # Every section is there and the disclosure opens (the technical details stay reachable).
    browser.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    assert browser.evaluate("document.querySelector('details.technique table tbody tr') !== null")
    if name == "carte":
        drawn = browser.evaluate("document.querySelectorAll('figure svg circle').length")
        assert drawn == len(result.points.flagged) == 2
        # The circles lie inside the drawing (a point outside the viewBox would be invisible).
        inside = browser.evaluate(
            "(() => { const box = document.querySelector('figure svg').getBoundingClientRect();"
            " return Array.from(document.querySelectorAll('figure svg circle')).every(c => {"
            " const r = c.getBoundingClientRect(); return r.left >= box.left && r.right <= box.right"
            " && r.top >= box.top && r.bottom <= box.bottom; }); })()")
        assert inside
        browser.evaluate("document.querySelector('figure').scrollIntoView()")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        browser.screenshot(ARTIFACTS / "rapport-qualite-carte.png")
    assert axe_violations(browser) == []
