"""The alerts file and the automations built from it, offline (validated by Prefect's own model)."""

from __future__ import annotations

import datetime as dt
import textwrap
import uuid

import pytest
from prefect.events.schemas.automations import AutomationCore, Posture

from moisson.catalog.model import load_catalog
from moisson.core.errors import CatalogError
from moisson.deployments.automations import BUNDLED, automations_for, load_automations

CATALOG = """\
version: 1
sources: {s: {connector: "tests.fakes.connectors:MemorySource"}}
datasets:
  - {id: budget, source: s, frequency: annual}
  - {id: trafic, source: s, frequency: hourly}
  - {id: archives, source: s, frequency: punctual}
"""


@pytest.fixture
def catalog(tmp_path):
    path = tmp_path / "catalog.yaml"
    path.write_text(CATALOG, encoding="utf-8")
    return load_catalog(path)


def build(config, catalog):
    blocks = {ref: uuid.uuid4() for ref in {config.notify, "slack-webhook/equipe"}}
    return blocks, {a["name"]: AutomationCore.model_validate(a) for a in automations_for(config, catalog, blocks)}


def test_bundled_file_gives_three_kinds_of_alert(catalog):
    config = load_automations(BUNDLED)
    blocks, automations = build(config, catalog)
    assert set(automations) == {"moisson · run failed", "moisson · dataset blocked", "moisson · overdue · budget",
                                "moisson · overdue · trafic"}, "a punctual dataset is never overdue"
    failed = automations["moisson · run failed"].trigger
    assert failed.posture == Posture.Reactive
    assert failed.expect == {"prefect.flow-run.Failed", "prefect.flow-run.Crashed"}
    assert failed.match_related.get("prefect.resource.name") == ["harvest-dataset", "discover-source"]
    blocked = automations["moisson · dataset blocked"]
    assert blocked.trigger.expect == {"moisson.dataset.blocked"}
    assert blocked.actions[0].block_document_id == blocks["email-smtp/moisson-alerts"]
    budget = automations["moisson · overdue · budget"].trigger
    assert budget.posture == Posture.Proactive
    assert budget.expect == {"moisson.dataset.published", "moisson.dataset.unchanged"}
    assert budget.match.get("prefect.resource.id") == ["moisson.dataset.budget"]
    assert budget.within == dt.timedelta(days=365) * 1.25
    assert automations["moisson · overdue · trafic"].trigger.within == dt.timedelta(hours=1.25)


def test_alerts_can_be_turned_off_or_sent_elsewhere(catalog, tmp_path):
    path = tmp_path / "automations.yaml"
    path.write_text(textwrap.dedent("""\
        notify: email-smtp/sig
        alerts:
          failed: {notify: slack-webhook/equipe}
          blocked: {enabled: false}
          overdue: {grace: 0}
        """), encoding="utf-8")
    config = load_automations(path)
    blocks, automations = build(config, catalog)
    assert "moisson · dataset blocked" not in automations
    assert automations["moisson · run failed"].actions[0].block_document_id == blocks["slack-webhook/equipe"]
    assert automations["moisson · overdue · trafic"].trigger.within == dt.timedelta(hours=1)


def test_a_wrong_key_names_its_line(tmp_path):
    path = tmp_path / "automations.yaml"
    path.write_text("notify: email-smtp/sig\nalerts:\n  overdue: {grace: 0.5, every: 2}\n", encoding="utf-8")
    with pytest.raises(CatalogError) as caught:
        load_automations(path)
    assert ":3" in str(caught.value) and "alerts.overdue.every" in str(caught.value)
