from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import moisson.quality.schema as schema_module
from moisson.core.errors import NotFoundError, RejectedError, UnavailableError
from moisson.quality.schema import load_schema

SCHEMA = {"name": "demo", "version": "1.2.0",
          "fields": [{"name": "id", "type": "string", "constraints": {"required": True}}]}


class Server:
    """A local HTTP server on 127.0.0.1 serving a folder, counting requests."""

    def __init__(self, root: Path) -> None:
        self.root, self.requests = root, []
        outer = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(root), **kwargs)

            def do_GET(self):
                outer.requests.append(self.path)
                super().do_GET()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    root = tmp_path / "www"
    root.mkdir()
    running = Server(root)
    yield running
    if running.thread.is_alive():
        running.stop()


def publish(server: Server, path: str, content: str) -> str:
    target = server.root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(content, encoding="utf-8")
    return f"{server.url}/{path}"


def test_file_relative_to_schemas_dir_and_absolute(scdl: Path, tmp_path: Path) -> None:
    ref = load_schema("subventions/schema.json", schemas_dir=scdl, cache_dir=tmp_path)
    assert ref.name == "subventions" and ref.version == "2.1.1"
    assert Path(ref.source) == (scdl / "subventions/schema.json").resolve()
    assert [f.name for f in ref.fields][:2] == ["nomAttribuant", "idAttribuant"]
    same = load_schema(str((scdl / "subventions/schema.json").resolve()), schemas_dir=tmp_path, cache_dir=tmp_path)
    assert same.descriptor == ref.descriptor


def test_file_relative_to_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "local.json").write_text(json.dumps(SCHEMA), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert load_schema("local.json", schemas_dir=tmp_path / "elsewhere", cache_dir=tmp_path).name == "demo"


def test_every_reference_table_schema_loads(scdl: Path, tmp_path: Path) -> None:
    paths = [p for p in sorted(scdl.glob("*/schema*.json")) if "fields" in json.loads(p.read_text())]
    assert len(paths) >= 15
    for path in paths:
        ref = load_schema(str(path), schemas_dir=scdl, cache_dir=tmp_path)
        assert ref.fields, path


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match=r"nope\.json") as caught:
        load_schema("schemas/nope.json", schemas_dir=tmp_path, cache_dir=tmp_path)
    assert "schema.data.gouv.fr" in str(caught.value)


def test_not_json_names_the_position(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text('{"fields": [', encoding="utf-8")
    with pytest.raises(RejectedError, match=r"n'est pas un JSON valide.*ligne 1"):
        load_schema("bad.json", schemas_dir=tmp_path, cache_dir=tmp_path)


@pytest.mark.parametrize(("descriptor", "expected"), [
    ({"fields": [{"name": "a", "type": "strin"}]}, r"fields\[0\] \(a\).*strin"),
    ({"fields": [{"name": "a", "type": "string"}, {"type": "string"}]}, r"fields\[1\].*'name' is a required"),
    ({"fields": [{"name": "a", "type": "string", "constraints": {"pattern": "[("}}]}, r"\(a\).*pattern"),
    ({"fields": [{"name": "a", "type": "string"}], "primaryKey": ["b"]}, "primary key"),
    ({"fieldz": []}, "'fields' is a required property"),
    ([1, 2], "objet JSON"),
])
def test_invalid_schema_names_the_key(tmp_path: Path, descriptor: object, expected: str) -> None:
    (tmp_path / "s.json").write_text(json.dumps(descriptor), encoding="utf-8")
    with pytest.raises(RejectedError, match=expected):
        load_schema("s.json", schemas_dir=tmp_path, cache_dir=tmp_path)


def test_url_is_cached_and_served_offline(server: Server, tmp_path: Path) -> None:
    url = publish(server, "schemas/demo.json", json.dumps(SCHEMA))
    cache = tmp_path / "cache"
    online = load_schema(url, schemas_dir=tmp_path, cache_dir=cache)
    assert online.name == "demo" and online.version == "1.2.0" and online.source == url
    assert len(list(cache.glob("*.json"))) == 1
    server.stop()
    offline = load_schema(url, schemas_dir=tmp_path, cache_dir=cache)
    assert offline.descriptor == online.descriptor
    with pytest.raises(UnavailableError, match="aucune copie en cache"):
        load_schema(url, schemas_dir=tmp_path, cache_dir=tmp_path / "empty-cache")


def test_registry_name_pinned_version_needs_no_network_once_cached(server: Server, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schema_module, "REGISTRY", f"{server.url}/schemas")
    publish(server, "schemas/scdl/demo/1.2.0/schema.json", json.dumps(SCHEMA))
    first = load_schema("scdl/demo@1.2.0", schemas_dir=tmp_path, cache_dir=tmp_path / "cache")
    second = load_schema("scdl/demo@1.2.0", schemas_dir=tmp_path, cache_dir=tmp_path / "cache")
    assert (first.name, first.version) == ("scdl/demo", "1.2.0")
    assert second == first
    assert server.requests == ["/schemas/scdl/demo/1.2.0/schema.json"]


def test_registry_latest_is_fetched_each_time(server: Server, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schema_module, "REGISTRY", f"{server.url}/schemas")
    publish(server, "schemas/etalab/demo/latest/schema.json", json.dumps(SCHEMA))
    for _ in range(2):
        ref = load_schema("etalab/demo", schemas_dir=tmp_path, cache_dir=tmp_path / "cache")
    assert ref.version == "1.2.0"
    assert len(server.requests) == 2


def test_url_errors(server: Server, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="HTTP 404"):
        load_schema(f"{server.url}/missing.json", schemas_dir=tmp_path, cache_dir=tmp_path)
    page = publish(server, "page.html", "<html>not json</html>")
    with pytest.raises(RejectedError, match="n'est pas un JSON valide"):
        load_schema(page, schemas_dir=tmp_path, cache_dir=tmp_path)
    assert not list(tmp_path.glob("url-*.json"))


def test_messages_do_not_show_url_paths(server: Server, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError) as caught:
        load_schema(f"{server.url}/secret-token-123/schema.json?key=abc", schemas_dir=tmp_path, cache_dir=tmp_path)
    assert "secret-token-123" not in str(caught.value) and "abc" not in str(caught.value)


def test_a_schema_frictionless_accepted_once_is_loaded_without_it(tmp_path: Path) -> None:
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(SCHEMA), encoding="utf-8")
    code = ("import sys; from pathlib import Path; from moisson.quality.schema import load_schema; "
            f"load_schema({str(path)!r}, schemas_dir=Path('.'), cache_dir=Path({str(tmp_path)!r})); "
            "print('frictionless' in sys.modules)")
    env = {**os.environ, "MOISSON_HOME": str(tmp_path / "home")}
    runs = [subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
            for _ in range(2)]
    assert [r.stdout.strip() for r in runs] == ["True", "False"]
    # An edited descriptor is a new one: frictionless judges it again, and refuses it.
    path.write_text(json.dumps({**SCHEMA, "primaryKey": ["absent"]}), encoding="utf-8")
    refused = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert refused.returncode != 0 and "n'est pas un Table Schema valide" in refused.stderr
