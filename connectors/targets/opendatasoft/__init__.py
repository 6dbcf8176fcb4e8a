"""The `opendatasoft` target: publish to an Opendatasoft (Huwise) portal through the Automation API v1.0.

One dataset per catalog dataset, found again by its stored uid, else by its slug
(`dataset_id`), else created; one uploaded CSV resource whose file is replaced at each new
version; metadata written field by field (a template `PUT` deletes the fields it omits);
then `publish`, wait for the portal to process, and check through the Explore API v2.1 that
the public dataset holds as many records as rows were sent. Archiving unpublishes, never
deletes. Its API contract and pitfalls are pinned by the tests of this target.
"""

from __future__ import annotations

import datetime as dt
import itertools
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from moisson.connectors.base import ConnectorConfig, DatasetDescriptor, Plan, Publication, PublishResult
from moisson.connectors.csvfile import write_csv
from moisson.connectors.multipart import MultipartFile
from moisson.connectors.targets.opendatasoft.metadata import Fields, TemplateField, metadata_values
from moisson.core.errors import NotFoundError, RejectedError, UnavailableError
from moisson.core.http import HttpClient
from moisson.core.records import RemoteState
from moisson.core.secrets import Secret, reveal

AUTOMATION = "/api/automation/v1.0"
EXPLORE = "/api/explore/v2.1"
#: Statuses during which the portal refuses writes with `400 invalid_dataset_status`.
BUSY = frozenset({"queued", "processing", "aborting_processing", "deleting", "saving_version"})
FAILED = frozenset({"error", "limit_reached"})
#: Templates always read: `internal` holds the licence and theme ids on most portals.
BASE_TEMPLATES = ("default", "internal")
CSV_PARAMS = {"separator": ",", "encoding": "utf-8", "headers_first_row": True, "first_row_no": 1,
              "doublequote": True}


class OpendatasoftTarget:
    """Publishes datasets to an Opendatasoft portal.

    Args:
        config: Portal, API key and what to fill.
        sleep: Waits between status polls (replaced in tests).
        clock: Monotonic seconds, for the per-dataset time limit (replaced in tests).
    """

    kind: ClassVar[str] = "opendatasoft"

    class Config(ConnectorConfig):
        """Settings of an Opendatasoft portal.

        Attributes:
            domain: Portal URL, e.g. `https://data.example-metropole.fr`.
            api_key: API key of an account allowed to edit and publish datasets.
            metadata_templates: Templates to fill: `default` always, `dcat` and `inspire` when the
                portal has them on.
            licenses: Explicit `{data.gouv.fr licence id: portal licence id}` for licences whose
                portal name moisson does not recognise.
            harvested_by_datagouv: data.gouv.fr already harvests this portal: datasets published
                here are not also published directly to data.gouv.fr (no double publication).
            publish_timeout: Seconds to wait for one dataset to be processed and published.
            poll_interval: First delay between two status reads; grows up to `max_poll_interval`.
            max_poll_interval: Longest delay between two status reads.
            timeout: Seconds to wait for one HTTP answer.
        """

        domain: str
        api_key: Secret
        metadata_templates: list[Literal["default", "dcat", "inspire"]] = Field(default_factory=lambda: ["default"])
        licenses: dict[str, str] = Field(default_factory=dict)
        harvested_by_datagouv: bool = False
        publish_timeout: float = Field(1800, gt=0)
        poll_interval: float = Field(3, gt=0)
        max_poll_interval: float = Field(30, gt=0)
        timeout: float = Field(60, gt=0)

        @field_validator("domain")
        @classmethod
        def _domain(cls, value: str) -> str:
            if not value.startswith(("https://", "http://")):
                raise ValueError("`domain` doit être l'adresse du portail, comme https://data.example-metropole.fr")
            return value.rstrip("/")

        @field_validator("metadata_templates")
        @classmethod
        def _templates(cls, value: list[str]) -> list[str]:
            return ["default", *dict.fromkeys(t for t in value if t != "default")]

    def __init__(self, config: OpendatasoftTarget.Config, *, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.sleep, self.clock = sleep, clock
        key = reveal(config.api_key, what="la clé `api_key` Opendatasoft")
        common = {"timeout": config.timeout, "connector": self.kind, "sleep": sleep}
        self.api = HttpClient(config.domain + AUTOMATION, headers={"Authorization": f"Apikey {key}"}, **common)
        # Anonymous on purpose: the check is that the public sees the dataset.
        self.explore = HttpClient(config.domain + EXPLORE, **common)
        self._fields: dict[str, dict[str, TemplateField]] | None = None

    def __repr__(self) -> str:
        return f"OpendatasoftTarget(domain={self.config.domain!r})"

    # -- protocol -----------------------------------------------------------------------------

    def plan(self, publication: Publication) -> Plan:
        """Say what `publish` would do, with the metadata fields that would change, writing nothing.

        Raises:
            RejectedError: The licence or a theme is unknown to the portal.
            ConnectorError: The portal cannot be read.
        """
        dataset = self._find(publication)
        if dataset is None:
            return Plan("create", ("dataset", "data", "metadata"),
                        note=f"nouveau jeu de données {self._slug(publication)}")
        if publication.unchanged and dataset.get("is_published"):
            return Plan("unchanged")
        changes = self._metadata_changes(dataset["uid"], self._values(publication))
        return Plan("update", self._data_changes(publication, dataset) + tuple(changes))

    def publish(self, publication: Publication) -> PublishResult:
        """Create or update the dataset, publish it, wait until it is processed and check it.

        Returns:
            `created`, `updated` (with the changed metadata fields, `data`, `published`) or
            `unchanged` having written nothing.

        Raises:
            RejectedError: Unknown licence or theme, a refused payload, processing ended in
                error or over a quota (with the portal's message), or fewer records than rows.
            UnavailableError: The portal stayed busy or unreachable past the time limit.
            ConfigError: The API key is refused.
        """
        dataset_id = publication.dataset.id
        deadline = self.clock() + self.config.publish_timeout
        dataset = self._find(publication)
        if dataset is not None and publication.unchanged and dataset.get("is_published"):
            return PublishResult("unchanged", dataset["uid"], self._page(dataset["dataset_id"]),
                                 extra=dict(publication.previous.extra) if publication.previous else {})
        values = self._values(publication)  # before any write: a bad licence sends nothing
        if dataset is None:
            dataset = self._write("POST", "/datasets/", deadline, dataset_id, json={
                "dataset_id": self._slug(publication), "is_restricted": False,
                "metadata": {t: {f: {"value": v} for f, v in fields.items()} for t, fields in values.items()}})
            status, changes = "created", ["dataset", "metadata"]
        else:
            status = "updated"
            changes = self._metadata_changes(dataset["uid"], values)
            for name in changes:
                template, field_name = name.split(".", 1)
                self._write("PUT", f"/datasets/{dataset['uid']}/metadata/{template}/{field_name}/", deadline,
                            dataset_id, json={"value": values[template][field_name]})
        uid = dataset["uid"]
        data_changes = self._data_changes(publication, dataset)
        resource_uid = self._upload(publication, uid, deadline) if data_changes or status == "created" else (
            (publication.previous.extra if publication.previous else {}).get("resource_uid"))
        if status == "updated":
            changes += [*data_changes]
        # Metadata alone goes out without reprocessing the records.
        metadata_only = status == "updated" and not data_changes and dataset.get("is_published")
        self._publish(uid, deadline, dataset_id, "publish_metadata" if metadata_only else "publish")
        self._verify(dataset["dataset_id"], publication.rows, deadline, dataset_id)
        if status == "updated" and not dataset.get("is_published"):
            changes.append("published")
        return PublishResult(status, uid, self._page(dataset["dataset_id"]), tuple(changes),
                             extra={"dataset_id": dataset["dataset_id"], "resource_uid": resource_uid})

    def archive(self, dataset: DatasetDescriptor, previous: RemoteState) -> PublishResult:
        """Unpublish the dataset: it leaves the Explore API and the catalog but stays on the portal.

        Raises:
            NotFoundError: The portal has no such dataset any more.
        """
        if not previous.remote_id:
            raise NotFoundError("rien à archiver : moisson n'a jamais publié ce jeu de données sur le portail",
                                dataset_id=dataset.id, connector=self.kind)
        deadline = self.clock() + self.config.publish_timeout
        current = self.api.json("GET", f"/datasets/{previous.remote_id}/", dataset_id=dataset.id)
        if current.get("is_published"):
            self._write("POST", f"/datasets/{previous.remote_id}/unpublish/", deadline, dataset.id,
                        uid=previous.remote_id)
        return PublishResult("archived", previous.remote_id, self._page(current["dataset_id"]),
                             extra=dict(previous.extra))

    # -- finding and comparing ----------------------------------------------------------------

    def _slug(self, publication: Publication) -> str:
        return str(publication.options.get("dataset_id") or publication.dataset.id)

    def _page(self, slug: str) -> str:
        return f"{self.config.domain}/explore/dataset/{slug}/"

    def _find(self, publication: Publication) -> dict[str, Any] | None:
        """The remote dataset: by the uid stored last time, else by slug, else None (never a guess)."""
        dataset_id = publication.dataset.id
        uid = publication.previous.remote_id if publication.previous else None
        if uid:
            response = self.api.request("GET", f"/datasets/{uid}/", ok=(404,), dataset_id=dataset_id)
            if response.status_code == 200:
                return response.json()
        page = self.api.json("GET", "/datasets/", params={"dataset_id": self._slug(publication)},
                             dataset_id=dataset_id)
        results = page.get("results") or []
        return results[0] if results else None

    def _template_fields(self) -> Fields:
        """The fields of the templates to fill, read once per run from the portal."""
        if self._fields is None:
            fields: dict[str, dict[str, TemplateField]] = {}
            for template in (*BASE_TEMPLATES, *self.config.metadata_templates[1:]):
                response = self.api.request("GET", f"/metadata/templates/{template}/fields/", ok=(404,),
                                            params={"limit": 1000})
                if response.status_code == 404:
                    if template in self.config.metadata_templates:
                        raise RejectedError(f"le portail n'a pas de modèle de métadonnées {template!r} activé : "
                                            "retirez-le de `metadata_templates` ou demandez à l'administrateur "
                                            "du portail de l'activer", connector=self.kind)
                    continue
                fields[template] = {f["name"]: TemplateField.from_api(template, f)
                                    for f in response.json().get("results") or []}
            self._fields = fields
        return self._fields

    def _values(self, publication: Publication) -> dict[str, dict[str, Any]]:
        try:
            return metadata_values(publication.dataset.metadata, self._template_fields(),
                                   options=publication.options, has_geometry=publication.geometry is not None,
                                   licenses=self.config.licenses, fallback_title=publication.dataset.id)
        except RejectedError as exc:
            raise RejectedError(f"{exc.message} (portail {self.config.domain})",
                                dataset_id=publication.dataset.id, connector=self.kind) from None

    def _metadata_changes(self, uid: str, values: Mapping[str, Mapping[str, Any]]) -> list[str]:
        """`template.field` names whose remote value differs from ours."""
        remote = self.api.json("GET", f"/datasets/{uid}/metadata/") or {}
        return [f"{template}.{name}" for template, fields in values.items() for name, value in fields.items()
                if not _same((remote.get(template) or {}).get(name, {}).get("value"), value)]

    def _data_changes(self, publication: Publication, dataset: Mapping[str, Any]) -> tuple[str, ...]:
        previous = publication.previous
        same = (previous is not None and previous.remote_id == dataset.get("uid")
                and previous.content_hash == publication.content_hash and previous.extra.get("resource_uid"))
        return () if same else ("data",)

    # -- writing ------------------------------------------------------------------------------

    def _write(self, method: str, path: str, deadline: float, dataset_id: str, *, uid: str | None = None,
               **kwargs: Any) -> Any:
        """Send a write; when the portal answers it is busy with dataset `uid`, wait and send again.

        Busy is `400 invalid_dataset_status`; waiting stops at `deadline`.
        """
        while True:
            response = self.api.request(method, path, ok=(400,), dataset_id=dataset_id, **kwargs)
            if response.status_code != 400:
                return response.json() if response.content else None
            if uid is None or _error_code(response) != "invalid_dataset_status":
                raise self.api.error_for(response, dataset_id=dataset_id)
            self._wait_idle(uid, deadline, dataset_id, busy=True)

    def _wait_idle(self, uid: str, deadline: float, dataset_id: str, busy: bool = False) -> dict[str, Any]:
        """Read the status until the portal is no longer processing the dataset; returns that status.

        `busy`: the portal has just refused a write as busy, so wait at least once whatever the status says.
        """
        reads = itertools.count()
        return self._poll(uid, deadline, dataset_id,
                          lambda status: (next(reads) > 0 or not busy) and status.get("status") not in BUSY,
                          late="le portail est resté occupé avec ce jeu de données (statut {status}) pendant "
                               "{seconds:.0f} s ; moisson réessaiera au prochain passage")

    def _poll(self, uid: str, deadline: float, dataset_id: str, settled: Callable[[dict[str, Any]], bool], *,
              late: str) -> dict[str, Any]:
        """Read the status, with growing pauses, until `settled(status)`; past `deadline`, a retryable error."""
        delay = self.config.poll_interval
        while True:
            status = self._status(uid, dataset_id)
            if settled(status):
                return status
            if self.clock() + delay > deadline:
                raise UnavailableError(late.format(status=status.get("status"), seconds=self.config.publish_timeout),
                                       dataset_id=dataset_id, connector=self.kind)
            self.sleep(delay)
            delay = min(delay * 1.5, self.config.max_poll_interval)

    def _upload(self, publication: Publication, uid: str, deadline: float) -> str:
        """Upload the CSV and point the dataset's resource at it; returns the resource uid."""
        dataset_id = publication.dataset.id
        name = f"{dataset_id}.csv"
        with tempfile.TemporaryDirectory(prefix="moisson-ods-") as tmp:
            csv_path = Path(tmp) / name
            write_csv(publication.data, csv_path)
            # Streamed from disk; a retried request reads the body again from its start.
            with MultipartFile(csv_path, "file", name, "text/csv") as body:
                uploaded = self._write("POST", f"/datasets/{uid}/resources/files/", deadline, dataset_id,
                                       data=body, headers=body.headers)
        body = {"type": "csvfile", "title": name, "params": CSV_PARAMS,
                "datasource": {"type": "uploaded_file", "file": {"uid": uploaded["uid"]}}}
        resources = self.api.json("GET", f"/datasets/{uid}/resources/", dataset_id=dataset_id).get("results") or []
        known = (publication.previous.extra.get("resource_uid") if publication.previous else None)
        ours = next((r for r in resources if r.get("uid") == known), None) or next(
            (r for r in resources if r.get("title") == name
             and (r.get("datasource") or {}).get("type") == "uploaded_file"), None)
        if ours is None:
            return self._write("POST", f"/datasets/{uid}/resources/", deadline, dataset_id, json=body)["uid"]
        self._write("PUT", f"/datasets/{uid}/resources/{ours['uid']}/", deadline, dataset_id, json=body)
        return ours["uid"]

    def _publish(self, uid: str, deadline: float, dataset_id: str, action: str) -> None:
        """Run `action` (`publish` or `publish_metadata`), then wait for idle-and-published or a failure."""
        before = self._wait_idle(uid, deadline, dataset_id)
        self._write("POST", f"/datasets/{uid}/{action}/", deadline, dataset_id, uid=uid)
        seen_busy = False

        def published(status: dict[str, Any]) -> bool:
            nonlocal seen_busy
            state = status.get("status")
            if state in FAILED:
                raise RejectedError(_failure(status), dataset_id=dataset_id, connector=self.kind)
            seen_busy = seen_busy or state in BUSY
            # Right after the POST the status may still read the idle of before: wait for a change.
            moved = seen_busy or status.get("since") != before.get("since")
            return state == "idle" and bool(status.get("is_published")) and moved

        self._poll(uid, deadline, dataset_id, published,
                   late="le portail traite encore le jeu de données (statut {status}) après {seconds:.0f} s ; "
                        "il sera vérifié de nouveau au prochain passage")

    def _status(self, uid: str, dataset_id: str) -> dict[str, Any]:
        return self.api.json("GET", f"/datasets/{uid}/status/", dataset_id=dataset_id)

    def _verify(self, slug: str, rows: int, deadline: float, dataset_id: str) -> None:
        """Check through the public Explore API that the dataset is visible with every row."""
        delay = self.config.poll_interval
        while True:
            response = self.explore.request("GET", f"/catalog/datasets/{slug}", ok=(404,), dataset_id=dataset_id)
            count = None
            if response.status_code == 200:
                count = self.explore.json("GET", f"/catalog/datasets/{slug}/records", params={"limit": 0},
                                          dataset_id=dataset_id).get("total_count")
                if count == rows:
                    return
            if self.clock() + delay > deadline:
                seen = "ne le montre pas au public" if count is None else f"montre {count} enregistrements"
                raise RejectedError(f"après publication, l'API Explore du portail {seen}, mais {rows} lignes ont été "
                                    f"envoyées : consultez les erreurs de traitement du jeu de données sur "
                                    f"{self._page(slug)}",
                                    dataset_id=dataset_id, connector=self.kind)
            self.sleep(delay)
            delay = min(delay * 1.5, self.config.max_poll_interval)


def _same(remote: Any, ours: Any) -> bool:
    if remote == ours:
        return True
    if isinstance(remote, str) and isinstance(ours, str):
        try:  # the portal may write the same instant another way (Z vs +00:00)
            return dt.datetime.fromisoformat(remote) == dt.datetime.fromisoformat(ours)
        except ValueError:
            return False
    return False


def _error_code(response: Any) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("error_code") if isinstance(body, dict) else None


def _failure(status: Mapping[str, Any]) -> str:
    """A data officer's message for a processing that ended in error or over a quota."""
    params = status.get("params") or {}
    if status.get("status") == "limit_reached":
        limit = params.get("error") or {}
        detail = (f" ({limit.get('limit_type')} : {limit.get('value')} pour une limite de {limit.get('limit')})"
                  if limit else "")
        return (f"le portail a refusé de traiter le jeu de données : un quota du portail est atteint{detail} ; "
                f"{status.get('message') or 'demandez à son administrateur de le relever'}")
    errors = status.get("records_errors") or []
    shown = " ; ".join(f"enregistrement {e.get('record_id', '?')} : {e.get('message', '')}" for e in errors[:5])
    more = f" (et {len(errors) - 5} autres)" if len(errors) > 5 else ""
    return (f"le portail n'a pas pu traiter les données : {status.get('message') or 'sans message'}"
            f"{' ; ' + shown + more if shown else ''}. Corrigez les données à la source et relancez")
