"""Catalog runs on a plain-HTTP Prefect API spare the CA bundle; an HTTPS API keeps its verified TLS context."""

from __future__ import annotations

import ssl

import certifi
from prefect.settings import PREFECT_API_SSL_CERT_FILE, PREFECT_API_URL, temporary_settings

from moisson.flows.harvest import plain_http_clients


def test_a_plain_http_api_loads_one_certificate(moisson_home):
    before = PREFECT_API_SSL_CERT_FILE.value()
    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:4200/api"}), plain_http_clients():
        chosen = PREFECT_API_SSL_CERT_FILE.value()
        assert chosen and chosen not in (certifi.where(), before)
        context = ssl.create_default_context(cafile=chosen)
    assert len(context.get_ca_certs()) == 1
    assert PREFECT_API_SSL_CERT_FILE.value() == before, "the setting is back once the runs are over"


def test_an_https_api_keeps_its_ca_file(moisson_home, tmp_path):
    mine = str(tmp_path / "ca.pem")
    for chosen in (None, mine):
        with temporary_settings(updates={PREFECT_API_URL: "https://prefect.commune.example/api",
                                         PREFECT_API_SSL_CERT_FILE: chosen}), plain_http_clients():
            assert PREFECT_API_SSL_CERT_FILE.value() == chosen
