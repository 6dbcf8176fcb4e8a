"""The demo portal as a commune gets it: the bundled catalog run end to end, plus a dataset of deliberations
published then blocked by quality (its good version stays online), for the page and harvest tests."""

from __future__ import annotations

import hashlib
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from moisson.catalog.model import BUNDLED
from moisson.connectors.base import DatasetDescriptor, Publication
from moisson.connectors.targets.local import LocalTarget
from moisson.core.metadata import DatasetMetadata

DEMO_IDS = ("equipements-publics", "stationnements-velos", "salles-a-louer")
BLOCKED = "deliberations"
SUBJECTS = ("Finances", "Urbanisme", "Culture", "Voirie")
DELIBERATIONS_SCHEMA = {"fields": [
    {"name": "numero", "type": "string", "title": "Numéro", "description": "Numéro d'ordre de la délibération"},
    {"name": "date", "type": "date", "title": "Date de la séance", "description": "Jour du conseil municipal"},
    {"name": "objet", "type": "string", "title": "Objet"},
    {"name": "theme", "type": "string", "title": "Thème", "constraints": {"enum": list(SUBJECTS)}},
]}


@contextmanager
def environment(**values: str):
    """Set environment variables for the block (module-scoped fixtures cannot use monkeypatch)."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def copy_demo(root: Path, base_url: str) -> Path:
    """The bundled catalog and its data under `root`, its portal declared at `base_url`."""
    shutil.copytree(BUNDLED.parent / "demo", root / "deployments" / "demo")
    catalog = root / "deployments" / "catalog.yaml"
    text = BUNDLED.read_text(encoding="utf-8")
    assert "base_url: http://127.0.0.1:8000/" in text
    catalog.write_text(text.replace("base_url: http://127.0.0.1:8000/", f"base_url: {base_url}"), encoding="utf-8")
    return catalog


def run_demo(root: Path, base_url: str) -> Path:
    """Run the demo catalog (inside a Prefect server), add the blocked dataset; return the portal folder."""
    from moisson.flows.harvest import run_datasets

    catalog = copy_demo(root, base_url)
    with environment(MOISSON_HOME=str(root / "var")):
        outcomes = {o.id: o.status for o in run_datasets(DEMO_IDS, catalog=str(catalog))}
    assert outcomes == {"equipements-publics": "published", "stationnements-velos": "published",
                        "salles-a-louer": "blocked"}, outcomes
    portal = root / "var" / "portal"
    target = demo_target(portal, base_url)
    publication = deliberations(root / "run")
    target.publish(publication)
    target.block(publication.dataset, reason="12 erreurs de qualité dans la dernière version reçue "
                                             "(dates impossibles, thèmes hors liste)")
    return portal


def demo_target(portal: Path, base_url: str) -> LocalTarget:
    """The demo catalog's portal target."""
    return LocalTarget(LocalTarget.Config(path=portal, base_url=base_url, title="Données ouvertes de Moisson-sur-Lys",
                                          publisher="Commune de Moisson-sur-Lys"))


def deliberations(folder: Path, rows: int = 120, *, license_id: str = "lov2", dataset_id: str = BLOCKED,
                  **metadata: object) -> Publication:
    """Deliberations of the municipal council over a year: a date and a category for the charts."""
    folder.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame({
        "numero": pd.array([f"2025-{i:03d}" for i in range(1, rows + 1)], dtype="string"),
        "date": pd.to_datetime([f"2025-{1 + i % 12:02d}-{1 + i % 27:02d}" for i in range(rows)]),
        "objet": pd.array([f"Délibération n°{i} <sur> l'objet « {SUBJECTS[i % 4].lower()} »" for i in range(rows)],
                          dtype="string"),
        "theme": pd.array([SUBJECTS[i % 4] for i in range(rows)], dtype="string"),
    })
    data = folder / f"{dataset_id}.parquet"
    frame.to_parquet(data)
    meta = DatasetMetadata(**{
        "title": "Délibérations du conseil municipal",
        "description": "Les **délibérations** adoptées en 2025.\n\n- une ligne par délibération\n"
                       "- voir [le registre](https://www.moisson-sur-lys.example/registre)\n\n<script>alert(1)</script>",
        "keywords": ["délibérations", "conseil municipal"], "themes": ["Administration"],
        "producer": "Secrétariat général", "license": license_id, "frequency": "monthly",
        "temporal": {"start": "2025-01-01", "end": "2025-12-31"},
        "spatial": {"zones": ["fr:commune:59350"], "granularity": "fr:commune"},
        "attribution": "Commune de Moisson-sur-Lys", **metadata,
    })
    return Publication(
        dataset=DatasetDescriptor(id=dataset_id, locator={}, metadata=meta, schema="scdl/deliberations@2.1.3"),
        data=data, rows=rows, content_hash=hashlib.sha256(data.read_bytes()).hexdigest(),
        metadata_hash=hashlib.sha256(meta.model_dump_json().encode()).hexdigest(),
        table_schema=DELIBERATIONS_SCHEMA)
