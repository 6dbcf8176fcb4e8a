"""The demo portal in headless chromium: search, preview, map, charts, blocked page, keyboard, axe-core (RGAA)."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import rdflib
from rdflib.compare import isomorphic

from tests.data import REPO
from tests.peers.process import free_port
from tests.portal.demo import BLOCKED, run_demo
from tests.portal.serving import serving
from tests.server.browser import Page, chromium

AXE = REPO / ".peers" / "web" / "axe-core-4.14.1" / "axe.min.js"
#: Screenshots for a person to look at (git-ignored); CI keeps them as artifacts.
ARTIFACTS = Path(os.environ.get("MOISSON_TEST_ARTIFACTS") or REPO / "tests" / "artifacts")
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
PAGES = ("equipements-publics", "stationnements-velos", BLOCKED)


@pytest.fixture(scope="module")
def served(tmp_path_factory, prefect_server) -> Any:
    """The demo portal, rendered by a real run, served where its catalog says it lives."""
    if not AXE.is_file():
        pytest.skip(f"axe-core missing at {AXE}: run scripts/web-assets")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}/"
    portal = run_demo(tmp_path_factory.mktemp("demo"), base_url)
    with serving(portal, port) as url:
        assert url == base_url
        yield portal, url


@pytest.fixture(scope="module")
def browser(served, tmp_path_factory) -> Any:
    with chromium("about:blank", tmp_path_factory.mktemp("profile")) as page:
        yield page


def visit(page: Page, url: str) -> None:
    page.call("Page.navigate", url=url)
    page.wait_for(f"location.href === {json.dumps(url)} && document.readyState === 'complete' "
                  "&& !!document.querySelector('footer')")


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Serious and critical WCAG 2.1 A/AA violations found by axe-core on the current page."""
    page.call("Runtime.evaluate", expression=AXE.read_text(encoding="utf-8"))
    found = page.call("Runtime.evaluate", awaitPromise=True, returnByValue=True, expression=(
        f"axe.run(document, {{runOnly: {{type: 'tag', values: {json.dumps(WCAG_AA)}}}}}).then(r => r.violations"
        ".map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)})))"))
    return [v for v in found["result"]["value"] if v["impact"] in ("serious", "critical")]


def key(page: Page, name: str, code: int) -> None:
    for kind in ("keyDown", "keyUp"):
        page.call("Input.dispatchKeyEvent", type=kind, key=name, code=name, windowsVirtualKeyCode=code)


def shown(page: Page) -> list[str]:
    return page.evaluate("Array.from(document.querySelectorAll('#jeux > li:not([hidden]) h3')).map(h => h.innerText)")


def geometries(portal: Path, dataset_id: str) -> int:
    """Features with a geometry in the map's data (the GeoJSON, or the points of the coordinate columns)."""
    text = (portal / dataset_id / "carte.js").read_text(encoding="utf-8")
    features = json.loads(text.removeprefix("window.moissonCarte = ").rstrip().removesuffix(";"))["features"]
    return sum(1 for f in features if f["geometry"])


@pytest.mark.parametrize("origin", ["file", "http"])
def test_index_search_filters_by_keyword_theme_producer_and_schema(served, browser, origin):
    portal, url = served
    visit(browser, (portal / "index.html").as_uri() if origin == "file" else url + "index.html")
    everything = shown(browser)
    assert len(everything) == 3, "salles-a-louer was blocked at its first run: never published"
    assert browser.evaluate("document.getElementById('compte').innerText") == "3 jeux de données affichés sur 3"
    browser.evaluate("document.getElementById('f-q').focus()")
    browser.call("Input.insertText", text="velo")  # no accent typed: the search folds them
    assert shown(browser) == ["Stationnements vélos de Moisson-sur-Lys"]
    assert browser.evaluate("document.getElementById('compte').innerText") == "1 jeu de données affiché sur 3"
    for field, value, expected in (("schema", "scdl/equipements@0.1.5", "Équipements publics de Moisson-sur-Lys"),
                                   ("theme", "Administration", "Délibérations du conseil municipal"),
                                   ("producteur", "Secrétariat général", "Délibérations du conseil municipal")):
        browser.evaluate("document.getElementById('recherche').reset()")
        browser.wait_for("document.querySelectorAll('#jeux > li:not([hidden])').length === 3")
        browser.evaluate(f"(s => {{ s.value = {json.dumps(value)}; s.dispatchEvent(new Event('change', "
                         f"{{bubbles: true}})); }})(document.getElementById('f-{field}'))")
        assert shown(browser) == [expected], field
    if origin == "file":
        browser.evaluate("document.getElementById('recherche').reset()")
        browser.wait_for("document.querySelectorAll('#jeux > li:not([hidden])').length === 3")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        browser.screenshot(ARTIFACTS / "portail-accueil.png")


@pytest.mark.parametrize("dataset_id", PAGES)
def test_dataset_page_shows_preview_map_and_charts(served, browser, dataset_id):
    portal, url = served
    visit(browser, f"{url}{dataset_id}/index.html")
    package = json.loads((portal / dataset_id / "datapackage.json").read_text(encoding="utf-8"))
    rows = package["moisson"]["rows"]
    assert browser.evaluate("document.documentElement.lang") == "fr"
    assert browser.evaluate("document.querySelectorAll('table.apercu tbody tr').length") == min(50, rows)
    fields = package["resources"][0]["schema"]["fields"]
    headers = browser.evaluate("Array.from(document.querySelectorAll('table.apercu th')).map(t => t.innerText)")
    assert len(headers) == len([f for f in fields if f["name"] != "geometry"])
    for field in fields:
        if field.get("title"):
            assert any(h.startswith(field["title"]) for h in headers), "the schema's field titles head the columns"
    links = browser.evaluate("Array.from(document.querySelectorAll('a[download]'))"
                             ".map(a => [a.getAttribute('href'), a.parentElement.innerText])")
    assert {href for href, _ in links} >= {r["path"] for r in package["resources"]}
    assert all(("CSV" in text or "GEOJSON" in text) and ("ko" in text or "octets" in text) for _, text in links)
    if dataset_id == BLOCKED:
        assert not browser.evaluate("!!document.getElementById('carte')"), "no coordinates, no map"
    else:
        browser.wait_for("!!window.moissonCouche")
        assert browser.evaluate("window.moissonCouche.getLayers().length") == geometries(portal, dataset_id)
        assert browser.evaluate("document.querySelector('#carte').getAttribute('aria-label')").startswith("Carte")
        assert browser.evaluate("document.querySelectorAll('details table tbody tr').length") >= 1, "map as a table"
        if dataset_id == "stationnements-velos":
            browser.evaluate("document.getElementById('carte').scrollIntoView()")
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            browser.screenshot(ARTIFACTS / "portail-jeu-geographique.png")
        browser.evaluate("window.moissonCouche.getLayers()[0].openPopup() && true")
        popup = browser.wait_for("document.querySelector('.leaflet-popup-content') && "
                                 "document.querySelector('.leaflet-popup-content').innerText")
        assert package["resources"][0]["schema"]["fields"][0]["name"] in popup, "the row's fields in the popup"
    charts = browser.evaluate("Array.from(document.querySelectorAll('svg.graphique title')).map(t => t.textContent)")
    expected = {"equipements-publics": "par valeur de « Thème de classement de l'équipement »",
                "stationnements-velos": "par mois de « date_maj »", BLOCKED: "par mois de « Date de la séance »"}
    assert any(expected[dataset_id] in title for title in charts), charts
    assert axe_violations(browser) == []


def test_map_controls_speak_french(served, browser):
    _, url = served
    visit(browser, url + "stationnements-velos/index.html")
    browser.wait_for("!!window.moissonCouche")
    buttons = browser.evaluate("Array.from(document.querySelectorAll('.leaflet-control-zoom a'))"
                               ".map(a => [a.title, a.getAttribute('aria-label')])")
    assert buttons == [["Zoom avant", "Zoom avant"], ["Zoom arrière", "Zoom arrière"]]
    browser.evaluate("window.moissonCouche.getLayers()[0].openPopup() && true")
    close = browser.wait_for("document.querySelector('.leaflet-popup-close-button') && "
                             "document.querySelector('.leaflet-popup-close-button').getAttribute('aria-label')")
    assert close == "Fermer la fiche"
    assert browser.evaluate("document.querySelector('.leaflet-control-attribution a').title") == \
        "Bibliothèque JavaScript de cartes interactives"
    controls = browser.evaluate("document.getElementById('carte').innerHTML")
    assert not any(english in controls for english in ("Zoom in", "Zoom out", "Close popup", "A JavaScript library"))


def test_index_has_no_serious_accessibility_violation(served, browser):
    _, url = served
    visit(browser, url + "index.html")
    assert axe_violations(browser) == []


def test_blocked_dataset_keeps_its_good_version_and_says_since_when(served, browser):
    portal, url = served
    visit(browser, f"{url}{BLOCKED}/index.html")
    banner = browser.evaluate("document.querySelector('.etat.bloque').innerText")
    since = json.loads((portal / BLOCKED / "datapackage.json").read_text())["moisson"]["blocked"]["since"]
    year, month, day = since[:10].split("-")
    assert f"Dernière version bloquée depuis le {day}/{month}/{year}" in banner
    assert "12 erreurs de qualité" in banner and "les données refusées ne sont pas publiées" in banner
    assert browser.evaluate("document.querySelectorAll('table.apercu tbody tr').length") == 50
    assert browser.evaluate("document.querySelector('table.apercu caption').innerText") == \
        "Les 50 premières lignes sur 120"
    description = browser.evaluate("document.querySelector('.description').innerHTML")
    assert "<strong>délibérations</strong>" in description and "&lt;script&gt;" in description
    assert not browser.evaluate("window.__alerted === true || document.querySelectorAll('.description script').length")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.screenshot(ARTIFACTS / "portail-jeu-bloque.png")
    visit(browser, url + "index.html")
    assert "dernière version bloquée" in browser.evaluate("document.getElementById('jeux').innerText")


def test_keyboard_reaches_the_content_the_search_and_the_map(served, browser):
    _, url = served
    visit(browser, url + "index.html")
    key(browser, "Tab", 9)
    assert browser.evaluate("document.activeElement.innerText") == "Aller au contenu"
    key(browser, "Enter", 13)
    browser.wait_for("document.activeElement.id === 'contenu'")
    for _ in range(10):
        key(browser, "Tab", 9)
        if browser.evaluate("document.activeElement.id") == "f-q":
            break
    assert browser.evaluate("document.activeElement.id") == "f-q", "the search field is reachable by keyboard"
    visit(browser, url + "stationnements-velos/index.html")
    for _ in range(60):
        key(browser, "Tab", 9)
        if browser.evaluate("document.activeElement.id") == "carte":
            break
    assert browser.evaluate("document.activeElement.id") == "carte", "the map takes the focus (arrows pan it)"
    centre = browser.evaluate("JSON.stringify(window.moissonCouche._map.getCenter())")
    key(browser, "ArrowRight", 39)
    browser.wait_for(f"JSON.stringify(window.moissonCouche._map.getCenter()) !== {json.dumps(centre)}")


def test_feed_and_turtle_catalog_list_the_published_datasets(served):
    portal, url = served
    feed = ET.parse(portal / "feed.atom").getroot()
    atom = "{http://www.w3.org/2005/Atom}"
    entries = feed.findall(f"{atom}entry")
    assert sorted(e.find(f"{atom}title").text for e in entries) == [
        "Délibérations du conseil municipal", "Stationnements vélos de Moisson-sur-Lys",
        "Équipements publics de Moisson-sur-Lys"]
    assert all(e.find(f"{atom}id").text.startswith(url) for e in entries)
    turtle = rdflib.Graph().parse(portal / "catalog.ttl", format="turtle")
    jsonld = rdflib.Graph().parse(portal / "catalog.jsonld", format="json-ld")
    assert len(turtle) == len(jsonld) > 100
    assert isomorphic(turtle, jsonld)
