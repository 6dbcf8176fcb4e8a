"""A stateful fake data.gouv.fr (udata API v1) for the `datagouv` target's tests.

A WSGI server on 127.0.0.1 (free port) serving only the routes the target uses (`ROUTES`, each
checked against the stored udata 17.18.0 Swagger file), with the behaviour real udata showed
(`publishing.md` §A): `X-API-KEY` (401 on a bad key, 403 for a non-member), JSON Content-Type on
writes, ids or slugs in paths, slugs following titles, private datasets hidden (404) from
outsiders, soft delete (410 for outsiders, `deleted` set for members, restored by
`PUT {"deleted": null}`), a PUT emptying the `tags` and `temporal_coverage` it omits, tags
slugified and 3–96 characters long, an unknown licence stored as `notspecified`, the 40
frequencies and their legacy aliases, unknown GeoIDs refused per field, uploads setting the
title, URL, sha1 and size, a replacement keeping the resource id but resetting its title, two
uploads of one file name within one second answering 500 (FileExists), served files
downloadable, and the organization listing paged (newest first, soft-deleted included).

Faults (429 with `Retry-After`, 5xx, slow answers, dropped connections) are injected by the same
`FaultProxy` the real udata runs behind, so both layers take exactly the same fault tests.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from moisson.core.frequencies import ALIASES, FREQUENCIES
from moisson.core.ids import slugify
from tests.peers.udata_peer import Peer

API = "/api/1"
FILES = "/fs/resources"
LICENSES = {"lov2": "Licence Ouverte / Open Licence version 2.0", "fr-lo": "Licence Ouverte / Open Licence",
            "odc-odbl": "Open Data Commons Open Database License (ODbL)", "notspecified": "License Not Specified"}
ZONES = ("country:fr", "fr:region:32", "fr:departement:59", "fr:commune:59350", "fr:commune:59017")
EXTENSIONS = ("csv", "json", "geojson", "xlsx", "zip", "txt", "parquet")
#: Fields a PUT empties when it omits them (observed on udata 17.18.0).
RESET_IF_OMITTED = {"tags": list, "temporal_coverage": lambda: None}
_OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")
_NO_KEY = "The server could not verify that you are authorized to access the URL requested."


class HttpError(Exception):
    """An API error answer: status and JSON body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status)
        self.status, self.body = status, body


def _message(status: int, text: str) -> HttpError:
    return HttpError(status, {"message": text})


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


@dataclass
class FakeDataset:
    """One dataset as udata stores it (its JSON form, plus who may see it)."""

    body: dict[str, Any]
    created: float = field(default_factory=time.monotonic)


class FakeDataGouv:
    """The fake platform: one organization with an admin member, an outsider, and the datasets made in the tests."""

    def __init__(self) -> None:
        self.api_key = f"udata_{secrets.token_urlsafe(16)}"
        self.outsider_key = f"udata_{secrets.token_urlsafe(16)}"
        self.org = {"id": uuid.uuid4().hex[:24], "name": "Commune de Moisson-sur-Lys",
                    "slug": "commune-de-moisson-sur-lys"}
        self.datasets: dict[str, FakeDataset] = {}
        self.files: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeDataGouv:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- dispatch ---------------------------------------------------------------------------------------------

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        try:
            with self._lock:
                response = self._dispatch(request)
        except HttpError as error:
            response = Response(json.dumps(error.body), error.status, content_type="application/json")
        return response(environ, start_response)

    def _dispatch(self, request: Request) -> Response:
        path = request.path
        if path.startswith(FILES + "/") and request.method == "GET" and path in self.files:
            return Response(self.files[path], 200, content_type="text/csv")
        for method, template, handler in ROUTES:
            match = _pattern(template).match(path)
            if match and method == request.method:
                member = self._member(request)
                return handler(self, request, member, **match.groupdict())
        raise _message(404, "The requested URL was not found on the server.")

    def _member(self, request: Request) -> bool | None:
        """True for the organization's member, False for another valid key, None without a key."""
        key = request.headers.get("X-API-KEY")
        if key is None:
            if request.method != "GET":
                raise _message(401, _NO_KEY)
            return None
        if key not in (self.api_key, self.outsider_key):
            raise _message(401, "Invalid API token")
        return key == self.api_key

    # -- reading ----------------------------------------------------------------------------------------------

    def _find(self, ref: str, member: bool | None) -> FakeDataset:
        found = self.datasets.get(ref) or next((d for d in self.datasets.values() if d.body["slug"] == ref), None)
        if found is None or (found.body["private"] and not member):
            raise _message(404, "Dataset not found")
        if found.body["deleted"] and not member:
            raise _message(410, "Dataset has been deleted")
        return found

    def get_dataset(self, request: Request, member: bool | None, dataset: str) -> Response:
        return _json(self._find(dataset, member).body)

    def licenses(self, request: Request, member: bool | None) -> Response:
        return _json([{"id": k, "title": v, "url": None, "alternate_urls": [], "alternate_titles": []}
                      for k, v in LICENSES.items()])

    def get_organization(self, request: Request, member: bool | None, org: str) -> Response:
        if org not in (self.org["id"], self.org["slug"]):
            raise _message(404, "Organization not found")
        return _json({**self.org, "uri": f"{request.host_url}api/1/organizations/{self.org['slug']}/"})

    def org_datasets(self, request: Request, member: bool | None, org: str) -> Response:
        self.get_organization(request, member, org)
        try:
            page, size = int(request.args.get("page", 1)), int(request.args.get("page_size", 20))
        except ValueError:
            raise HttpError(400, {"errors": {"page": "invalid integer"},
                                  "message": "Input payload validation failed"}) from None
        if page <= 0 or size <= 0:
            raise HttpError(400, {"errors": {"page_size": "must be greater than 0"},
                                  "message": "Input payload validation failed"})
        visible = sorted((d for d in self.datasets.values() if member or not d.body["private"]),
                         key=lambda d: d.created, reverse=True)  # soft-deleted ones included, as observed
        chunk = visible[(page - 1) * size:page * size]
        link = f"{request.base_url}?page={{}}&page_size={size}"
        return _json({"data": [d.body for d in chunk], "page": page, "page_size": size, "total": len(visible),
                      "next_page": link.format(page + 1) if page * size < len(visible) else None,
                      "previous_page": link.format(page - 1) if page > 1 else None})

    # -- writing ----------------------------------------------------------------------------------------------

    def create_dataset(self, request: Request, member: bool | None) -> Response:
        body = _json_body(request)
        if body.get("organization") not in (None, self.org["id"]):
            raise HttpError(400, {"errors": {"organization": ["Unknown organization or not an ObjectId"]}})
        if not member:
            raise _message(403, "You do not have the permission to modify that object.")
        missing = {name: ["This field is required."] for name in ("title", "description") if not body.get(name)}
        if missing:
            raise HttpError(400, {"errors": missing})
        now = _now()
        data = {"id": uuid.uuid4().hex[:24], "title": "", "slug": "", "description": "", "tags": [],
                "license": "notspecified", "frequency": "unknown", "temporal_coverage": None, "spatial": None,
                "private": False, "extras": {}, "resources": [], "archived": None, "deleted": None,
                "created_at": now, "last_modified": now, "last_update": now,
                "organization": {k: self.org[k] for k in ("id", "name", "slug")}}
        dataset = FakeDataset(data)
        self._apply(dataset, body, request, creating=True)
        self.datasets[data["id"]] = dataset
        return _json(data, 201)

    def update_dataset(self, request: Request, member: bool | None, dataset: str) -> Response:
        found = self._find(dataset, member)
        body = _json_body(request)
        if not member:
            raise _message(403, "You do not have the permission to modify that object.")
        self._apply(found, body, request, creating=False)
        return _json(found.body)

    def delete_dataset(self, request: Request, member: bool | None, dataset: str) -> Response:
        found = self._find(dataset, member)
        if not member:
            raise _message(403, "You do not have the permission to modify that object.")
        found.body["deleted"] = _now()
        return Response(status=204)

    def _apply(self, dataset: FakeDataset, body: dict[str, Any], request: Request, *, creating: bool) -> None:
        """Validate the DatasetForm fields like udata, then store them (all or nothing)."""
        errors: dict[str, Any] = {}
        changes: dict[str, Any] = {}
        for name, empty in RESET_IF_OMITTED.items():
            if name not in body and not creating:
                changes[name] = empty()
        if "tags" in body:
            tags = [slugify(str(tag), default="") for tag in body["tags"] or []]
            bad = [tag for tag in tags if not 3 <= len(tag) <= 96]
            if bad:
                errors["tags"] = [f'Tag "{tag}" must be between 3 and 96 characters long.' for tag in bad]
            changes["tags"] = list(dict.fromkeys(tags))
        if "frequency" in body:
            frequency = ALIASES.get(body["frequency"], body["frequency"])
            if frequency not in FREQUENCIES:
                raise _message(400, f"'{body['frequency']}' is not a valid UpdateFrequency")
            changes["frequency"] = frequency
        if "license" in body:
            changes["license"] = body["license"] if body["license"] in LICENSES else "notspecified"
        if "spatial" in body:
            spatial = body["spatial"] or {}
            unknown = [z for z in spatial.get("zones") or [] if z not in ZONES]
            if unknown:
                errors["spatial"] = {"zones": [f"Unknown geoid(s): {', '.join(unknown)}"]}
            changes["spatial"] = {"zones": spatial.get("zones") or [], "granularity": spatial.get("granularity"),
                                  "geom": None} if body["spatial"] else None
        if "temporal_coverage" in body:
            coverage = body["temporal_coverage"]
            changes["temporal_coverage"] = {"start": coverage.get("start"), "end": coverage.get("end")} \
                if coverage else None
        for name in ("title", "description", "private", "extras", "archived", "deleted"):
            if name in body:
                changes[name] = body[name] if name != "extras" else dict(body[name] or {})
        if "title" in changes and not changes["title"]:
            errors["title"] = ["This field is required."]
        if errors:
            raise HttpError(400, {"errors": errors})
        dataset.body.update(changes)
        if "title" in changes:  # slugs follow titles (unique among datasets)
            dataset.body["slug"] = self._unique_slug(changes["title"], dataset.body["id"])
        dataset.body["uri"] = f"{request.host_url}api/1/datasets/{dataset.body['slug']}/"
        dataset.body["page"] = f"{request.host_url}fr/datasets/{dataset.body['slug']}/"
        dataset.body["last_modified"] = _now()

    def _unique_slug(self, title: str, own_id: str) -> str:
        base = slug = slugify(title)
        taken = {d.body["slug"] for d in self.datasets.values() if d.body["id"] != own_id}
        n = 0
        while slug in taken:
            n += 1
            slug = f"{base}-{n}"
        return slug

    # -- resources --------------------------------------------------------------------------------------------

    def upload(self, request: Request, member: bool | None, dataset: str, rid: str | None = None) -> Response:
        found = self._find(dataset, member)
        if not member:
            raise _message(403, "You do not have the permission to modify that object.")
        upload = request.files.get("file")
        if upload is None:
            raise HttpError(400, {"errors": {"file": ["This field is required."]}})
        name = PurePosixPath(upload.filename or "file").name
        extension = name.rpartition(".")[2].lower()
        if extension not in EXTENSIONS:
            raise HttpError(400, {"message": f"This file type ({extension}) is not allowed"})
        resources = found.body["resources"]
        resource = next((r for r in resources if r["id"] == rid), None) if rid else None
        if rid and resource is None:
            raise _message(404, "Resource not found")
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
        path = f"{FILES}/{found.body['slug']}/{stamp}/{name}"
        if path in self.files:  # the storage refuses to overwrite: udata lets FileExists through as a 500
            raise _message(500, "Internal server error")
        content = upload.read()
        self.files[path] = content
        now = _now()
        hosted = {"title": name, "url": request.host_url.rstrip("/") + path, "filetype": "file", "type": "main",
                  "checksum": {"type": "sha1", "value": hashlib.sha1(content).hexdigest()},
                  "filesize": len(content), "mime": "text/csv" if extension == "csv" else "application/octet-stream",
                  "format": extension, "last_modified": now}
        if resource is None:
            resource = {"id": str(uuid.uuid4()), "description": None, "extras": {}, "created_at": now,
                        "schema": {"name": None, "version": None, "url": None}, **hosted}
            resources.insert(0, resource)
            return _json({**resource, "success": True}, 201)
        resource.update(hosted)  # same id; the title goes back to the file name
        return _json({**resource, "success": True})

    def update_resource(self, request: Request, member: bool | None, dataset: str, rid: str) -> Response:
        found = self._find(dataset, member)
        body = _json_body(request)
        if not member:
            raise _message(403, "You do not have the permission to modify that object.")
        resource = next((r for r in found.body["resources"] if r["id"] == rid), None)
        if resource is None:
            raise _message(404, "Resource not found")
        if "filetype" in body and body["filetype"] != resource["filetype"]:
            raise HttpError(400, {"errors": {"filetype": ["Cannot change the filetype of a resource"]}})
        schema = body.get("schema")
        if schema is not None and not (schema.get("name") or schema.get("url")):
            raise HttpError(400, {"errors": {"schema": ["A schema must have a name or an URL"]}})
        for name in ("title", "description", "type", "extras"):
            if name in body:
                resource[name] = body[name]
        if "schema" in body:
            resource["schema"] = {"name": None, "version": None, "url": None, **(schema or {})}
        if not resource.get("title"):
            raise HttpError(400, {"errors": {"title": ["This field is required."]}})
        resource["last_modified"] = _now()  # hosted url, checksum, filesize, mime and format are protected
        return _json(resource)


def _pattern(template: str) -> re.Pattern[str]:
    return re.compile("^" + API + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$")


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status, content_type="application/json")


def _json_body(request: Request) -> dict[str, Any]:
    if request.mimetype != "application/json":
        raise HttpError(400, {"errors": {"Content-Type": "expecting application/json"}})
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise _message(400, "The browser (or proxy) sent a request that this server could not understand.")
    return body


Handler = Callable[..., Response]
#: (method, path template as in the Swagger file, handler): the only routes the fake serves.
ROUTES: tuple[tuple[str, str, Handler], ...] = (
    ("GET", "/datasets/licenses/", FakeDataGouv.licenses),
    ("POST", "/datasets/", FakeDataGouv.create_dataset),
    ("GET", "/datasets/{dataset}/", FakeDataGouv.get_dataset),
    ("PUT", "/datasets/{dataset}/", FakeDataGouv.update_dataset),
    ("DELETE", "/datasets/{dataset}/", FakeDataGouv.delete_dataset),
    ("POST", "/datasets/{dataset}/upload/", FakeDataGouv.upload),
    ("POST", "/datasets/{dataset}/resources/{rid}/upload/", FakeDataGouv.upload),
    ("PUT", "/datasets/{dataset}/resources/{rid}/", FakeDataGouv.update_resource),
    ("GET", "/organizations/{org}/", FakeDataGouv.get_organization),
    ("GET", "/organizations/{org}/datasets/", FakeDataGouv.org_datasets),
)


@contextlib.contextmanager
def running_fake() -> Iterator[Peer]:
    """The fake platform described like the real udata peer, until the block ends."""
    started = time.perf_counter()
    with FakeDataGouv() as fake:
        yield Peer(fake.url, fake.api_key, fake.outsider_key, fake.org["id"], fake.org["slug"],
                   time.perf_counter() - started)
