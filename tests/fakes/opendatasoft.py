"""A stateful fake Opendatasoft portal whose every request and response is checked against the official specs.

No real Opendatasoft can run locally, so this WSGI server (127.0.0.1, free port) implements the
Automation API v1.0 and Explore API v2.1 endpoints the `opendatasoft` target uses, with the
behaviour of `publishing.md` §B: uid vs slug, `?dataset_id=` lookup, `{"value"}` wrappers,
template `PUT` replacing the template, per-domain licence/theme ids and template fields,
upload then resource, an asynchronous publish (queued → processing → idle | error |
limit_reached, one step per status read), `400 invalid_dataset_status` while busy,
unpublish, Explore 404 until published then the record count. Faults are injected per
request: 429 with `Retry-After`, 5xx, dropped connections.

Every request and response goes through openapi-core against the stored specs
(`../shared/reference/apis/`); a violation is recorded in `violations` (the test fixture
fails the test on any), and a request the spec refuses is answered 400 like the portal.
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
import io
import itertools
import json
import re
import socket
import threading
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema_path import SchemaPath
from openapi_core import Config, OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from openapi_core.deserializing.media_types.util import data_form_loads
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

AUTOMATION = "/api/automation/v1.0"
EXPLORE = "/api/explore/v2.1"
SPEC_HOST = "https://ods.test"
BUSY = ("queued", "processing", "aborting_processing", "deleting", "saving_version")

#: Upstream mistakes in the stored specs, corrected in memory only; `test_errata_still_apply` fails
#: when the upstream file changes, so each one is re-examined. Each: (spec, JSON pointer, why).
ERRATA = (
    ("automation", "/components/responses/DatasetProcessingStatus/content/application~1json/schema/properties/"
     "is_published/type", "lists JSON null instead of the type name \"null\": the spec itself is invalid"),
    ("automation", "/components/schemas/PaginatedResults/properties/total_count/type",
     "says string though its own example (18) and the service return an integer"),
    ("automation", "/components/schemas/MetadataTemplateField/properties/label/default",
     "defaults a string to null: the spec itself is invalid"),
    ("automation", "/paths/~1datasets~1{dataset_uid}~1feedbacks~1/get/parameters/2/schema/default",
     "defaults a boolean to 0: the spec itself is invalid"),
    ("explore", "/paths/~1catalog~1datasets~1{dataset_id}/get/responses/200/content",
     "has the media type typo `application/json; charset=utf-8json`"),
    ("explore", "/security", "requires an API key, yet public datasets are readable anonymously"),
    ("explore", "/paths/~1catalog~1datasets~1{dataset_id}/get/responses",
     "has no 404, which an unpublished or unknown dataset returns"),
    ("explore", "/paths/~1catalog~1datasets~1{dataset_id}~1records/get/responses", "has no 404 either"),
)

_NOT_FOUND = {"description": "Not found", "content": {"application/json; charset=utf-8": {"schema": {
    "type": "object", "properties": {"message": {"type": "string"}, "error_code": {"type": "string"}},
    "required": ["message", "error_code"]}}}}


def _pointer(doc: Any, pointer: str) -> Any:
    for part in pointer.strip("/").split("/"):
        key = part.replace("~1", "/").replace("~0", "~")
        doc = doc[int(key)] if isinstance(doc, list) else doc[key]
    return doc


def raw_spec(name: str, reference: Path) -> dict[str, Any]:
    """The stored spec as published upstream."""
    file = {"automation": "opendatasoft-automation-v1.0.openapi.json",
            "explore": "opendatasoft-explore-v2.1.openapi.json"}[name]
    return json.loads((reference / "apis" / file).read_text(encoding="utf-8"))


def corrected_spec(name: str, reference: Path) -> dict[str, Any]:
    """The spec with `ERRATA` corrected and the server set to the fake's fixed test host."""
    spec = raw_spec(name, reference)
    if name == "automation":
        status = _pointer(spec, "/components/responses/DatasetProcessingStatus/content/application~1json/schema")
        status["properties"]["is_published"]["type"] = ["null", "boolean"]
        spec["components"]["schemas"]["PaginatedResults"]["properties"]["total_count"]["type"] = [
            "integer", "string", "null"]
        spec["components"]["schemas"]["MetadataTemplateField"]["properties"]["label"]["default"] = ""
        spec["paths"]["/datasets/{dataset_uid}/feedbacks/"]["get"]["parameters"][2]["schema"]["default"] = False
        spec["servers"] = [{"url": SPEC_HOST + AUTOMATION}]
    else:
        spec["security"] = [{}, {"apikey": []}]
        ok = spec["paths"]["/catalog/datasets/{dataset_id}"]["get"]["responses"]["200"]["content"]
        ok["application/json; charset=utf-8"] = ok.pop("application/json; charset=utf-8json")
        for path in ("/catalog/datasets/{dataset_id}", "/catalog/datasets/{dataset_id}/records"):
            spec["paths"][path]["get"]["responses"]["404"] = _NOT_FOUND
        spec["servers"] = [{"url": SPEC_HOST + EXPLORE}]
    return spec


def _multipart_as_text(value: bytes, **parameters: str) -> ImmutableMultiDict:
    """Multipart parts as text: OpenAPI 3.1 types a file as a string of octets, which openapi-core
    0.23 hands to JSON Schema as `bytes` and then finds "not of type string"."""
    parts = data_form_loads(value, **parameters)
    return ImmutableMultiDict([(k, v.decode("utf-8", "surrogateescape")) for k, v in parts.items(multi=True)])


@cache
def openapi(name: str, reference: Path) -> OpenAPI:
    """The openapi-core validator of one corrected spec (built once per test session)."""
    config = Config(extra_media_type_deserializers={"multipart/form-data": _multipart_as_text})
    return OpenAPI(SchemaPath.from_dict(corrected_spec(name, reference)), config=config)


class _SpecResponse(WerkzeugOpenAPIResponse):
    """A response with its whole Content-Type (the Explore spec keys media types with their charset)."""

    @property
    def content_type(self) -> str:
        return str(self.response.content_type)


class _SpecRequest(WerkzeugOpenAPIRequest):
    """A request seen as if sent to the spec's server, whatever port the fake listens on."""

    @property
    def host_url(self) -> str:
        return SPEC_HOST + "/"


@dataclass
class Fault:
    """A failure to inject into the next matching requests."""

    method: str
    path: re.Pattern[str]
    status: int = 500
    times: int = 1
    retry_after: str | None = None
    drop: bool = False
    body: dict[str, Any] | None = None


@dataclass
class FakeDataset:
    uid: str
    dataset_id: str
    metadata: dict[str, dict[str, dict[str, Any]]]
    is_restricted: bool = False
    created_at: str = ""
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    status: dict[str, Any] = field(default_factory=dict)
    pending: list[str] = field(default_factory=list)
    published: dict[str, Any] | None = None  # what Explore shows: records count and metadata


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


#: Licences of the fake domain: ids are opaque, as on real portals; labels per language.
LICENSES = {"5ab2c9f": {"fr": "Licence Ouverte v2.0 (Etalab)", "en": "Open Licence v2.0 (Etalab)"},
            "38js5ao": {"fr": "Open Database License (ODbL)", "en": "Open Database License (ODbL)"},
            "q7x1k0e": {"fr": "CC BY 4.0", "en": "CC BY 4.0"}}
THEMES = {"th_mob": {"fr": "Mobilité", "en": "Mobility"}, "th_env": {"fr": "Environnement", "en": "Environment"},
          "th_cult": {"fr": "Culture, sports et loisirs", "en": "Culture, sports and leisure"}}


def _fields(*specs: tuple[str, str]) -> list[dict[str, Any]]:
    return [{"name": n, "type": t, "label": n.replace("_", " ").capitalize(), "choices": None, "labels": None}
            for n, t in specs]


def default_templates() -> dict[str, list[dict[str, Any]]]:
    """Templates and fields like a French metropolis's portal with DCAT and INSPIRE switched on."""
    internal = [{"name": "license_id", "type": "enum", "label": "Licence", "choices": list(LICENSES),
                 "labels": LICENSES},
                {"name": "theme_id", "type": "enumlist", "label": "Thèmes", "choices": list(THEMES),
                 "labels": THEMES},
                *_fields(("draft", "boolean"))]
    return {
        "default": _fields(("title", "text"), ("description", "html"), ("keyword", "list"),
                           ("modified", "datetime"), ("modified_updates_on_metadata_change", "boolean"),
                           ("modified_updates_on_data_change", "boolean"), ("geographic_reference", "list"),
                           ("geographic_reference_auto", "boolean"), ("language", "text"),
                           ("timezone", "text"), ("publisher", "text"), ("references", "text"),
                           ("attributions", "list")),
        "internal": internal,
        "dcat": _fields(("created", "datetime"), ("issued", "datetime"), ("creator", "text"),
                        ("contributor", "text"), ("contact_name", "text"), ("contact_email", "text"),
                        ("accrualperiodicity", "text"), ("spatial", "text"), ("temporal", "text")),
        "inspire": _fields(("contact_individual_name", "text"), ("contact_email", "text"),
                           ("extend_bounding_box_westbound_longitude", "double"),
                           ("extend_bounding_box_eastbound_longitude", "double"),
                           ("extend_bounding_box_southbound_latitude", "double"),
                           ("extend_bounding_box_northbound_latitude", "double")),
    }


class FakeOds:
    """The fake portal. Use as a context manager; `url` is its domain.

    Args:
        reference: The shared reference folder holding the specs.
        api_key: The only key accepted.
        templates: Template name → fields (`default_templates()` by default).
    """

    def __init__(self, reference: Path, *, api_key: str = "ods-secret-key",
                 templates: dict[str, list[dict[str, Any]]] | None = None) -> None:
        self.automation, self.explore = openapi("automation", reference), openapi("explore", reference)
        self.api_key = api_key
        self.templates = templates if templates is not None else default_templates()
        self.datasets: dict[str, FakeDataset] = {}
        self.files: dict[str, bytes] = {}
        self.faults: list[Fault] = []
        self.processing_failures: list[dict[str, Any]] = []
        self.extra_busy_polls = 0
        self.requests: list[tuple[str, str]] = []
        self.violations: list[str] = []
        self.seen_headers: list[dict[str, str]] = []
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeOds:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- test controls ------------------------------------------------------------------------

    def fail(self, method: str, path: str, **kwargs: Any) -> None:
        """Inject a fault into the next requests whose path (below the API root) matches `path`."""
        self.faults.append(Fault(method, re.compile(path), **kwargs))

    def fail_next_processing(self, status: str = "error", message: str = "Invalid value", **params: Any) -> None:
        """Make the next publish end in `error` (with record errors) or `limit_reached`."""
        self.processing_failures.append({"status": status, "message": message, **params})

    def writes(self) -> list[tuple[str, str]]:
        """Requests that change something."""
        return [(m, p) for m, p in self.requests if m != "GET"]

    # -- WSGI plumbing ------------------------------------------------------------------------

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        with self._lock:
            self.requests.append((request.method, request.path))
            self.seen_headers.append(dict(request.headers))
            fault = next((f for f in self.faults if f.times > 0 and f.method == request.method
                          and f.path.search(request.path)), None)
            if fault is not None:
                fault.times -= 1
                if fault.drop:
                    sock = environ.get("werkzeug.socket")
                    if sock is not None:
                        sock.shutdown(socket.SHUT_RDWR)
                    return []
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                body = fault.body or {"error_code": "internal_error" if fault.status >= 500 else "too_many_requests",
                                      "message": "Injected failure", "trace_id": "00000000-fake"}
                return Response(json.dumps(body), fault.status, headers, content_type="application/json")(
                    environ, start_response)
            response = self._handle(request)
        return response(environ, start_response)

    def _handle(self, request: Request) -> Response:
        if request.path.startswith(AUTOMATION):
            spec, route, root = self.automation, self._automation, AUTOMATION
        elif request.path.startswith(EXPLORE):
            spec, route, root = self.explore, self._explore, EXPLORE
        else:
            return _json({"error_code": "not_found", "message": "Not found."}, 404)
        checked = _SpecRequest(request)
        try:
            spec.validate_request(checked)
        except Exception as exc:  # every openapi-core validation error: the connector sent a bad request
            detail = "; ".join(str(e) for e in getattr(exc, "schema_errors", ())) or str(exc.__cause__ or "")
            self.violations.append(f"request {request.method} {request.path}: {exc} {detail}".strip())
            return _json({"error_code": "validation_error", "message": str(exc), "detail": {}}, 400)
        if root == AUTOMATION and not self._authorised(request):
            return _json({"error_code": "invalid_apikey", "message": "Invalid API key."}, 401)
        response = route(request, request.path[len(root):])
        try:
            spec.validate_response(checked, _SpecResponse(response))
        except Exception as exc:  # the fake drifted from the spec
            detail = "; ".join(str(e) for e in getattr(exc, "schema_errors", ())) or str(exc.__cause__ or "")
            self.violations.append(f"response {request.method} {request.path} {response.status_code}: "
                                   f"{exc} {detail}".strip())
        return response

    def _authorised(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        scheme, _, key = header.partition(" ")
        return (scheme.lower() == "apikey" and key == self.api_key) or request.args.get("apikey") == self.api_key

    # -- Automation API -----------------------------------------------------------------------

    def _automation(self, request: Request, path: str) -> Response:
        method = request.method
        if path == "/datasets/":
            return self._list(request) if method == "GET" else self._create(request)
        if match := re.fullmatch(r"/metadata/templates/([^/]+)/fields/", path):
            fields = self.templates.get(match[1])
            if fields is None:
                return _not_found()
            return _page(fields)
        match = re.fullmatch(r"/datasets/([^/]+)/(.*)", path)
        if not match or match[1] not in self.datasets:
            return _not_found()
        ds, rest = self.datasets[match[1]], match[2]
        if rest == "" and method == "GET":
            return _json(self._dataset_body(ds))
        if rest == "status/":
            self._advance(ds)
            return _json(ds.status)
        # Only these actions declare `InvalidDatasetStatus` in the spec; uploads and edits go through.
        if rest in ("publish/", "publish_metadata/", "unpublish/") and ds.status["status"] in BUSY:
            return _json({"error_code": "invalid_dataset_status",
                          "message": f"Invalid precondition, dataset status is '{ds.status['status']}' "
                                     "but must be one of 'idle, error, limit_reached'"}, 400)
        if rest in ("publish/", "publish_metadata/"):
            ds.pending = ["queued", "processing", *(["processing"] * self.extra_busy_polls), "done"]
            if rest == "publish_metadata/":
                ds.pending = ["queued", "done"]
            self._set_status(ds, "queued")
            ds.pending.pop(0)
            return _json({"detail": "ok"})
        if rest == "unpublish/":
            ds.published = None
            ds.status["is_published"] = False
            return _json({"detail": "ok"})
        if rest == "metadata/":
            return _json(ds.metadata)
        if match := re.fullmatch(r"metadata/([^/]+)/([^/]+)/", rest):
            template, name = match[1], match[2]
            if template not in self.templates or name not in {f["name"] for f in self.templates[template]}:
                return _not_found()
            ds.metadata.setdefault(template, {})[name] = {"value": request.get_json()["value"]}
            return _json(ds.metadata[template][name])
        if match := re.fullmatch(r"metadata/([^/]+)/", rest):
            if method == "PUT":  # replaces the whole template: omitted fields are deleted
                ds.metadata[match[1]] = request.get_json()
            return _json(ds.metadata.get(match[1], {}))
        if rest == "resources/files/":
            upload = request.files["file"]
            uid = upload.filename or "file.csv"
            if uid in self.files:
                uid = f"{Path(uid).stem}_{next(self._ids)}{Path(uid).suffix}"
            self.files[uid] = upload.read()
            return _json({"uid": uid, "filename": upload.filename, "mimetype": upload.mimetype, "created_at": _now()})
        if rest == "resources/":
            if method == "GET":
                return _page(list(ds.resources.values()))
            return self._save_resource(ds, request, f"re_{next(self._ids):06x}", 201)
        if match := re.fullmatch(r"resources/([^/]+)/", rest):
            if match[1] not in ds.resources:
                return _not_found()
            if method == "DELETE":
                del ds.resources[match[1]]
                return Response(status=204)
            return self._save_resource(ds, request, match[1], 200) if method == "PUT" else _json(
                ds.resources[match[1]])
        return _not_found()

    def _list(self, request: Request) -> Response:
        wanted = request.args.get("dataset_id")
        found = [self._dataset_body(d) for d in self.datasets.values() if wanted in (None, d.dataset_id)]
        return _page(found)

    def _create(self, request: Request) -> Response:
        body = request.get_json()
        slug = body.get("dataset_id") or f"dataset-{next(self._ids)}"
        if any(d.dataset_id == slug for d in self.datasets.values()):
            return _json({"error_code": "validation_error", "message": "Invalid input",
                          "detail": {"dataset_id": ["A dataset with this dataset_id already exists."]}}, 400)
        uid = f"da_{next(self._ids):06x}"
        ds = FakeDataset(uid=uid, dataset_id=slug, metadata=copy.deepcopy(body["metadata"]),
                         is_restricted=body.get("is_restricted", False), created_at=_now())
        self._set_status(ds, "idle")
        ds.status["is_published"] = False
        self.datasets[uid] = ds
        return _json(self._dataset_body(ds), 201)

    def _save_resource(self, ds: FakeDataset, request: Request, uid: str, status: int) -> Response:
        body = request.get_json()
        file_uid = body["datasource"].get("file", {}).get("uid")
        if body["datasource"]["type"] == "uploaded_file" and file_uid not in self.files:
            return _json({"error_code": "validation_error", "message": "Invalid input",
                          "detail": {"datasource": [f"Unknown file {file_uid}"]}}, 400)
        ds.resources[uid] = {**body, "uid": uid, "display_name": body["title"], "updated_at": _now(),
                             "origin": {"label": "Uploaded file", "type": "uploaded_file"},
                             "extraction_infos": {"label": "CSV File", "type": body["type"]}}
        return _json(ds.resources[uid], status)

    def _dataset_body(self, ds: FakeDataset) -> dict[str, Any]:
        return {"uid": ds.uid, "dataset_id": ds.dataset_id, "created_at": ds.created_at, "updated_at": _now(),
                "is_published": bool(ds.status.get("is_published")), "is_restricted": ds.is_restricted,
                "metadata": ds.metadata}

    def _set_status(self, ds: FakeDataset, status: str, **extra: Any) -> None:
        previous = ds.status.get("status")
        ds.status = {"status": status, "previous": previous, "next": None, "since": _now(),
                     "is_published": ds.status.get("is_published", False), "message": None,
                     "records_errors": [], "params": {}, **extra}

    def _advance(self, ds: FakeDataset) -> None:
        """One step of the processing state machine per status read."""
        if not ds.pending:
            return
        step = ds.pending.pop(0)
        if step != "done":
            self._set_status(ds, step)
            return
        if self.processing_failures:
            failure = self.processing_failures.pop(0)
            state, message = failure.pop("status"), failure.pop("message")
            if state == "limit_reached":
                self._set_status(ds, state, message=message, params={"error": failure})
            else:
                errors = [{"record_id": "r1", "field_uid": "date", "processor_uid": "", "message": message}]
                self._set_status(ds, state, message=message, records_errors=errors)
            return
        self._set_status(ds, "idle", is_published=True)
        ds.published = {"records": sum(self._rows(r) for r in ds.resources.values()),
                        "metadata": copy.deepcopy(ds.metadata)}

    def _rows(self, resource: dict[str, Any]) -> int:
        content = self.files[resource["datasource"]["file"]["uid"]].decode("utf-8")
        rows = list(csv.reader(io.StringIO(content)))
        return max(0, len(rows) - 1)

    # -- Explore API --------------------------------------------------------------------------

    def _explore(self, request: Request, path: str) -> Response:
        match = re.fullmatch(r"/catalog/datasets/([^/]+)(/records)?", path)
        ds = next((d for d in self.datasets.values() if match and d.dataset_id == match[1]), None)
        if ds is None or ds.published is None or ds.is_restricted:
            return _json({"message": f"Unknown dataset: {match[1] if match else path}", "error_code": "NotFound"},
                         404, charset=True)
        if match[2]:
            return _json({"total_count": ds.published["records"], "results": []}, charset=True)
        default = {k: v["value"] for k, v in ds.published["metadata"].get("default", {}).items()}
        return _json({"dataset_id": ds.dataset_id, "dataset_uid": ds.uid, "has_records": ds.published["records"] > 0,
                      "data_visible": True, "features": [], "fields": [], "attachments": [],
                      "metas": {"default": {**default, "records_count": ds.published["records"]}}}, charset=True)


def _json(body: Any, status: int = 200, *, charset: bool = False) -> Response:
    return Response(json.dumps(body), status,
                    content_type="application/json; charset=utf-8" if charset else "application/json")


def _page(results: list[Any]) -> Response:
    return _json({"total_count": len(results), "next": None, "previous": None, "results": results})


def _not_found() -> Response:
    return _json({"error_code": "not_found", "message": "Not found."}, 404)
