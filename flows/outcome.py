"""The result of one dataset's run, as the CLI prints it (`--json`) and the flows return it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

DatasetStatus = Literal["published", "unchanged", "blocked", "failed", "planned"]


class TargetReport(BaseModel):
    """One target's outcome.

    `status` is created, updated, unchanged, archived, skipped or failed; under `--dry-run`
    it is the planned action: create, update, unchanged, archive or skip.
    """

    status: str
    remote_id: str | None = None
    url: str | None = None
    changes: list[str] = Field(default_factory=list)
    error: str | None = None
    note: str | None = None


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
    targets: dict[str, TargetReport] = Field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the run needs no attention (exit code 0)."""
        return self.status in ("published", "unchanged", "planned")
