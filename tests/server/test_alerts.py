"""`moisson automations apply` on a real Prefect server, then real alerts: a webhook and an SMTP e-mail.

A dataset whose source credential is missing fails: the "run failed" automation posts to a
local webhook. A dataset the quality gate blocks: the "dataset blocked" automation sends an
e-mail through moisson's SMTP block to a real SMTP server (aiosmtpd). The server loads that
block through the `prefect.collections` entry point.
"""

from __future__ import annotations

import json
import textwrap
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from aiosmtpd.controller import Controller
from prefect.blocks.notifications import CustomWebhookNotificationBlock
from prefect.client.orchestration import get_client
from typer.testing import CliRunner

from moisson.cli import app
from moisson.notifications import SmtpEmail
from tests.peers.process import free_port, run_moisson, wait_for

ALERT_TIMEOUT = 90

DATASETS = """\
  - {id: verrouille, source: verrou}
  - {id: mauvais, source: tableur, schema: schema.json}
  - {id: horaire, source: tableur, frequency: hourly}
"""


def write_catalog(folder: Path, datasets: str) -> Path:
    (folder / "schema.json").write_text(json.dumps({"fields": [{"name": "a", "type": "integer"}]}), encoding="utf-8")
    path = folder / "catalog.yaml"
    path.write_text(textwrap.dedent("""\
        version: 1
        defaults: {targets: [mem], metadata: {license: lov2, title: Jeu de test}}
        sources:
          tableur: {connector: "tests.fakes.connectors:MemorySource", config: {rows: [{a: "douze"}, {a: "12"}]}}
          verrou: {connector: "tests.fakes.connectors:MemorySource", config: {token: {env: MOISSON_ALERT_TEST_TOKEN}}}
        targets:
          mem: {connector: "tests.fakes.connectors:MemoryTarget"}
        datasets:
        """) + datasets, encoding="utf-8")
    return path


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        self.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))  # decodes French headers
        return "250 OK"


@pytest.fixture
def webhook():
    _Hook.received = []
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook", _Hook.received
    server.shutdown()


@pytest.fixture
def smtp():
    mailbox = _Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller.port, mailbox.messages
    controller.stop()


def test_alerts_reach_a_webhook_and_a_mailbox(prefect_api, tmp_path, moisson_home, webhook, smtp):
    hook_url, posts = webhook
    smtp_port, mails = smtp
    CustomWebhookNotificationBlock(name="moisson-test", url=hook_url, method="POST",
                                   json_data={"subject": "{{subject}}", "body": "{{body}}"}
                                   ).save("moisson-test", overwrite=True)
    SmtpEmail(host="127.0.0.1", port=smtp_port, security="none", sender="moisson@ville.example",
              to=["donnees@ville.example"]).save("moisson-test", overwrite=True)
    alerts = tmp_path / "automations.yaml"
    alerts.write_text("notify: custom-webhook/moisson-test\n"
                      "alerts:\n  blocked: {notify: email-smtp/moisson-test}\n", encoding="utf-8")
    catalog = write_catalog(tmp_path, DATASETS)
    runner = CliRunner()

    def apply() -> dict:
        result = runner.invoke(app, ["automations", "apply", "--file", str(alerts), "--catalog", str(catalog),
                                     "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.output)

    first = apply()
    assert sorted(first["created"]) == ["moisson · dataset blocked", "moisson · overdue · horaire",
                                        "moisson · run failed"]
    assert apply() == {"created": [], "updated": sorted(first["created"], key=first["created"].index),
                       "deleted": []}, "applying twice updates, never duplicates"
    with get_client(sync_client=True) as client:
        names = [a.name for a in client.read_automations()]
    assert names.count("moisson · run failed") == 1

    # The runs come from `moisson run` in its own process, as a cron job or an operator would start them.
    run = run_moisson("run", "verrouille", "mauvais", "--catalog", str(catalog), "--json", timeout=300, env={
        **prefect_api.env, "MOISSON_HOME": str(moisson_home), "MOISSON_ALERT_TEST_TOKEN": None,
        "MOISSON_STATE_URL": None})
    assert run.returncode == 1, run.stderr[-3000:]
    statuses = {o["id"]: o["status"] for o in json.loads(run.stdout)["datasets"]}
    assert statuses == {"verrouille": "failed", "mauvais": "blocked"}

    post = wait_for(lambda: next((p for p in posts if "harvest · verrouille" in p["subject"]), None),
                    "webhook post for the failed run", ALERT_TIMEOUT)
    assert "Failed" in post["subject"] and "MOISSON_ALERT_TEST_TOKEN n'est pas définie" in post["body"]
    mail = wait_for(lambda: next((m for m in mails if "mauvais" in m["Subject"]), None), "e-mail for the blocked run",
                    ALERT_TIMEOUT)
    assert mail["Subject"] == "moisson : mauvais bloqué par les contrôles de qualité"
    assert mail["To"] == "donnees@ville.example"
    assert "1 erreur de qualité" in mail.get_content()

    # The hourly dataset leaves the catalog: its overdue alert goes with it.
    catalog = write_catalog(tmp_path, "  - {id: mauvais, source: tableur, schema: schema.json}\n")
    assert apply()["deleted"] == ["moisson · overdue · horaire"]


def test_a_missing_notification_block_says_how_to_create_it(prefect_api, tmp_path):
    alerts = tmp_path / "automations.yaml"
    alerts.write_text("notify: slack-webhook/nobody-made-me\n", encoding="utf-8")
    catalog = write_catalog(tmp_path, "  - {id: horaire, source: tableur, frequency: hourly}\n")
    result = CliRunner().invoke(app, ["automations", "apply", "--file", str(alerts), "--catalog", str(catalog)])
    assert result.exit_code == 2
    message = " ".join(result.output.split())
    assert "slack-webhook/nobody-made-me" in message and "Blocks" in message
