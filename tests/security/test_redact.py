"""The redaction filter alone: database URLs and SQL driver texts, tracebacks in log records."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from moisson.core.errors import RejectedError
from moisson.core.redact import forget_all, remember, scrub
from moisson.core.secrets import reveal


@pytest.fixture(autouse=True)
def fresh():
    forget_all()
    yield
    forget_all()


def test_a_database_url_is_masked_whole_and_its_password_alone():
    url = "postgresql+psycopg://sig:P4ssw0rd-SQL@db.example.fr:5432/sig"
    remember(url)
    assert scrub(f"could not connect with {url}") == "could not connect with ***"
    assert "P4ssw0rd-SQL" not in scrub("FATAL: password authentication failed (P4ssw0rd-SQL)")


def test_a_url_whose_secret_is_its_query_leaves_its_host_readable():
    remember("https://portail.example.fr/?apikey=SECRETAPIKEY99")
    assert scrub("GET https://portail.example.fr/… a répondu 500") == "GET https://portail.example.fr/… a répondu 500"
    assert scrub("GET https://portail.example.fr/?apikey=SECRETAPIKEY99") == "GET ***"
    assert scrub("GET /datasets?apikey=SECRETAPIKEY99&rows=10") == "GET /datasets?apikey=***&rows=10"


def test_a_revealed_secret_is_remembered():
    from pydantic import SecretStr

    assert reveal(SecretStr("tok-ABCDEF123"), what="token") == "tok-ABCDEF123"
    assert scrub("GET /x?apikey=tok-ABCDEF123") == "GET /x?apikey=***"


def test_an_sql_error_text_quoting_the_password_is_scrubbed():
    remember("S3cretInQuery")
    engine = create_engine("sqlite://")
    with pytest.raises(DBAPIError) as info, engine.connect() as conn:
        conn.execute(text("SELECT * FROM no_such_table WHERE pwd = 'S3cretInQuery'"))
    assert "S3cretInQuery" in str(info.value), "the driver's text does quote it"
    error = RejectedError(f"the query failed: {info.value}")
    assert "S3cretInQuery" not in str(error) and "no_such_table" in str(error)


def test_log_records_and_their_tracebacks_are_scrubbed(caplog):
    remember("https://csw.example.fr/ows/s/abc/c/TOKEN0123456789")
    logger = logging.getLogger("moisson.test")
    try:
        raise ValueError("fetching https://csw.example.fr/ows/s/abc/c/TOKEN0123456789 failed")
    except ValueError:
        logger.exception("harvest of %s", "/ows/s/abc/c/TOKEN0123456789")
    assert "TOKEN0123456789" not in caplog.text
    assert "harvest of" in caplog.text and "ValueError" in caplog.text
