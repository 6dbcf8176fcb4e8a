"""Putting the catalog's deployments on a Prefect server: serve them here, or register them in a work pool.

Both upsert the concurrency limits first (a missing limit is not enforced), then create or
update each deployment by name, so rerunning after a catalog change updates schedules
without duplicates. `prune=True` also deletes the moisson deployments the catalog no
longer has (a removed or renamed dataset), which would otherwise keep being scheduled.
"""

from __future__ import annotations

from prefect import deploy, serve
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterTags

from moisson.catalog.model import Catalog
from moisson.core.errors import ConfigError
from moisson.deployments.build import TAG, specs_of
from moisson.tasks.limits import ensure_limits

#: Flow runs a `moisson serve` process runs at once when not told: Prefect's default has no cap,
#: and after downtime a backlog of late runs would start all together.
DEFAULT_LIMIT = 4

#: Deployments read per request (the server's default page size).
_PAGE = 200


def require_server() -> str:
    """The Prefect API URL these commands talk to.

    Raises:
        ConfigError: `PREFECT_API_URL` is not set: a temporary server would vanish with the
            process, taking the schedules and alerts with it.
    """
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    if not url:
        raise ConfigError("PREFECT_API_URL n'est pas définie : démarrez un serveur Prefect (`prefect server start`, "
                          "voir « Production server on PostgreSQL » dans le README) et exportez "
                          "PREFECT_API_URL=http://<hôte>:4200/api")
    return url


def prune_stale(catalog: Catalog) -> list[str]:
    """Delete moisson deployments that the catalog no longer generates; return their names."""
    wanted = {spec.full_name for spec in specs_of(catalog)}
    removed = []
    ours = DeploymentFilter(tags=DeploymentFilterTags(all_=[TAG]))
    with get_client(sync_client=True) as client:
        tagged: list = []
        while page := client.read_deployments(deployment_filter=ours, limit=_PAGE, offset=len(tagged)):
            tagged += page
        flows: dict = {}
        for dep in tagged:
            if dep.flow_id not in flows:
                flows[dep.flow_id] = client.read_flow(dep.flow_id).name
            full_name = f"{flows[dep.flow_id]}/{dep.name}"
            if full_name not in wanted:
                client.delete_deployment(dep.id)
                removed.append(full_name)
    return removed


def serve_catalog(catalog: Catalog, limit: int = DEFAULT_LIMIT, prune: bool = False) -> None:
    """Run every deployment of the catalog from this process until it is stopped.

    Schedules stay active when the process stops (`pause_on_shutdown=False`): a restart of
    the machine must not silently pause every dataset.

    Raises:
        ConfigError: No Prefect server is configured.
    """
    require_server()
    ensure_limits(catalog)
    if prune:
        prune_stale(catalog)
    serve(*[spec.to_deployment() for spec in specs_of(catalog)], limit=limit, pause_on_shutdown=False)


def deploy_catalog(catalog: Catalog, pool: str, image: str | None = None, prune: bool = False) -> list[str]:
    """Register every deployment of the catalog in a work pool; return their full names.

    Args:
        catalog: The catalog.
        pool: Work pool name (`prefect work-pool create NAME --type process|docker|kubernetes`).
        image: Docker image with moisson installed, for Docker and Kubernetes pools; used
            as is (moisson never builds or pushes images).
        prune: Also delete the moisson deployments the catalog no longer has.

    Raises:
        ConfigError: No Prefect server is configured, the work pool does not exist, or it
            does not take the image.
    """
    require_server()
    ensure_limits(catalog)
    specs = specs_of(catalog)
    try:
        deploy(*[spec.to_deployment() for spec in specs], work_pool_name=pool, image=image, build=False,
               push=False, print_next_steps_message=False)
    except ValueError as exc:
        missing = "Could not find work pool" in str(exc)
        hint = f" (créez-le avec `prefect work-pool create {pool} --type process`)" if missing else ""
        raise ConfigError(f"impossible de déployer dans le work pool {pool!r} : {exc}{hint}") from None
    if prune:
        prune_stale(catalog)
    return [spec.full_name for spec in specs]
