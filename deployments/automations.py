"""Alerts as Prefect automations, from `deployments/automations.yaml` and the catalog.

Three alerts, each a send-notification automation (available on a self-hosted server):

- **failed**: a `harvest-dataset` or `discover-source` flow run ended Failed or Crashed;
- **blocked**: the quality gate refused a dataset (the `moisson.dataset.blocked` event the
  harvest flow emits), with the error and the report path;
- **overdue**: a proactive trigger per dataset with a frequency: no `moisson.dataset.published`
  or `moisson.dataset.unchanged` event within the frequency's period plus a grace share.

Automations are found again by name (all start with `moisson · `): applying twice updates
them, and the overdue alerts of datasets that left the catalog are deleted.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from moisson.catalog.load import read_yaml, validation_error
from moisson.catalog.model import Catalog
from moisson.core.errors import ConfigError
from moisson.core.frequencies import FREQUENCIES

#: The automations file shipped with moisson.
BUNDLED = Path(__file__).resolve().parent / "automations.yaml"

#: Every automation moisson owns starts with this; others on the server are left alone.
PREFIX = "moisson · "

#: Flows whose failures are alerts.
FLOWS = ["harvest-dataset", "discover-source"]

#: Events of a successful harvest (flows/harvest.py emits `moisson.dataset.<status>`).
SUCCESS_EVENTS = {"moisson.dataset.published", "moisson.dataset.unchanged"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Alert(_Strict):
    """One kind of alert: on or off, and which notification block carries it."""

    enabled: bool = True
    notify: str | None = None


class OverdueAlert(Alert):
    """The overdue alert; `grace` is the share of the period tolerated past the frequency."""

    grace: float = Field(0.25, ge=0, le=10)


class Alerts(_Strict):
    """The three alerts."""

    failed: Alert = Field(default_factory=Alert)
    blocked: Alert = Field(default_factory=Alert)
    overdue: OverdueAlert = Field(default_factory=OverdueAlert)


class AutomationsFile(_Strict):
    """`deployments/automations.yaml`.

    Attributes:
        notify: Default notification block, `<block type slug>/<block name>`.
        alerts: The alerts and their settings.
    """

    notify: str
    alerts: Alerts = Field(default_factory=Alerts)


def load_automations(path: Path | str | None = None) -> AutomationsFile:
    """Read and validate an automations file.

    Raises:
        CatalogError: Missing file, bad YAML or a wrong key (with its line).
    """
    path = Path(path) if path is not None else BUNDLED
    raw, lines = read_yaml(path, what="automatisations", hint="indiquez --file CHEMIN")
    try:
        return AutomationsFile.model_validate(raw)
    except ValidationError as exc:
        raise validation_error(exc, path, lines) from None


def _notification(block_id: UUID, subject: str, body: str) -> dict[str, Any]:
    return {"type": "send-notification", "block_document_id": str(block_id), "subject": subject, "body": body}


def automations_for(config: AutomationsFile, catalog: Catalog, blocks: dict[str, UUID]) -> list[dict[str, Any]]:
    """The automations to install, as Prefect `AutomationCore` fields.

    Args:
        config: The automations file.
        catalog: The catalog (the overdue alert needs each dataset's frequency).
        blocks: Block document id of every notification block reference used.
    """
    alerts = config.alerts
    wanted: list[dict[str, Any]] = []
    if alerts.failed.enabled:
        wanted.append({
            "name": f"{PREFIX}run failed",
            "description": "Une exécution de moisson ou de découverte a échoué (Failed ou Crashed).",
            "trigger": {"type": "event", "posture": "Reactive", "threshold": 1, "within": 0,
                        "expect": ["prefect.flow-run.Failed", "prefect.flow-run.Crashed"],
                        "match": {"prefect.resource.id": "prefect.flow-run.*"},
                        "match_related": {"prefect.resource.role": "flow", "prefect.resource.name": FLOWS}},
            "actions": [_notification(
                blocks[alerts.failed.notify or config.notify],
                "moisson: {{ flow_run.name }} {{ flow_run.state.name }}",
                "L'exécution {{ flow_run.name }} a fini en état {{ flow_run.state.name }}.\n\n"
                "{{ flow_run.state.message }}\n\nDétails et journaux : {{ flow_run|ui_url }}")],
        })
    if alerts.blocked.enabled:
        wanted.append({
            "name": f"{PREFIX}dataset blocked",
            "description": "Le contrôle de qualité a refusé un jeu de données ; rien n'a été publié.",
            "trigger": {"type": "event", "posture": "Reactive", "threshold": 1, "within": 0,
                        "expect": ["moisson.dataset.blocked"], "match": {"prefect.resource.id": "moisson.dataset.*"}},
            "actions": [_notification(
                blocks[alerts.blocked.notify or config.notify],
                "moisson : {{ event.resource.name }} bloqué par les contrôles de qualité",
                "{{ event.resource.name }} n'a pas été publié : {{ event.payload.error }}")],
        })
    if alerts.overdue.enabled:
        for ds in catalog.datasets.values():
            period = known.period if (known := FREQUENCIES.get(ds.frequency or "")) else None
            if period is None:
                continue
            allowed = period * (1 + alerts.overdue.grace)
            wanted.append({
                "name": f"{PREFIX}overdue · {ds.id}",
                "description": f"{ds.id} doit être moissonné selon la fréquence {ds.frequency} ; alerte après "
                               f"{allowed} sans succès.",
                "trigger": {"type": "event", "posture": "Proactive", "threshold": 1,
                            "within": max(allowed, dt.timedelta(seconds=10)).total_seconds(),
                            "expect": sorted(SUCCESS_EVENTS),
                            "match": {"prefect.resource.id": f"moisson.dataset.{ds.id}"}},
                "actions": [_notification(
                    blocks[alerts.overdue.notify or config.notify],
                    f"moisson : {ds.id} en retard",
                    f"{ds.id} (fréquence {ds.frequency}) n'a pas été moissonné avec succès depuis {allowed}. "
                    "Ses pages sur les portails paraissent désormais périmées : consultez ses dernières exécutions "
                    "dans l'interface de Prefect.")],
            })
    return wanted


def _block_ids(config: AutomationsFile) -> dict[str, UUID]:
    from prefect.blocks.core import Block

    refs = {config.notify} | {a.notify for a in (config.alerts.failed, config.alerts.blocked, config.alerts.overdue)
                              if a.notify}
    ids = {}
    for ref in sorted(refs):
        try:
            ids[ref] = Block.load(ref)._block_document_id
        except (ValueError, KeyError) as exc:
            raise ConfigError(f"bloc de notification {ref!r} introuvable ({exc}) : créez-le dans l'interface de "
                              "Prefect (Blocks → +) ou en Python, puis nommez-le `<type de bloc>/<nom>` dans le "
                              "fichier des automatisations, par exemple email-smtp/moisson-alerts ou "
                              "slack-webhook/equipe-sig") from None
    return ids


def apply_automations(config: AutomationsFile, catalog: Catalog) -> dict[str, list[str]]:
    """Create, update and delete moisson's automations on the Prefect server.

    Returns:
        Names by what happened to them: `created`, `updated`, `deleted`.

    Raises:
        ConfigError: No Prefect server is configured, or a notification block does not exist.
    """
    from prefect.client.orchestration import get_client
    from prefect.events.schemas.automations import AutomationCore

    from moisson.deployments.server import require_server

    require_server()

    wanted = {a["name"]: AutomationCore.model_validate(a)
              for a in automations_for(config, catalog, _block_ids(config))}
    done: dict[str, list[str]] = {"created": [], "updated": [], "deleted": []}
    with get_client(sync_client=True) as client:
        existing = {a.name: a for a in client.read_automations() if a.name.startswith(PREFIX)}
        for name, automation in wanted.items():
            if name in existing:
                client.update_automation(existing[name].id, automation)
                done["updated"].append(name)
            else:
                client.create_automation(automation)
                done["created"].append(name)
        for name in existing.keys() - wanted.keys():
            client.delete_automation(existing[name].id)
            done["deleted"].append(name)
    return done
