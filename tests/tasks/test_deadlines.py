"""Task and flow budgets from the connectors' settings, and what the retry policy retries."""

from __future__ import annotations

import textwrap

import pytest
from prefect.task_engine import TaskRunTimeoutError

from moisson.catalog.model import load_catalog
from moisson.core.errors import RejectedError, UnavailableError
from moisson.tasks.deadlines import EXCHANGES, LOCAL_WORK, UNTIMED, flow_timeout, task_timeout
from moisson.tasks.retry import retry_if_retryable

CATALOG = """\
version: 1
defaults: {targets: [portail, ods], metadata: {license: lov2}}
sources:
  tableurs: {connector: spreadsheet, config: {root: data}}
  csw: {connector: csw, config: {url: {env: CSW_URL}, timeout: 20, retries: 2}}
targets:
  portail: {connector: local, config: {path: portal, title: Test, harvestable: false}}
  ods: {connector: opendatasoft, config: {domain: "https://ods.example.fr", api_key: {env: ODS_KEY},
        timeout: 30, publish_timeout: 600}}
datasets:
  - {id: salles, source: tableurs, locator: {path: salles.csv}, frequency: monthly, metadata: {title: Salles}}
"""


@pytest.fixture
def catalog(tmp_path):
    path = tmp_path / "catalog.yaml"
    path.write_text(textwrap.dedent(CATALOG), encoding="utf-8")
    return load_catalog(path)


def test_budgets_follow_the_connectors_timeouts(catalog):
    assert task_timeout(catalog, "source", "csw") == 20 * EXCHANGES * 3
    assert task_timeout(catalog, "source", "tableurs") == UNTIMED, "a file source has no timeout of its own"
    ods = task_timeout(catalog, "target", "ods")
    assert ods == 30 * EXCHANGES + 600, "the HTTP exchanges and the wait for Opendatasoft's processing"
    assert flow_timeout(catalog, "salles") == 2 * UNTIMED + LOCAL_WORK + UNTIMED + ods


class State:
    def __init__(self, exc):
        self.exc = exc

    def result(self):
        raise self.exc


@pytest.mark.parametrize(("exc", "retried"), [
    (UnavailableError("503"), True), (RejectedError("400"), False), (ConnectionResetError(), True),
    (TaskRunTimeoutError("budget"), False), (ValueError("a bug"), False), (KeyError("x"), False),
])
def test_only_retryable_and_transport_errors_are_retried(exc, retried):
    assert retry_if_retryable(None, None, State(exc)) is retried
