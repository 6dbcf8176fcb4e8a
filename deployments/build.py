"""Prefect deployments generated from the catalog: one per dataset, one discovery per CSW source.

Per dataset rather than one deployment with many schedules, because the Prefect UI lists,
pauses, runs and alerts per deployment, and each dataset has its own frequency. Every
deployment is named after its dataset (or source), so serving or deploying again after a
catalog change updates it in place instead of adding a second one, and its single
schedule carries the slug `catalog`, so a new frequency replaces the old schedule.

Entrypoints are module paths (`moisson.flows.harvest.harvest_dataset`): a process, Docker or
Kubernetes worker with moisson installed runs them, with no code storage to configure.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.deployments.runner import EntrypointType, RunnerDeployment
from prefect.schedules import Schedule

from moisson.catalog.model import Catalog, default_path
from moisson.connectors import registry
from moisson.connectors.base import RecordSource
from moisson.deployments.schedules import describe, next_runs, schedule_for

#: Tag of every deployment moisson generates (to find the ones a catalog no longer has).
TAG = "moisson"

#: How often a catalog source is searched for new, changed and missing records.
DISCOVERY_FREQUENCY = "weekly"


@dataclass(frozen=True)
class DeploymentSpec:
    """What one generated deployment is, before Prefect objects are built from it.

    Attributes:
        flow: The Prefect flow object it runs.
        name: Deployment name (the dataset or source id).
        parameters: Flow parameters of every run.
        schedule: Its schedule, or None when it only runs on demand.
        tags: `moisson`, `source:<id>`, `target:<id>`, `frequency:<id>`.
        description: Shown in the Prefect UI.
    """

    flow: Any
    name: str
    parameters: dict[str, Any]
    schedule: Schedule | None
    tags: list[str] = field(default_factory=list)
    description: str = ""

    @property
    def full_name(self) -> str:
        """`<flow name>/<deployment name>`, as `prefect deployment run` wants it."""
        return f"{self.flow.name}/{self.name}"

    def summary(self, runs: int = 3) -> dict[str, Any]:
        """JSON-ready description with the next `runs` run times (computed offline)."""
        return {"name": self.full_name, "schedule": describe(self.schedule),
                "next_runs": [when.isoformat() for when in next_runs(self.schedule, runs)],
                "tags": self.tags, "parameters": self.parameters}

    def to_deployment(self) -> RunnerDeployment:
        """The Prefect deployment: at most one run at a time, a new one cancelled while one runs."""
        return self.flow.to_deployment(
            name=self.name,
            parameters=self.parameters,
            schedules=[self.schedule] if self.schedule else [],
            tags=self.tags,
            description=self.description,
            concurrency_limit=ConcurrencyLimitConfig(limit=1,
                                                     collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW),
            entrypoint_type=EntrypointType.MODULE_PATH,
        )


def _catalog_parameter(catalog: Catalog) -> str | None:
    # The default catalog is left to each worker's MOISSON_CATALOG, so a container can mount it elsewhere.
    return None if catalog.path == default_path().resolve() else str(catalog.path)


def dataset_specs(catalog: Catalog) -> list[DeploymentSpec]:
    """One harvest deployment per dataset of the catalog, in file order."""
    from moisson.flows.harvest import harvest_dataset  # deferred: the flow module imports the whole pipeline

    timezone = catalog.model.defaults.timezone
    specs = []
    for ds in catalog.datasets.values():
        targets = list(catalog.targets_of(ds))
        tags = [TAG, f"source:{ds.source}", *(f"target:{t}" for t in targets),
                f"frequency:{ds.frequency or 'none'}"]
        title = ds.metadata.get("title") or ds.id
        specs.append(DeploymentSpec(
            flow=harvest_dataset, name=ds.id,
            parameters={"dataset_id": ds.id, "catalog": _catalog_parameter(catalog)},
            schedule=schedule_for(ds.id, ds.frequency, ds.schedule, timezone),
            tags=tags, description=f"{title} : moisson depuis {ds.source}, contrôle, publication sur "
                                     f"{', '.join(targets)}."))
    return specs


def _discover_flow() -> Callable[..., Any] | None:
    # The discovery flow is optional: a moisson without it still deploys its datasets.
    if importlib.util.find_spec("moisson.flows.discover") is None:
        return None
    from moisson.flows.discover import discover_source

    return discover_source


def discovery_specs(catalog: Catalog) -> list[DeploymentSpec]:
    """One discovery deployment per record source (`RecordSource`; none without `moisson.flows.discover`)."""
    discover = _discover_flow()
    if discover is None:
        return []
    timezone = catalog.model.defaults.timezone
    return [DeploymentSpec(
        flow=discover, name=name,
        parameters={"source_id": name, "catalog": _catalog_parameter(catalog)},
        schedule=schedule_for(f"discover-{name}", DISCOVERY_FREQUENCY, None, timezone),
        tags=[TAG, f"source:{name}", f"frequency:{DISCOVERY_FREQUENCY}"],
        description=f"Repérer les fiches nouvelles, modifiées et disparues de la source {name} du catalogue.")
        for name, ref in catalog.model.sources.items()
        if issubclass(registry.load("source", ref.connector), RecordSource)]


def specs_of(catalog: Catalog) -> list[DeploymentSpec]:
    """Every deployment the catalog asks for."""
    return dataset_specs(catalog) + discovery_specs(catalog)


def build_deployments(catalog: Catalog) -> list[RunnerDeployment]:
    """The Prefect deployments of the catalog, built offline (no server needed)."""
    return [spec.to_deployment() for spec in specs_of(catalog)]
