"""The portal's web pages: an index with client-side search, a page per dataset, an Atom feed.

Everything is static and self-contained (styles, scripts and Leaflet come from the package and
are copied to `_static/`), so the portal works from `file://` and from any web server, offline
too: the map's shapes and the charts are drawn from files next to the page, only the
OpenStreetMap background needs the network. Pages are in French, for RGAA (WCAG 2.1 AA).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import html
import json
import re
import shutil
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import pyarrow.parquet as pq
from markdown_it import MarkdownIt

from moisson.connectors.csvfile import cell_text
from moisson.connectors.targets.local.charts import chart_data, chart_title, period_label, svg
from moisson.connectors.targets.local.dcat import GRANULARITY_FR, link, schema_url
from moisson.connectors.targets.local.geojson import coordinate_columns, degrees, write_points
from moisson.core.frequencies import FREQUENCIES
from moisson.core.frequencies import label as frequency_label
from moisson.core.metadata import LICENSES, DatasetMetadata

STATIC = "_static"
PREVIEW_ROWS = 50
MAP_TABLE_ROWS = 100
VIEW = "vue.json"
MAP_DATA = "carte.js"
SCHEMA_SITE = "https://schema.data.gouv.fr"
#: Name of the `<meta>` that records what a page was rendered from, compared at plan and rebuild time.
SOURCE_META = "moisson-source"
_SOURCE_MARKER = f'<meta name="{SOURCE_META}" content="'
_PAGE_HEAD = 4096

_ZONE_LEVELS_FR = {"commune": "commune", "departement": "département", "region": "région",
                   "epci": "intercommunalité (EPCI)", "arrondissement": "arrondissement",
                   "canton": "canton", "iris": "IRIS", "country": "pays"}
_VERDICTS = {
    "valid": ("valide", "valide : les données respectent toutes les règles contrôlées."),
    "valid-after-normalisation": ("normalise", "valide après normalisation : des valeurs ont été mises "
                                               "au format attendu (dates, nombres, codes) avant publication."),
    "warnings": ("normalise", "publié avec des avertissements : voir le rapport de qualité."),
}
# Raw HTML stays text: a description comes from a CSW record or a catalog, never trusted markup.
_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")
_TAG = re.compile(r"<[^>]+>")


class Portal(NamedTuple):
    """How the portal presents itself."""

    title: str
    publisher: str | None
    base_url: str | None


Entry = tuple[Mapping[str, Any], DatasetMetadata]


# Publication time: what the page shows besides the metadata.


def write_view(data: Path, folder: Path, dataset_id: str, schema: Mapping[str, Any] | None,
               geometry: str | None, dates: frozenset[str]) -> None:
    """Write `vue.json` (preview rows, charts, places for the map's table) and the map's data beside the files.

    The map's data is the published GeoJSON, or, for a table with latitude and longitude
    columns, points made from them.
    """
    parquet = pq.ParquetFile(data)
    names = [n for n in parquet.schema_arrow.names if n != geometry]
    first = next(parquet.iter_batches(batch_size=max(PREVIEW_ROWS, MAP_TABLE_ROWS)), None)
    rows = first.to_pylist() if first is not None else []
    view: dict[str, Any] = {
        "columns": names,
        "preview": [[cell_text(row[n], n in dates) for n in names] for row in rows[:PREVIEW_ROWS]],
        "charts": chart_data(data, schema, geometry),
    }
    geojson = folder / f"{dataset_id}.geojson"
    if geometry and geojson.is_file():
        view["places"] = [[_label(row, names), *_anchor(row[geometry])] for row in rows[:MAP_TABLE_ROWS]
                          if _anchor(row[geometry])]
        _wrap_map_data(geojson, folder / MAP_DATA)
    elif not geometry and (columns := coordinate_columns(data)):
        latitude, longitude = columns
        points = folder / f".{MAP_DATA}.points"
        view["points"] = write_points(data, points, columns, dates)
        view["places"] = [[_label(row, names), degrees(row[longitude]), degrees(row[latitude])]
                          for row in rows[:MAP_TABLE_ROWS]
                          if degrees(row[latitude]) is not None and degrees(row[longitude]) is not None]
        _wrap_map_data(points, folder / MAP_DATA)
        points.unlink()
    (folder / VIEW).write_text(json.dumps(view, ensure_ascii=False, default=str), encoding="utf-8")


def _wrap_map_data(geojson: Path, dest: Path) -> None:
    """Wrap the GeoJSON in a script (`window.moissonCarte = …`): `fetch` is refused from `file://`."""
    with geojson.open("rb") as source, dest.open("wb") as out:
        out.write(b"window.moissonCarte = ")
        shutil.copyfileobj(source, out)
        out.write(b";\n")


def _label(row: Mapping[str, Any], names: Sequence[str]) -> str:
    for name in names:
        if isinstance(row.get(name), str) and row[name].strip():
            return row[name]
    return ""


def _anchor(value: Any) -> list[float]:
    """A position to list for a geometry: the point itself, else its first vertex."""
    try:
        item = (json.loads(value) if isinstance(value, str) else value or {}).get("coordinates")
        while isinstance(item, list) and item and isinstance(item[0], list):
            item = item[0]
        return [round(float(item[0]), 6), round(float(item[1]), 6)] if item else []
    except (ValueError, TypeError, AttributeError, IndexError):
        return []


# Rendering: from what is on disk only.


@functools.cache
def renderer_digest() -> str:
    """Digest of the code and files pages are rendered from (this package, `core`'s labels), once per process.

    Part of each page's source: a moisson that would render a page differently renders it again at the next
    publication, even when the dataset's package did not change.
    """
    digest = hashlib.sha256()
    for package in ("moisson.connectors.targets.local", "moisson.core"):
        root = Path(str(resources.files(package)))
        for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix != ".pyc"):
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def copy_static(root: Path) -> None:
    """Copy the package's styles, scripts and Leaflet into `<root>/_static/` (changed files only)."""
    source = resources.files("moisson.connectors.targets.local") / "static"
    _copy_tree(source, root / STATIC)


def _copy_tree(source: Any, dest: Path) -> None:
    dest.mkdir(exist_ok=True)
    for item in source.iterdir():
        if item.is_dir():
            _copy_tree(item, dest / item.name)
        elif not (dest / item.name).is_file() or (dest / item.name).read_bytes() != item.read_bytes():
            (dest / item.name).write_bytes(item.read_bytes())


def dataset_page(package: Mapping[str, Any], metadata: DatasetMetadata, view: Mapping[str, Any],
                 portal: Portal, source: str) -> str:
    """The page of one dataset (`<id>/index.html`).

    Args:
        package: Its `datapackage.json`.
        metadata: Its metadata, read back from the package.
        view: Its `vue.json` (preview, charts, places), empty when missing.
        portal: The portal's title and publisher.
        source: Digest of the package, recorded in the page for the plan's freshness check.
    """
    name = package["name"]
    esc = html.escape
    title = metadata.title or name
    extras = package.get("moisson", {})
    resources_ = package.get("resources", [])
    body = [f"<h1>{esc(title)}</h1>", _verdict(extras)]
    if metadata.description:
        body.append(f'<div class="description">{_MARKDOWN.render(metadata.description)}</div>')
    links = [f'<li><a href="{esc(r["path"])}" download>{esc(r.get("title") or r["path"])}</a> — '
             f"{esc(str(r.get('format', '')).upper())}, {_size_fr(r.get('bytes', 0))}</li>" for r in resources_]
    links.append('<li><a href="datapackage.json">datapackage.json</a> — description Data Package (JSON)</li>')
    body.append('<section aria-labelledby="telecharger"><h2 id="telecharger">Télécharger</h2>'
                f'<ul>{"".join(links)}</ul></section>')
    body.append('<section aria-labelledby="infos"><h2 id="infos">Informations</h2><dl class="fiche">'
                + "".join(f"<dt>{label}</dt><dd>{value}</dd>" for label, value in _facts(package, metadata))
                + "</dl></section>")
    fields = {f["name"]: f for f in (next((r.get("schema") for r in resources_ if r.get("schema")), None)
                                     or {}).get("fields", [])}
    if view.get("preview"):
        body.append(_preview(view, fields, extras.get("rows")))
    scripts = ""
    if view.get("places") is not None:
        body.append(_map(view["places"], title))
        scripts = (f'<script src="../{STATIC}/leaflet/leaflet.js"></script><script src="{MAP_DATA}"></script>'
                   f'<script src="../{STATIC}/carte.js"></script>')
    if view.get("charts"):
        body.append(_charts(view["charts"]))
    crumbs = (f'<nav class="fil" aria-label="Fil d\'Ariane"><ol><li><a href="../index.html">{esc(portal.title)}'
              f'</a></li><li aria-current="page">{esc(title)}</li></ol></nav>')
    head = f'<link rel="stylesheet" href="../{STATIC}/leaflet/leaflet.css">' if scripts else ""
    return _page(f"{title} — {portal.title}", portal, "..", crumbs + "\n".join(body), head, scripts, source)


def index_page(entries: Iterable[Entry], portal: Portal, source: str) -> str:
    """The portal's home: every dataset with a search form (keyword, theme, producer, schema)."""
    esc = html.escape

    def key(entry: Entry) -> str:
        return _folded(entry[1].title or entry[0]["name"])

    entries = sorted(entries, key=key)
    active = [e for e in entries if not e[0].get("moisson", {}).get("archived")]
    archived = [e for e in entries if e[0].get("moisson", {}).get("archived")]
    options = {
        "theme": sorted({t for _, m in active for t in m.themes}),
        "producteur": sorted({m.producer or portal.publisher or "" for _, m in active} - {""}),
        "schema": sorted({s for p, _ in active if (s := p.get("moisson", {}).get("schema"))}),
    }
    labels = {"theme": "Thème", "producteur": "Producteur", "schema": "Schéma"}
    selects = "".join(
        f'<div><label for="f-{k}">{labels[k]}</label><select id="f-{k}" name="{k}"><option value="">Tous</option>'
        + "".join(f'<option value="{esc(v)}">{esc(v)}</option>' for v in values) + "</select></div>"
        for k, values in options.items())
    search = ('<form id="recherche" class="filtres" role="search" aria-label="Rechercher un jeu de données" hidden>'
              '<div><label for="f-q">Mots-clés</label><input id="f-q" name="q" type="search"></div>'
              f'{selects}<div><button type="reset">Effacer</button></div></form>'
              f'<p id="compte" role="status" aria-live="polite">{len(active)} jeux de données</p>')
    items = "".join(_card(p, m, portal) for p, m in active) or "<li>Aucun jeu de données publié.</li>"
    body = [f"<h1>{esc(portal.title)}</h1>"]
    if portal.publisher:
        body.append(f"<p>Données ouvertes publiées par {esc(portal.publisher)}.</p>")
    body.append(f'<section aria-labelledby="publies"><h2 id="publies">Jeux de données publiés ({len(active)})</h2>'
                f'{search}<ul class="liste" id="jeux">{items}</ul></section>')
    if archived:
        body.append('<section aria-labelledby="archives" class="archive"><h2 id="archives">Jeux de données '
                    f"archivés ({len(archived)})</h2><p>Ces données ne sont plus mises à jour ; elles restent "
                    'téléchargeables.</p><ul class="liste">'
                    + "".join(_card(p, m, portal, archived=True) for p, m in archived) + "</ul></section>")
    return _page(portal.title, portal, ".", "\n".join(body), "",
                 f'<script src="{STATIC}/portal.js"></script>', source)


def atom_feed(entries: Iterable[Entry], portal: Portal) -> str:
    """Atom feed of the active datasets, newest publication first."""
    esc = html.escape
    active = [(p, m) for p, m in entries if not p.get("moisson", {}).get("archived")]
    active.sort(key=lambda e: e[0].get("moisson", {}).get("published", ""), reverse=True)
    updated = active[0][0].get("moisson", {}).get("published") if active else _now()
    items = []
    for package, metadata in active:
        name, extras = package["name"], package.get("moisson", {})
        url = link(portal.base_url, f"{name}/index.html")
        items.append(f"<entry><title>{esc(metadata.title or name)}</title><id>{esc(url)}</id>"
                     f'<link rel="alternate" type="text/html" href="{esc(url)}"/>'
                     f"<updated>{esc(extras.get('published', updated))}</updated>"
                     f"<summary>{esc(_summary(metadata))}</summary></entry>")
    home = link(portal.base_url, "index.html")
    return ('<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="fr">'
            f"<title>{esc(portal.title)}</title><id>{esc(link(portal.base_url, 'feed.atom'))}</id>"
            f'<link rel="self" href="{esc(link(portal.base_url, "feed.atom"))}"/>'
            f'<link rel="alternate" type="text/html" href="{esc(home)}"/><updated>{esc(updated)}</updated>'
            f"<author><name>{esc(portal.publisher or portal.title)}</name></author>"
            + "".join(items) + "</feed>\n")


def rendered_from(page: str) -> str | None:
    """The source digest a page records, or None when it has none (an older or hand-edited page)."""
    start = page.find(_SOURCE_MARKER)
    return page[start + len(_SOURCE_MARKER): page.find('"', start + len(_SOURCE_MARKER))] if start >= 0 else None


def recorded_source(path: Path) -> str | None:
    """The source digest of the page at `path` (see `rendered_from`); None too when there is no page.

    Our pages carry it in their first lines: only a page edited by hand is read whole (a page can
    run to megabytes, and a rebuild looks at every dataset's).
    """
    marker = _SOURCE_MARKER.encode()
    try:
        with path.open("rb") as handle:
            page = handle.read(_PAGE_HEAD)
            start = page.find(marker)
            if start < 0 or page.find(b'"', start + len(marker)) < 0:
                page += handle.read()
    except (FileNotFoundError, IsADirectoryError):
        return None
    return rendered_from(page.decode("utf-8", "replace"))


# Pieces.


def _page(title: str, portal: Portal, root: str, main: str, head: str, scripts: str, source: str) -> str:
    esc = html.escape
    return f"""<!DOCTYPE html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="{SOURCE_META}" content="{esc(source)}">
<title>{esc(title)}</title>
<link rel="stylesheet" href="{root}/{STATIC}/portal.css">{head}
<link rel="alternate" type="application/ld+json" href="{root}/catalog.jsonld" title="Catalogue DCAT-AP (JSON-LD)">
<link rel="alternate" type="text/turtle" href="{root}/catalog.ttl" title="Catalogue DCAT-AP (Turtle)">
<link rel="alternate" type="application/atom+xml" href="{root}/feed.atom" title="Mises à jour (Atom)">
</head>
<body>
<a class="evitement" href="#contenu">Aller au contenu</a>
<div class="page">
<header class="bandeau"><p><a href="{root}/index.html">{esc(portal.title)}</a>
{f" — {esc(portal.publisher)}" if portal.publisher else ""}</p></header>
<main id="contenu" tabindex="-1">
{main}
</main>
<footer><p>Catalogue DCAT-AP moissonnable par data.gouv.fr : <a href="{root}/catalog.jsonld">catalog.jsonld</a>,
<a href="{root}/catalog.ttl">catalog.ttl</a>. Flux des mises à jour : <a href="{root}/feed.atom">feed.atom</a>.
Page générée le {_date_fr(_now())}. Carte : Leaflet (licence BSD-2), fond © contributeurs OpenStreetMap.</p></footer>
</div>
{scripts}
</body>
</html>
"""


def _card(package: Mapping[str, Any], metadata: DatasetMetadata, portal: Portal, archived: bool = False) -> str:
    esc = html.escape
    name, extras = package["name"], package.get("moisson", {})
    producer = metadata.producer or portal.publisher or ""
    text = " ".join([metadata.title or name, metadata.description or "", *metadata.keywords, *metadata.themes,
                     producer, extras.get("schema") or ""])
    formats = ", ".join(str(r.get("format", "")).upper() for r in package.get("resources", []))
    facts = [f for f in (producer, formats, f"mis à jour le {_date_fr(_modified(package, metadata))}") if f]
    state = " — dernière version bloquée par le contrôle qualité" if extras.get("blocked") else ""
    attributes = "" if archived else (
        f' data-texte="{esc(text)}" data-theme="{esc("|".join(metadata.themes))}"'
        f' data-producteur="{esc(producer)}" data-schema="{esc(extras.get("schema") or "")}"')
    return (f'<li{attributes}><h3><a href="{esc(name)}/index.html">{esc(metadata.title or name)}</a></h3>'
            f'<p>{esc(_summary(metadata))}</p><p class="meta">{esc(" · ".join(facts))}{esc(state)}</p></li>')


def _summary(metadata: DatasetMetadata, size: int = 240) -> str:
    """The description's first words as plain text (Markdown rendered, then its tags dropped)."""
    text = " ".join(html.unescape(_TAG.sub(" ", _MARKDOWN.render(metadata.description or ""))).split())
    return text if len(text) <= size else text[: size - 1].rsplit(" ", 1)[0] + "…"


def _verdict(extras: Mapping[str, Any]) -> str:
    blocked = extras.get("blocked")
    if blocked:
        since = _time(blocked["since"])
        reason = html.escape(blocked.get("reason") or "la nouvelle version ne respecte pas les règles de qualité")
        return ('<div class="etat bloque" role="note"><p><strong>Dernière version bloquée</strong> depuis le '
                f"{since} : {reason}. La version en ligne reste celle publiée le {_time(extras['published'])} ; "
                "les données refusées ne sont pas publiées.</p></div>")
    verdict = (extras.get("quality") or {}).get("verdict")
    css, text = _VERDICTS.get(verdict or "", ("valide", "conforme aux contrôles de publication de moisson."))
    return f'<div class="etat {css}" role="note"><p><strong>Contrôle qualité</strong> : {html.escape(text)}</p></div>'


def _facts(package: Mapping[str, Any], metadata: DatasetMetadata) -> list[tuple[str, str]]:
    esc = html.escape
    extras = package.get("moisson", {})
    facts: list[tuple[str, str]] = []
    if metadata.producer:
        facts.append(("Producteur", esc(metadata.producer)))
    if metadata.contact and (metadata.contact.email or metadata.contact.url):
        target = f"mailto:{metadata.contact.email}" if metadata.contact.email else metadata.contact.url or ""
        label = metadata.contact.name or metadata.contact.email or metadata.contact.url or ""
        facts.append(("Contact", f'<a href="{esc(target)}">{esc(label)}</a>'))
    licence = LICENSES.get(metadata.license or "")
    facts.append(("Licence", (f'<a href="{esc(licence[1])}">{esc(licence[0])}</a>' if licence[1]
                              else esc(licence[0])) if licence else "non précisée"))
    if metadata.attribution:
        facts.append(("Mention à faire figurer", esc(metadata.attribution)))
    if metadata.keywords:
        facts.append(("Mots-clés", esc(", ".join(metadata.keywords))))
    if metadata.themes:
        facts.append(("Thèmes", esc(", ".join(metadata.themes))))
    reference = extras.get("schema")
    if reference:
        facts.append(("Schéma", _schema_link(reference)))
    if metadata.frequency:
        facts.append(("Fréquence de mise à jour", esc(frequency_label(metadata.frequency))))
    modified = _modified(package, metadata)
    facts.append(("Dernière mise à jour", _time(modified)))
    if upcoming := _next_update(metadata.frequency, modified):
        facts.append(("Prochaine mise à jour prévue", f"vers le {_time(upcoming)}"))
    if metadata.issued or extras.get("issued"):
        facts.append(("Première publication", _time(metadata.issued or extras["issued"])))
    if metadata.temporal and (metadata.temporal.start or metadata.temporal.end):
        start, end = metadata.temporal.start, metadata.temporal.end
        period = (f"du {_time(start)} au {_time(end)}" if start and end
                  else f"depuis le {_time(start)}" if start else f"jusqu'au {_time(end)}")
        facts.append(("Période couverte", period))
    spatial = metadata.spatial
    if spatial and (spatial.zones or spatial.description):
        places = [_zone_fr(zone) for zone in spatial.zones] + ([spatial.description] if spatial.description else [])
        facts.append(("Territoire couvert", esc(", ".join(places))))
    if spatial and spatial.granularity:
        facts.append(("Granularité spatiale", esc(GRANULARITY_FR[spatial.granularity])))
    if "rows" in extras:
        facts.append(("Nombre de lignes", _number(extras["rows"])))
    if metadata.legal:
        facts.append(("Cadre juridique", esc(metadata.legal)))
    if metadata.lineage:
        facts.append(("Provenance", esc(metadata.lineage)))
    if metadata.landing_page:
        facts.append(("Page d'origine", f'<a href="{esc(metadata.landing_page)}">{esc(metadata.landing_page)}</a>'))
    facts.append(("Langue", "français" if metadata.language == "fr" else esc(metadata.language)))
    if extras.get("archived"):
        facts.append(("Archivé le", _time(extras["archived"])))
    return facts


def _schema_link(reference: str) -> str:
    esc = html.escape
    found = schema_url(reference)
    if not found:
        return esc(reference)
    if reference.startswith(("http://", "https://")):
        return f'<a href="{esc(reference)}">{esc(reference)}</a>'
    name, _, version = reference.partition("@")
    page = f"{SCHEMA_SITE}/{name}/{version + '/' if version and version != 'latest' else ''}"
    return f'<a href="{esc(page)}">{esc(name)}</a>' + (f" version {esc(version)}" if version else "")


def _preview(view: Mapping[str, Any], fields: Mapping[str, Mapping[str, Any]], rows: int | None) -> str:
    esc = html.escape
    heads = []
    for column in view["columns"]:
        field = fields.get(column, {})
        help_ = f'<span class="aide">{esc(field["description"])}</span>' if field.get("description") else ""
        heads.append(f'<th scope="col">{esc(field.get("title") or column)}{help_}</th>')
    body = "".join("<tr>" + "".join(f"<td>{esc(cell)}</td>" for cell in row) + "</tr>" for row in view["preview"])
    shown = len(view["preview"])
    if rows and rows > shown:
        caption = f"{'La première ligne' if shown == 1 else f'Les {shown} premières lignes'} sur {_number(rows)}"
    else:
        caption = "La ligne" if shown == 1 else f"Les {shown} lignes"
    return ('<section aria-labelledby="apercu"><h2 id="apercu">Aperçu des données</h2>'
            f'<div class="defilement" role="region" aria-labelledby="apercu-titre" tabindex="0">'
            f'<table class="apercu"><caption id="apercu-titre">{caption}</caption><thead><tr>{"".join(heads)}'
            f"</tr></thead><tbody>{body}</tbody></table></div></section>")


def _map(places: Sequence[Sequence[Any]], title: str) -> str:
    esc = html.escape
    rows = "".join(f"<tr><td>{esc(str(label))}</td><td>{lat}</td><td>{lon}</td></tr>" for label, lon, lat in places)
    return ('<section aria-labelledby="carte-titre"><h2 id="carte-titre">Carte</h2>'
            f'<div id="carte" role="region" aria-label="Carte : {esc(title)}"></div>'
            "<p>Sans connexion, le fond de carte n'apparaît pas mais les lieux restent dessinés. "
            "Le tableau ci-dessous donne les mêmes lieux.</p>"
            '<details><summary>Tableau des lieux (alternative à la carte)</summary>'
            '<div class="defilement" role="region" aria-label="Tableau des lieux" tabindex="0">'
            f'<table><caption>Les {len(places)} premiers lieux</caption><thead><tr><th scope="col">Nom</th>'
            f'<th scope="col">Latitude</th><th scope="col">Longitude</th></tr></thead><tbody>{rows}</tbody></table>'
            "</div></details></section>")


def _charts(charts: Sequence[Mapping[str, Any]]) -> str:
    esc = html.escape
    parts = []
    for index, chart in enumerate(charts, 1):
        chart_id = f"graphique-{index}"
        rows = "".join(f"<tr><td>{esc(period_label(chart['by'], str(label)))}</td><td>{n}</td></tr>"
                       for label, n in chart["counts"])
        parts.append(f'<figure><figcaption>{esc(chart_title(chart))}</figcaption>{svg(chart, chart_id)}'
                     f"<details><summary>Données du graphique</summary><table><thead><tr>"
                     f'<th scope="col">{esc(chart["title"])}</th><th scope="col">Nombre de lignes</th></tr></thead>'
                     f"<tbody>{rows}</tbody></table></details></figure>")
    return '<section aria-labelledby="graphiques"><h2 id="graphiques">Graphiques</h2>' + "".join(parts) + "</section>"


def _folded(text: str) -> str:
    """Sort key that puts « Équipements » among the e's, as a French reader expects."""
    return "".join(c for c in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(c))


def _modified(package: Mapping[str, Any], metadata: DatasetMetadata) -> str:
    if metadata.modified:
        return metadata.modified.isoformat(timespec="seconds")
    return package.get("moisson", {}).get("published") or _now()


def _next_update(frequency: str | None, modified: str) -> str | None:
    period = FREQUENCIES[frequency].period if frequency in FREQUENCIES else None
    if period is None or period < dt.timedelta(days=1):
        return None
    return (dt.datetime.fromisoformat(modified[:10]) + period).date().isoformat()


def _time(value: dt.date | str) -> str:
    iso = value.isoformat() if isinstance(value, dt.date) else value
    return f'<time datetime="{html.escape(iso)}">{_date_fr(iso)}</time>'


def _date_fr(iso: str) -> str:
    year, month, day = iso[:10].split("-")
    return f"{day}/{month}/{year}"


def _number(value: int | None) -> str:
    return f"{value or 0:,}".replace(",", "\u202f")


def _size_fr(size: int) -> str:
    for unit, scale in (("Go", 1e9), ("Mo", 1e6), ("ko", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}".replace(".", ",")
    return f"{size} octets"


def _zone_fr(zone: str) -> str:
    parts = zone.split(":")
    level = parts[-2] if len(parts) >= 2 else ""
    return f"{_ZONE_LEVELS_FR[level]} {parts[-1]}" if level in _ZONE_LEVELS_FR else zone


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
