"""The result of one dataset's run, as the CLI prints it (`--json`) and the flows return it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from moisson.connectors.base import PublishResult

DatasetStatus = Literal["published", "unchanged", "blocked", "failed", "planned"]


class QualitySummary(BaseModel):
    """Whether the data passed, how many errors, and where the full report is."""

    success: bool
    errors: int = 0
    warnings: int = 0
    report: str | None = None
    first_errors: list[dict] = Field(default_factory=list)


class DatasetOutcome(BaseModel):
    """One dataset's run.

    `status` is `published` (something changed on a target), `unchanged`, `blocked` by
    quality, `failed` (see `error`) or `planned` (dry run).
    """

    id: str
    status: DatasetStatus
    rows: int | None = None
    quality: QualitySummary | None = None
    targets: dict[str, PublishResult] = Field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the run needs no attention (exit code 0)."""
        return self.status in ("published", "unchanged", "planned")
