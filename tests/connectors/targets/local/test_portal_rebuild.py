"""A publication's rebuild writes only the pages whose inputs changed; catalog.ttl is the JSON-LD's graph."""

from __future__ import annotations

import hashlib
import json
import threading
import warnings
from pathlib import Path

import pytest
import rdflib
from rdflib.compare import isomorphic

from moisson.connectors.targets.local import LocalTarget, dcat, site
from tests.connectors.targets.test_local import BASE_URL, equipements, make_publication

STRANGE = 'Dit « la salle "Jean Moulin" », chemin C:\\salles\\\nsur deux lignes\r\tet une tabulation.'


def target_at(portal: Path, title: str = "Villeneuve en données") -> LocalTarget:
    return LocalTarget(LocalTarget.Config(path=portal, base_url=BASE_URL, title=title,
                                          publisher="Commune de Villeneuve"))


def stamps(path: Path) -> tuple[int, int]:
    status = path.stat()
    return status.st_ino, status.st_mtime_ns


def rich_portal(tmp_path: Path, target: LocalTarget) -> Path:
    """A portal of datasets using every part of the DCAT catalog: bbox, contact, schema, licence without URL."""
    target.publish(make_publication(tmp_path / "a", description=STRANGE, attribution="© Ville, 2025",
                                    themes=["Sports", "Loisirs"], landing_page="https://www.villeneuve.example/sport",
                                    contact={"name": "SIG", "email": "sig@villeneuve.example",
                                             "url": "https://www.villeneuve.example/contact"}))
    target.publish(make_publication(tmp_path / "b", "bancs-publics", geometry=None, license="other-open",
                                    frequency="annual", spatial={"zones": ["fr:commune:59350"]}))
    target.publish(make_publication(tmp_path / "c", "deliberations", geometry=None, license="odc-odbl",
                                    temporal={"start": "2025-01-01"}, issued="2025-01-15"))
    return target.config.path


def jsonld_graph(path: Path) -> rdflib.Graph:
    graph = rdflib.Graph()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # rdflib 7's JSON-LD parser builds a ConjunctiveGraph
        graph.parse(path, format="json-ld")
    return graph


def prefixes(turtle: str) -> set[str]:
    return {line for line in turtle.splitlines() if line.startswith("@prefix")}


def rdflib_turtle(catalog: dict) -> str:
    """What catalog.ttl was before it was written directly: rdflib's parse of the JSON-LD, serialised."""
    graph = rdflib.Graph()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        graph.parse(data=json.dumps(catalog), format="json-ld")
    for prefix, namespace in dcat.CONTEXT.items():
        graph.bind(prefix, namespace)
    return graph.serialize(format="turtle")


def test_publishing_one_dataset_leaves_the_other_pages_untouched(tmp_path):
    target = target_at(tmp_path / "portal")
    portal = rich_portal(tmp_path, target)
    others = {page: stamps(page) for page in (portal / "bancs-publics" / "index.html",
                                              portal / "deliberations" / "index.html")}
    rebuilt = [portal / name for name in ("catalog.jsonld", "catalog.ttl", "feed.atom", "index.html",
                                          "equipements-sportifs/index.html")]
    before = {path: stamps(path) for path in rebuilt}

    changed = make_publication(tmp_path / "d", frame=equipements(("Piscine", "Dojo", "Skatepark")))
    assert target.publish(changed).status == "updated"

    assert {page: stamps(page) for page in others} == others, "pages of unchanged datasets are not written"
    assert all(stamps(path) != before[path] for path in rebuilt), "the catalogs, feed, home and its page are"
    assert "Piscine" in (portal / "equipements-sportifs" / "index.html").read_text(encoding="utf-8")


def test_catalog_ttl_is_the_graph_of_catalog_jsonld_with_the_prefixes_rdflib_declared(tmp_path):
    portal = rich_portal(tmp_path, target_at(tmp_path / "portal"))
    turtle = (portal / "catalog.ttl").read_text(encoding="utf-8")
    graph = rdflib.Graph().parse(portal / "catalog.ttl", format="turtle")
    expected = jsonld_graph(portal / "catalog.jsonld")
    assert len(graph) == len(expected) > 150
    assert isomorphic(graph, expected)
    assert prefixes(turtle) == prefixes(rdflib_turtle(json.loads((portal / "catalog.jsonld").read_text())))
    assert rdflib.Literal(STRANGE + "\n\nGranularité spatiale : point d'intérêt.\nAttribution : © Ville, 2025") in \
        set(graph.objects(predicate=rdflib.DCTERMS.description))


def test_catalog_ttl_of_a_portal_nobody_harvests_keeps_its_links_relative_to_the_file(tmp_path):
    target = LocalTarget(LocalTarget.Config(path=tmp_path / "portal", harvestable=False))
    target.publish(make_publication(tmp_path / "a"))
    portal = target.config.path
    graph = rdflib.Graph().parse(portal / "catalog.ttl", format="turtle")
    assert isomorphic(graph, jsonld_graph(portal / "catalog.jsonld"))
    assert rdflib.URIRef((portal / "equipements-sportifs").as_uri() + "/") in set(graph.subjects())


def test_json_values_a_hand_edited_package_may_hold_are_typed_as_json_ld_types_them():
    catalog = {"@context": dcat.CONTEXT, "@id": BASE_URL + "catalog.jsonld", "@type": "dcat:Catalog",
               "dct:title": [7, 2.5, True, None], "dct:extent": {"@value": 12, "@type": "xsd:integer"}}
    graph = rdflib.Graph().parse(data=dcat.turtle(catalog), format="turtle")
    expected = rdflib.Graph()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        expected.parse(data=json.dumps(catalog), format="json-ld")
    assert isomorphic(graph, expected)


@pytest.mark.parametrize("edit", ["deleted", "marker removed", "package edited", "portal renamed", "moisson upgraded"])
def test_a_page_out_of_date_with_its_inputs_is_rendered_again_by_the_next_publication(tmp_path, edit, monkeypatch):
    target = target_at(tmp_path / "portal")
    portal = rich_portal(tmp_path, target)
    page = portal / "bancs-publics" / "index.html"
    before = stamps(page)
    if edit == "moisson upgraded":  # a new moisson renders pages with other code or styles
        monkeypatch.setattr(site, "renderer_digest", lambda: "another renderer")
    elif edit == "deleted":
        page.unlink()
    elif edit == "marker removed":
        page.write_text(page.read_text(encoding="utf-8").replace(site.SOURCE_META, "edited"), encoding="utf-8")
    elif edit == "package edited":
        descriptor = portal / "bancs-publics" / "datapackage.json"
        package = json.loads(descriptor.read_text(encoding="utf-8"))
        package["title"] = "Bancs et assises"
        descriptor.write_text(json.dumps(package), encoding="utf-8")
    else:
        target = target_at(portal, title="Villeneuve ouverte")
    target.publish(make_publication(tmp_path / "d", frame=equipements(("Piscine", "Dojo", "Skatepark"))))
    text = page.read_text(encoding="utf-8")
    digest = hashlib.sha256((portal / "bancs-publics" / "datapackage.json").read_bytes()).hexdigest()
    assert site.rendered_from(text) == target._page_source(digest)
    assert ("Bancs et assises" in text) == (edit == "package edited")
    assert ("Villeneuve ouverte" in text) == (edit == "portal renamed")
    assert stamps(page) != before


def test_rebuild_renders_every_page_again(tmp_path):
    target = target_at(tmp_path / "portal")
    portal = rich_portal(tmp_path, target)
    pages = {page: stamps(page) for page in portal.glob("*/index.html")}
    target.rebuild()
    assert all(stamps(page) != before for page, before in pages.items())


def test_four_concurrent_publications_leave_every_page_rendered_from_its_package(tmp_path):
    target = target_at(tmp_path / "portal")
    portal = rich_portal(tmp_path, target)
    publications = [make_publication(tmp_path / str(i), f"jeu-{i}", geometry=None) for i in range(3)]
    publications.append(make_publication(tmp_path / "d", frame=equipements(("Piscine", "Dojo", "Skatepark"))))
    threads = [threading.Thread(target=target.publish, args=(p,)) for p in publications]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    folders = sorted(p.parent for p in portal.glob("*/datapackage.json"))
    assert len(folders) == 6
    digests = {f.name: hashlib.sha256((f / "datapackage.json").read_bytes()).hexdigest() for f in folders}
    for folder in folders:
        assert site.recorded_source(folder / "index.html") == target._page_source(digests[folder.name]), folder.name
    assert site.recorded_source(portal / "index.html") == target._index_source(digests)
    listed = {d["dct:identifier"] for d in json.loads((portal / "catalog.jsonld").read_text())["dcat:dataset"]}
    assert listed == set(digests)
    assert isomorphic(rdflib.Graph().parse(portal / "catalog.ttl", format="turtle"),
                      jsonld_graph(portal / "catalog.jsonld"))
