"""A file that would break its schema once written is never sent: the run fails, the published version stays."""

from __future__ import annotations

import json

import pytest

from moisson.flows.harvest import run_datasets

pytestmark = pytest.mark.usefixtures("prefect_server")

SCHEMA = {"fields": [{"name": "code_insee", "type": "string", "constraints": {"pattern": "[0-9]{5}"}},
                     {"name": "aide", "type": "boolean", "trueValues": ["oui"], "falseValues": ["non"]},
                     {"name": "montant", "type": "number"}]}


def catalog(tmp_path, quality: dict) -> str:
    entry = {"id": "aides", "source": "fichiers", "locator": {"path": "aides.csv"}, "schema": "aides.json",
             "metadata": {"title": "Aides aux associations"}, "quality": quality}
    text = {"version": 1, "defaults": {"targets": ["portail"], "metadata": {"license": "lov2"}},
            "sources": {"fichiers": {"connector": "spreadsheet", "config": {"root": str(tmp_path)}}},
            "targets": {"portail": {"connector": "local",
                                    "config": {"path": str(tmp_path / "portal"), "harvestable": False}}},
            "datasets": [entry]}
    path = tmp_path / "catalog.yaml"
    path.write_text(json.dumps(text, ensure_ascii=False), encoding="utf-8")
    return str(path)


def test_a_failing_round_trip_publishes_nothing_and_says_so_in_french(tmp_path, moisson_home, monkeypatch):
    monkeypatch.setenv("MOISSON_HASH_SALT", "sel-de-test")
    (tmp_path / "aides.json").write_text(json.dumps(SCHEMA), encoding="utf-8")
    (tmp_path / "aides.csv").write_text("code_insee;aide;montant\n59350;non;13760\n59017;oui;1\n", encoding="utf-8")
    [first] = run_datasets(["aides"], catalog=catalog(tmp_path, {}))
    assert first.status == "published", first
    published = tmp_path / "portal" / "aides" / "aides.csv"
    assert published.read_text(encoding="utf-8") == "code_insee,aide,montant\n59350,non,13760\n59017,oui,1\n"

    # Hashing the commune code breaks its pattern: the quality check passed, the file to publish would not.
    (tmp_path / "aides.csv").write_text("code_insee;aide;montant\n59350;non;13760\n59017;oui;2\n", encoding="utf-8")
    [second] = run_datasets(["aides"], catalog=catalog(tmp_path, {"personal_data": {"code_insee": "hash"}}))
    assert second.status == "failed" and second.quality.success
    assert "aides" in second.error and "ne respecterait pas le schéma" in second.error
    assert "2 erreurs que la source" in second.error and "code_insee" in second.error
    assert "la version déjà en ligne reste" in second.error
    assert published.read_text(encoding="utf-8").endswith("59017,oui,1\n"), "the published version stays"
