"""The `datagouv` target: publish datasets on data.gouv.fr (udata API v1), idempotently and verified.

Each moisson dataset becomes one data.gouv.fr dataset of the configured organization, holding one
hosted CSV resource whose file is replaced in place at each new version. The remote dataset is
found again by the stored id, then by the extras key `moisson:dataset_id`, then by its slug, so a
lost state store never creates a duplicate. What to write is decided by comparing the remote
dataset with what would be sent (not only our hashes), so nothing is written when nothing changed
and a field edited by hand on the platform is put back. After writing, the served file is
downloaded and checked (sha1, size) and the dataset re-read and compared. The quirks observed on
the real udata are pinned by this target's tests.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pyarrow.parquet as pq
import requests

from moisson.connectors.base import (
    Action,
    ConnectorConfig,
    DatasetDescriptor,
    Plan,
    Publication,
    PublishResult,
    PublishStatus,
)
from moisson.connectors.csvfile import write_csv
from moisson.connectors.multipart import MultipartFile
from moisson.core.errors import (
    ConfigError,
    NotFoundError,
    RejectedError,
    UnavailableError,
    redact_url,
)
from moisson.core.http import HttpClient
from moisson.core.ids import slugify
from moisson.core.notes import counted
from moisson.core.records import RemoteState
from moisson.core.secrets import Secret, reveal

#: Extras key holding the moisson dataset id: how a dataset is found again without the state store.
EXTRA_ID = "moisson:dataset_id"
#: Extras key holding the content hash of the published rows: tells a new version from a rerun.
EXTRA_CONTENT = "moisson:content_hash"
#: Resource extras key marking the resource moisson maintains (other resources are left alone).
EXTRA_RESOURCE = "moisson:resource"
RESOURCE_KIND = "csv"
#: udata tags are slugs of 3 to 96 characters (longer or shorter ones → 400).
TAG_LENGTH = (3, 96)
PAGE_SIZE = 100
_OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")
#: Dataset fields we send and verify, in the order a preview lists them.
_FIELDS = ("title", "description", "tags", "license", "frequency", "temporal_coverage", "spatial", "private",
           "extras")
#: Fields a PUT empties when it omits them (observed on udata 17.18.0): every PUT carries them.
_RESET_IF_OMITTED = ("tags", "temporal_coverage")
#: Metadata kept as provenance extras (data.gouv.fr has no field for them).
_PROVENANCE = ("producer", "attribution", "legal", "lineage", "landing_page")


class DataGouvOptions(ConnectorConfig):
    """Per-dataset options, under `targets: {<target id>: {...}}` of a dataset in the catalog.

    Attributes:
        dataset: Id (or slug) of an existing data.gouv.fr dataset to update instead of creating one.
        recreate: When the dataset was deleted on data.gouv.fr, publish it again as a new dataset
            (by default moisson stops and reports it, since someone deleted it on purpose).
    """

    dataset: str | None = None
    recreate: bool = False


@dataclass
class _Survey:
    """What is on the platform compared with what would be sent (read-only requests only)."""

    action: Action
    payload: dict[str, Any]
    resource_payload: dict[str, Any]
    remote: dict[str, Any] | None = None
    resource: dict[str, Any] | None = None
    changes: tuple[str, ...] = ()
    note: str | None = None


@dataclass(frozen=True)
class _File:
    """The CSV file sent for a version, with what the platform must report back."""

    path: Path
    sha1: str
    size: int


@dataclass
class _Run:
    """Mutable bits of one publication: remote ids as they become known, for the result."""

    survey: _Survey
    dataset_id: str
    remote: dict[str, Any] = field(default_factory=dict)
    resource: dict[str, Any] | None = None


class DataGouvTarget:
    """Publishes datasets to data.gouv.fr (or any udata ≥ 12, e.g. demo.data.gouv.fr).

    Args:
        config: API root, organization and API key (resolved by moisson's tasks).
        sleep: Waits between retries; replaced in tests.
    """

    kind: ClassVar[str] = "datagouv"
    #: data.gouv.fr harvests the portals flagged `harvested_by_datagouv` (see `PortalHarvester`).
    harvests_flagged_portals: ClassVar[bool] = True

    class Config(ConnectorConfig):
        """Settings of a data.gouv.fr target.

        Attributes:
            api: API v1 root; `https://demo.data.gouv.fr/api/1` for trials (own accounts and keys).
            organization: Id (or slug) of the organization publishing the datasets.
            api_key: `{env: NAME}` or `{block: "secret/NAME"}`; the key of an admin or editor member.
            private: Publish as drafts visible only to the organization's members.
            timeout: Seconds to wait for each answer (uploads of large files need more).
            retries: Further attempts after a 429, a 5xx, a timeout or a dropped connection.
        """

        api: str = "https://www.data.gouv.fr/api/1"
        organization: str
        api_key: Secret
        private: bool = False
        timeout: float = 120
        retries: int = 4

    def __init__(self, config: DataGouvTarget.Config, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.config = config
        self.sleep = sleep
        common = {"timeout": config.timeout, "connector": self.kind, "sleep": sleep}
        key = {"X-API-KEY": reveal(config.api_key, what=f"la clé `api_key` de la cible {self.kind}")}
        self.http = HttpClient(config.api, headers=key, retries=config.retries, **common)
        # Uploads retry in `_upload`, which reopens the file and first checks whether the lost attempt landed.
        self._once = HttpClient(config.api, headers=key, retries=0, **common)
        # The served file may sit on another host (a CDN): it never gets the API key.
        self._public = HttpClient(retries=config.retries, **common)
        self._licenses: frozenset[str] | None = None
        self._org_id: str | None = None

    def __repr__(self) -> str:
        return f"DataGouvTarget(api={self.config.api!r}, organization={self.config.organization!r})"

    # -- protocol ---------------------------------------------------------------------------------------------

    def plan(self, publication: Publication) -> Plan:
        """Say whether `publish` would create, update (which fields) or leave the dataset; writes nothing.

        Raises:
            ConfigError: The API key or organization is refused.
            RejectedError: The metadata cannot be published (no description, bad tags).
        """
        survey = self._survey(publication)
        return Plan(survey.action, survey.changes, survey.note)

    def publish(self, publication: Publication) -> PublishResult:
        """Create or update the dataset and its CSV resource, then verify what the platform serves.

        Returns:
            `created`, `updated` (with the changed fields) or `unchanged` (nothing written), with the
            dataset id, its page and `extra` {`resource_id`, `sha1`} to remember.

        Raises:
            NotFoundError: The dataset was deleted on data.gouv.fr and the catalog does not say
                `recreate: true`, or the checked Parquet file is missing.
            RejectedError: Refused metadata (each field's error listed), an unknown licence, or the
                platform stored something else than what was sent.
            ConfigError: The API key is refused or may not publish for the organization.
            UnavailableError: The platform stayed unreachable or kept failing after retries.
        """
        dataset_id = publication.dataset.id
        survey = self._survey(publication)
        if survey.action == "skip":
            raise NotFoundError(survey.note or "supprimé sur la plateforme", dataset_id=dataset_id, connector=self.kind)
        if survey.action == "unchanged":
            return self._result("unchanged", survey.remote or {}, survey.resource, ())
        if not publication.data.is_file():
            raise NotFoundError(f"le fichier de données contrôlé {publication.data} est absent ; relancez la moisson",
                                dataset_id=dataset_id, connector=self.kind)
        if "license" in survey.payload and (survey.action == "create" or "license" in survey.changes):
            self._check_license(survey.payload["license"], dataset_id)
        run = _Run(survey, dataset_id, remote=survey.remote or {}, resource=survey.resource)
        with tempfile.TemporaryDirectory(prefix=f"{dataset_id}-datagouv-") as tmp:
            sent = None
            if survey.action == "create":
                body = {**survey.payload, "organization": self._organization(dataset_id)}
                run.remote = self._call("POST", "datasets/", dataset_id, json=body)
            if "file" in survey.changes:
                sent = self._csv(publication, Path(tmp))
                self._send_file(run, sent)
            if run.resource is not None and (sent or "resource" in survey.changes):
                # An upload resets the title to the file name: put the resource metadata back after it.
                run.resource = self._call("PUT", f"datasets/{run.remote['id']}/resources/{run.resource['id']}/",
                                          dataset_id, json=survey.resource_payload)
            if survey.action == "update" and set(survey.changes) & {*_FIELDS, "unarchived", "file"}:
                # After the file: the content hash in extras then marks a version as complete.
                run.remote = self._call("PUT", f"datasets/{run.remote['id']}/", dataset_id,
                                        json=survey.payload)
            self._verify(run, sent)
        status = "created" if survey.action == "create" else "updated"
        return self._result(status, run.remote, run.resource, survey.changes, sent)

    def archive(self, dataset: DatasetDescriptor, previous: RemoteState) -> PublishResult:
        """Mark the dataset archived on data.gouv.fr (kept, downloadable, out of search); never deletes.

        Raises:
            NotFoundError: No such dataset on the platform (never published, or deleted there).
            ConfigError: The API key may not edit it.
        """
        remote_id = previous.remote_id or self._find_by_extras(dataset.id)  # never by slug: not ours for sure
        remote = self._dataset(remote_id, dataset.id) if remote_id else None
        if remote is None or remote.get("deleted"):
            raise NotFoundError(f"aucun jeu de données à archiver sur {redact_url(self.config.api)} : il n'y a "
                                "jamais été publié ou il a été supprimé", dataset_id=dataset.id, connector=self.kind)
        if remote.get("archived"):
            return self._result("archived", remote, None, ())
        body = {"archived": dt.datetime.now(dt.UTC).isoformat(), "private": remote.get("private", self.config.private),
                **{name: remote.get(name) for name in _RESET_IF_OMITTED}}
        remote = self._call("PUT", f"datasets/{remote['id']}/", dataset.id, json=body)
        return self._result("archived", remote, None, ("archived",))

    # -- reading the platform ---------------------------------------------------------------------------------

    def _survey(self, publication: Publication) -> _Survey:
        dataset = publication.dataset
        options = self._options(publication)
        payload, resource_payload = self._payloads(publication)
        previous = publication.previous or RemoteState()
        known = previous.remote_id or options.dataset
        remote = self._dataset(known, dataset.id) if known else None
        gone = known is not None and (remote is None or bool(remote.get("deleted")))
        if remote is None or gone:
            found = self._find_by_extras(dataset.id, payload["title"])
            remote = self._dataset(found, dataset.id) if found else None
        if gone and remote is None:
            if not options.recreate:
                return _Survey("skip", payload, resource_payload, note=(
                    f"le jeu de données {known} a été supprimé sur {redact_url(self.config.api)} ; "
                    f"restaurez-le sur la plateforme, ou écrivez `recreate: true` dans les options de cette cible "
                    f"pour ce jeu de données afin de le publier à nouveau"))
            return _Survey("create", payload, resource_payload, changes=("dataset", "file"),
                           note="supprimé sur la plateforme ; publié à nouveau (recreate: true)")
        if remote is None:
            return _Survey("create", payload, resource_payload, changes=("dataset", "file"))
        payload["extras"] = {**(remote.get("extras") or {}), **payload["extras"]}
        for name in _RESET_IF_OMITTED:  # keep what was set by hand on the platform when the catalog says nothing
            payload.setdefault(name, remote.get(name))
        resource = _match_resource(remote, dataset.id, previous.extra.get("resource_id"))
        changes = [name for name in _FIELDS if name in payload and _differs(name, remote.get(name), payload[name])]
        if "extras" in changes and _only_content(remote.get("extras") or {}, payload["extras"]):
            changes.remove("extras")  # a new content hash alone is reported as `file`
        if resource is None or (remote.get("extras") or {}).get(EXTRA_CONTENT) != publication.content_hash:
            changes.append("file")
        elif any(_differs(k, resource.get(k), v) for k, v in resource_payload.items()):
            changes.append("resource")
        if remote.get("archived"):
            payload["archived"] = None
            changes.append("unarchived")
        action = "update" if changes else "unchanged"
        return _Survey(action, payload, resource_payload, remote, resource, tuple(changes))

    def _dataset(self, ref: str, dataset_id: str) -> dict[str, Any] | None:
        """The remote dataset `ref` (id or slug), or None when it does not exist (404, 410)."""
        response = self._request("GET", f"datasets/{ref}/", dataset_id, ok=(404, 410))
        return None if response.status_code in (404, 410) else response.json()

    def _find_by_extras(self, dataset_id: str, title: str | None = None) -> str | None:
        """Id of the organization's live dataset carrying our extras key, else (given a title) the one with its slug."""
        by_slug = None
        for remote in self._org_datasets(dataset_id):
            if remote.get("deleted"):  # the organization listing includes soft-deleted datasets
                continue
            owner = (remote.get("extras") or {}).get(EXTRA_ID)
            if owner == dataset_id:
                return remote["id"]
            if title and owner is None and by_slug is None and remote.get("slug") == slugify(title):
                by_slug = remote["id"]
        return by_slug

    def _org_datasets(self, dataset_id: str) -> Iterator[dict[str, Any]]:
        path: str | None = f"organizations/{self._organization(dataset_id)}/datasets/"
        params: dict[str, Any] | None = {"page_size": PAGE_SIZE}
        while path:
            page = self._call("GET", path, dataset_id, params=params)
            yield from page.get("data", [])
            path, params = page.get("next_page"), None  # next_page is absolute and carries the query

    def _organization(self, dataset_id: str) -> str:
        """The organization's ObjectId (the search and create calls refuse a slug)."""
        if self._org_id is None:
            org = self.config.organization
            if not _OBJECT_ID.match(org):
                response = self._request("GET", f"organizations/{org}/", dataset_id, ok=(404, 410))
                if response.status_code != 200:
                    raise ConfigError(f"l'organisation {org!r} n'existe pas sur {redact_url(self.config.api)} : "
                                      "copiez son identifiant depuis sa page sur la plateforme dans la "
                                      "configuration de la cible",
                                      dataset_id=dataset_id, connector=self.kind)
                org = response.json()["id"]
            self._org_id = org
        return self._org_id

    def _check_license(self, license_id: str, dataset_id: str) -> None:
        """Refuse a licence the platform does not know: it would silently store `notspecified`."""
        if self._licenses is None:
            self._licenses = frozenset(item["id"] for item in self._call("GET", "datasets/licenses/", dataset_id))
        if license_id not in self._licenses:
            known = ", ".join(sorted(self._licenses))
            raise RejectedError(f"la licence {license_id!r} n'est pas proposée par {redact_url(self.config.api)} "
                                f"(elle serait enregistrée comme 'notspecified') ; indiquez dans "
                                f"`metadata.license` l'une de : {known}",
                                dataset_id=dataset_id, connector=self.kind)

    # -- building what is sent --------------------------------------------------------------------------------

    def _options(self, publication: Publication) -> DataGouvOptions:
        try:
            return DataGouvOptions.model_validate(dict(publication.options))
        except ValueError as exc:
            raise ConfigError(f"options incorrectes pour la cible {self.kind} dans l'entrée du jeu de données "
                              f"du catalogue : {exc} ; options possibles : {', '.join(DataGouvOptions.model_fields)}",
                              dataset_id=publication.dataset.id, connector=self.kind) from None

    def _payloads(self, publication: Publication) -> tuple[dict[str, Any], dict[str, Any]]:
        """The dataset body (API v1 `DatasetForm`) and the resource metadata body."""
        dataset, meta = publication.dataset, publication.dataset.metadata
        if not (meta.description or "").strip():
            raise RejectedError("data.gouv.fr exige une description : ajoutez `metadata.description` "
                                "(Markdown) à ce jeu de données dans le catalogue",
                                dataset_id=dataset.id, connector=self.kind)
        payload: dict[str, Any] = {"title": dataset.title, "description": meta.description,
                                   "tags": _tags(meta.keywords, dataset.id), "private": self.config.private}
        if meta.license:
            payload["license"] = meta.license
        if meta.frequency:
            payload["frequency"] = meta.frequency
        if meta.temporal and (meta.temporal.start or meta.temporal.end):
            payload["temporal_coverage"] = {"start": _iso(meta.temporal.start), "end": _iso(meta.temporal.end)}
        if meta.spatial and (meta.spatial.zones or meta.spatial.granularity):
            payload["spatial"] = {"zones": meta.spatial.zones, "granularity": meta.spatial.granularity}
        extras = {f"moisson:{name}": str(value) for name in _PROVENANCE if (value := getattr(meta, name))}
        if meta.modified:
            extras["moisson:modified"] = meta.modified.isoformat()
        payload["extras"] = {**meta.extras, **extras, EXTRA_ID: dataset.id, EXTRA_CONTENT: publication.content_hash}
        columns = pq.read_schema(publication.data).names if publication.data.is_file() else []
        description = f"{counted(publication.rows, 'ligne')}. Colonnes : {', '.join(columns)}."
        if publication.geometry:
            description += f" La colonne {publication.geometry} contient la géométrie en GeoJSON (WGS84)."
        resource = {"title": f"{dataset.title} (CSV)", "description": description, "format": RESOURCE_KIND,
                    "type": "main", "schema": _schema(dataset.schema), "extras": {EXTRA_RESOURCE: RESOURCE_KIND}}
        return payload, resource

    def _csv(self, publication: Publication, folder: Path) -> _File:
        schema = publication.table_schema or {}
        dates = frozenset(f["name"] for f in schema.get("fields", []) if f.get("type") == "date")
        path = folder / f"{publication.dataset.id}.csv"
        write_csv(publication.data, path, dates)
        digest = hashlib.sha1()  # what udata reports in `checksum`
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return _File(path, digest.hexdigest(), path.stat().st_size)

    # -- writing ----------------------------------------------------------------------------------------------

    def _send_file(self, run: _Run, sent: _File) -> None:
        """Replace the resource's file in place, or upload the first one; skip a file already there."""
        if run.resource and _checksum(run.resource) == sent.sha1 and run.resource.get("filesize") == sent.size:
            return  # a rerun after a crash between upload and metadata: the platform already has this file
        remote_id = run.remote["id"]
        rid = run.resource["id"] if run.resource else None
        path = f"datasets/{remote_id}/resources/{rid}/upload/" if rid else f"datasets/{remote_id}/upload/"
        for attempt in range(self.config.retries + 1):
            try:
                # Streamed from disk, read again from its start by a retried request.
                with MultipartFile(sent.path, "file", sent.path.name, "text/csv") as body:
                    run.resource = self._call("POST", path, run.dataset_id, client=self._once, data=body,
                                              headers=body.headers)
                return
            except UnavailableError as exc:
                if attempt >= self.config.retries:
                    raise
                # Two uploads of one name in the same second answer 500 (FileExists): wait at least 1 s.
                wait = getattr(exc, "retry_after", None) or 2.0 ** attempt
                self.sleep(min(wait, self.http.max_delay))
                if rid is None:
                    # The lost answer may hide a resource that was created: adopt it rather than add a second.
                    current = self._dataset(remote_id, run.dataset_id) or {}
                    landed = _match_resource(current, run.dataset_id, None)
                    if landed is not None:
                        rid = landed["id"]
                        path = f"datasets/{remote_id}/resources/{rid}/upload/"
                        if _checksum(landed) == sent.sha1:
                            run.resource = landed
                            return

    def _verify(self, run: _Run, sent: _File | None) -> None:
        """Re-read the dataset and download the served file; a difference fails the publication."""
        remote = self._dataset(run.remote["id"], run.dataset_id)
        if remote is None:
            raise UnavailableError("le jeu de données a disparu juste après sa publication ; moisson réessaiera",
                                   dataset_id=run.dataset_id, connector=self.kind)
        run.remote = remote
        wrong = [name for name in _FIELDS if name in run.survey.payload
                 and _differs(name, remote.get(name), run.survey.payload[name])]
        if wrong:
            shown = " ; ".join(f"{n} : envoyé {run.survey.payload[n]!r}, enregistré {remote.get(n)!r}" for n in wrong)
            raise RejectedError(f"data.gouv.fr a enregistré d'autres métadonnées que celles envoyées ({shown}) ; "
                                "vérifiez ces valeurs par rapport aux vocabulaires de la plateforme",
                                dataset_id=run.dataset_id, connector=self.kind)
        resource = next((r for r in remote.get("resources", []) if run.resource and r["id"] == run.resource["id"]),
                        None)
        if resource is None:
            raise UnavailableError("la ressource CSV manque au jeu de données après sa publication ; moisson "
                                   "réessaiera", dataset_id=run.dataset_id, connector=self.kind)
        run.resource = resource
        if sent is None:
            return
        response = self._public.request("GET", resource["url"], dataset_id=run.dataset_id, stream=True)
        digest, size = hashlib.sha1(), 0
        with response:  # under the exchange's deadline until the last byte: a dribbling file server fails in time
            for block in self._public.iter_body(response, 1 << 20, dataset_id=run.dataset_id):
                digest.update(block)
                size += len(block)
        served = (digest.hexdigest(), size)
        if served != (sent.sha1, sent.size) or (_checksum(resource), resource.get("filesize")) != served:
            raise UnavailableError(f"le fichier servi par data.gouv.fr diffère de celui envoyé (sha1 {served[0]}, "
                                   f"{served[1]} octets ; envoyé : {sent.sha1}, {sent.size} octets) ; moisson va "
                                   "le renvoyer", dataset_id=run.dataset_id, connector=self.kind)

    # -- HTTP -------------------------------------------------------------------------------------------------

    def _request(self, method: str, path: str, dataset_id: str, *, client: HttpClient | None = None,
                 ok: tuple[int, ...] = (), **kwargs: Any) -> requests.Response:
        """Send through the shared client; 400s become per-field messages, 401/403 name the organization."""
        try:
            response = (client or self.http).request(method, path, ok=(400, *ok), dataset_id=dataset_id, **kwargs)
        except ConfigError as exc:
            raise ConfigError(
                f"{exc.message}. La clé d'API a été refusée, ou son compte ne peut pas publier pour l'organisation "
                f"{self.config.organization!r} : vérifiez la clé sur {redact_url(self.config.api)} (profil → API ; "
                "les clés expirent) et que le compte est membre administrateur ou éditeur de cette organisation",
                dataset_id=dataset_id, connector=self.kind) from None
        if response.status_code == 400 and 400 not in ok:
            raise RejectedError(f"{method} {redact_url(response.url)} a refusé le jeu de données : "
                                f"{_field_errors(response)} ; corrigez ces valeurs dans le catalogue",
                                dataset_id=dataset_id, connector=self.kind)
        return response

    def _call(self, method: str, path: str, dataset_id: str, **kwargs: Any) -> Any:
        """`_request` and decode the JSON answer."""
        response = self._request(method, path, dataset_id, **kwargs)
        return response.json() if response.content else None

    def _result(self, status: PublishStatus, remote: Mapping[str, Any], resource: Mapping[str, Any] | None,
                changes: tuple[str, ...], sent: _File | None = None) -> PublishResult:
        extra: dict[str, Any] = {}
        if resource:
            extra = {"resource_id": resource["id"], "sha1": sent.sha1 if sent else _checksum(resource)}
        # `page` is null on a udata without its front end (the test peer): the API URL still locates it.
        return PublishResult(status, remote.get("id"), remote.get("page") or remote.get("uri"), changes, extra)


# -- helpers ----------------------------------------------------------------------------------------------------


def _tags(keywords: list[str], dataset_id: str) -> list[str]:
    """Keywords as udata stores them (slugs); refuses those it would reject, naming them."""
    low, high = TAG_LENGTH
    bad = [word for word in keywords if not low <= len(slugify(word, default="")) <= high]
    if bad:
        raise RejectedError(f"les mots-clés de data.gouv.fr doivent compter de {low} à {high} caractères : {bad} ; "
                            "allongez-les ou retirez-les dans `metadata.keywords`",
                            dataset_id=dataset_id, connector="datagouv")
    return list(dict.fromkeys(slugify(word) for word in keywords))


def _schema(reference: str | None) -> dict[str, str] | None:
    """`name@version` of schema.data.gouv.fr → `{name, version}`; a URL → `{url}`; a local file → None."""
    if not reference:
        return None
    if reference.startswith(("http://", "https://")):
        return {"url": reference}
    name, at, version = reference.partition("@")
    if at and not name.endswith(".json"):
        return {"name": name, "version": version or "latest"}
    return None


def _iso(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def _checksum(resource: Mapping[str, Any]) -> str | None:
    return (resource.get("checksum") or {}).get("value")


def _match_resource(remote: Mapping[str, Any], dataset_id: str, known: str | None) -> dict[str, Any] | None:
    """Our CSV resource: the remembered id, else our extras mark, else our file name."""
    resources = remote.get("resources") or []
    tests: list[Callable[[Mapping[str, Any]], bool]] = [
        lambda r: r["id"] == known,
        lambda r: (r.get("extras") or {}).get(EXTRA_RESOURCE) == RESOURCE_KIND,
        lambda r: str(r.get("url", "")).endswith(f"/{dataset_id}.{RESOURCE_KIND}"),
    ]
    for test in tests:
        for resource in resources:
            if test(resource):
                return resource
    return None


def _differs(name: str, remote: Any, sent: Any) -> bool:
    """Whether the platform's value differs from ours, ignoring what udata normalises or adds."""
    if name == "tags":
        return sorted(remote or []) != sorted(sent)
    if name == "extras":
        return any((remote or {}).get(key) != value for key, value in sent.items())
    if name == "spatial":
        remote = remote or {}
        return sorted(remote.get("zones") or []) != sorted(sent["zones"]) or remote.get("granularity") != sent.get(
            "granularity")
    if name == "temporal_coverage":
        remote, sent = remote or {}, sent or {}
        return any(str(remote.get(k) or "")[:10] != (sent.get(k) or "") for k in ("start", "end"))
    if name == "schema":  # udata answers {name, version, url} with the unset ones null
        if sent is None:
            return bool(remote and any(remote.values()))
        return not remote or any(remote.get(k) != v for k, v in sent.items())
    if name == "format":
        return str(remote or "").lower() != sent
    return remote != sent


def _only_content(remote: Mapping[str, Any], sent: Mapping[str, Any]) -> bool:
    """True when the extras differ only by the content hash (reported as `file`, not `extras`)."""
    return all(remote.get(k) == v for k, v in sent.items() if k != EXTRA_CONTENT)


def _field_errors(response: requests.Response) -> str:
    """`{"errors": {"spatial": {"zones": [...]}, "tags": [...]}}` → `spatial.zones: …; tags: …`."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or "sans détail"
    lines: list[str] = []

    def walk(node: Any, at: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{at}.{key}" if at else str(key))
        elif isinstance(node, list) and all(isinstance(x, str) for x in node):
            lines.append(f"{at} : {' '.join(node)}")
        else:
            lines.append(f"{at} : {node}" if at else str(node))

    walk(body.get("errors") or {}, "") if isinstance(body, dict) else walk(body, "")
    if isinstance(body, dict) and body.get("message") and not lines:
        lines.append(str(body["message"]))
    return " ; ".join(lines) or "sans détail"

