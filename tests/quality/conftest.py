"""Fixtures of the quality tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.data import SCDL, reference


@pytest.fixture
def scdl() -> Path:
    return reference(SCDL)
