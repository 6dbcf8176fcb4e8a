"""Servers that echo the request back (path, query, headers, body) must not make a secret travel on.

One `moisson run --all --json` of a catalog whose CSW source (Isogeo-style token in the path),
data.gouv.fr target (API key header) and Opendatasoft target (Authorization header) all point at
an echoing server that refuses everything. Every place a message goes is then read: the CLI's
stdout and stderr, its JSON, the reports folder, and the whole Prefect database (flow and task
states, logs, artifacts, events), which must not hold any of the secret values.
The command runs in its own process, as users start it (`run_moisson` says why not in this one).
"""

from __future__ import annotations

import textwrap
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from tests.peers.process import run_moisson, wait_for
from tests.security.prefect_db import prefect_database_text

pytestmark = pytest.mark.usefixtures("prefect_server")

TOKEN, DATAGOUV_KEY, ODS_KEY = "SECRETTOKEN123abc", "SUPERSECRETKEY987", "ODSSECRETKEY4242"
SECRETS = (TOKEN, DATAGOUV_KEY, ODS_KEY)


class Echo(BaseHTTPRequestHandler):
    """Refuses every request (403), quoting it whole: what careless servers do in their error pages."""

    seen: ClassVar[list[str]] = []

    def _echo(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)[:300].decode("utf-8", "replace") if length else ""
        headers = "\n".join(f"{k}: {v}" for k, v in self.headers.items())
        text = f"forbidden: {self.command} {self.path}\n{headers}\n{body}".encode()
        self.seen.append(self.path)
        self.send_response(403)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _echo

    def log_message(self, *args):
        pass


@pytest.fixture
def echo():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    Echo.seen = []
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def write_catalog(folder: Path, echo: str) -> Path:
    (folder / "data").mkdir()
    (folder / "data" / "salles.csv").write_text("nom,capacite\nSalle des fêtes,120\nGymnase,300\n", encoding="utf-8")
    path = folder / "catalog.yaml"
    path.write_text(textwrap.dedent(f"""\
        version: 1
        defaults: {{targets: [datagouv, ods], metadata: {{license: lov2}}}}
        sources:
          tableurs: {{connector: spreadsheet, config: {{root: data}}}}
          isogeo: {{connector: csw, config: {{url: {{env: TEST_CSW_URL}}, retries: 0, timeout: 10}}}}
        targets:
          datagouv: {{connector: datagouv, config: {{api: "{echo}/api/1", organization: commune,
                      api_key: {{env: TEST_DATAGOUV_KEY}}, retries: 0, timeout: 10}}}}
          ods: {{connector: opendatasoft, config: {{domain: "{echo}", api_key: {{env: TEST_ODS_KEY}}, timeout: 10}}}}
        datasets:
          - {{id: salles, source: tableurs, locator: {{path: salles.csv}}, frequency: monthly,
              metadata: {{title: Salles}}}}
          - {{id: voirie, source: isogeo, locator: {{record: fiche-voirie}}, frequency: monthly, targets: [ods],
              metadata: {{title: Voirie}}}}
        """), encoding="utf-8")
    return path


def test_no_secret_leaves_moisson_through_an_echoing_server(echo, tmp_path, moisson_home):
    catalog = write_catalog(tmp_path, echo)
    result = run_moisson("run", "--all", "--json", "--catalog", str(catalog), env={
        "TEST_CSW_URL": f"{echo}/ows/s/abc/c/{TOKEN}", "TEST_DATAGOUV_KEY": DATAGOUV_KEY, "TEST_ODS_KEY": ODS_KEY})
    assert result.returncode == 1, result.stderr[-3000:]
    assert any(TOKEN in path for path in Echo.seen), "the CSW was really asked, token in the path"
    assert "forbidden" in result.stdout, "the server's words are still quoted, once scrubbed"
    # Logs and events reach the server in batches: wait on what the run wrote (its failure events and logs).
    database = wait_for(lambda: (text := prefect_database_text()).count("moisson.dataset.failed") >= 2 and
                        "forbidden" in text and text, "the run's events and logs in the Prefect database", 60)
    reports = "\n".join(p.read_text(encoding="utf-8", errors="replace")
                        for p in moisson_home.rglob("*") if p.is_file() and p.suffix in (".json", ".html", ".md"))
    for secret in SECRETS:
        assert secret not in result.stdout, secret
        assert secret not in result.stderr, secret
        assert secret not in reports, secret
        assert secret not in database, secret
