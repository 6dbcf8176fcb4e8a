from __future__ import annotations

from pathlib import Path

import pytest

from moisson.core.errors import ConfigError
from moisson.core.secrets import SecretRef, reveal
from moisson.tasks.connect import anchor_paths, resolve_secret, resolve_secrets
from tests.fakes.connectors import MemorySource


def test_env_secret_resolved(monkeypatch):
    monkeypatch.setenv("MOISSON_TEST_KEY", "s3cr3t")
    config = resolve_secrets({"token": {"env": "MOISSON_TEST_KEY"}, "nested": [{"env": "MOISSON_TEST_KEY"}]})
    assert config == {"token": "s3cr3t", "nested": ["s3cr3t"]}
    source = MemorySource(MemorySource.Config.model_validate({"token": config["token"]}))
    assert "s3cr3t" not in repr(source.config), "a resolved secret must stay masked in reprs"
    assert reveal(source.config.token, what="token") == "s3cr3t"


def test_missing_env_secret_names_variable_not_value(monkeypatch):
    monkeypatch.delenv("MOISSON_ABSENT", raising=False)
    with pytest.raises(ConfigError, match=r"MOISSON_ABSENT n.est pas définie"):
        resolve_secret(SecretRef(env="MOISSON_ABSENT"))


def test_unresolved_reference_is_refused():
    config = MemorySource.Config.model_validate({"token": {"env": "X"}})
    with pytest.raises(ConfigError, match="encore la référence env:X"):
        reveal(config.token, what="token")


def test_block_reference_must_name_a_secret():
    with pytest.raises(ValueError, match="secret/"):
        SecretRef(block="json/foo")


def test_relative_paths_anchored_on_catalog(tmp_path):
    anchored = anchor_paths(MemorySource.Config, {"folder": "data", "rows": []}, tmp_path)
    assert Path(anchored["folder"]) == tmp_path / "data"
    assert anchor_paths(MemorySource.Config, {"folder": "/abs"}, tmp_path)["folder"] == "/abs"
