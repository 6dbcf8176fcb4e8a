"""What the catalog may say about a dataset's quality checks (`quality:` in `catalog.yaml`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from moisson.core.secrets import Secret, SecretRef
from moisson.quality.messages import DEFAULT_LANG, Lang


class Expectation(BaseModel):
    """One extra Great Expectations expectation, by its snake_case name.

    Example: ``{type: expect_column_values_to_be_between, kwargs: {column: capacite, min_value: 1}}``.
    """

    model_config = ConfigDict(extra="forbid")

    type: str = Field(pattern=r"^expect_[a-z_]+$")
    kwargs: dict[str, Any] = Field(default_factory=dict)


class QualityPolicy(BaseModel):
    """Per-dataset quality settings; the catalog's `defaults.quality` fills what a dataset omits.

    Attributes:
        on_failure: `block` keeps a failing dataset unpublished; `warn` publishes it and reports.
        expectations: Extra expectations added to the suite generated from the Table Schema.
        personal_data: Per column, what to do with values that look personal
            (`keep`, `drop` the column, `hash` the values, `block` publication).
        hash_salt: Salt of `hash` (a secret reference, resolved by the quality task); keep it
            stable, or the hashed values change at every run.
        extent: WGS84 bbox [west, south, east, north] the coordinates must fall in
            (default: France with overseas territories).
        lang: Language of the report's messages (`fr` or `en`).
        allow_shrink: Largest share of rows or columns a new version may lose against the published one
            before the shrink guard holds it back (1 accepts anything, an empty dataset included).
        normalise: Rewrite French dates and numbers (`05/12/2016`, `1 200`, `99 786,57`) into the schema's
            forms, reporting each column rewritten; `false` leaves them as found, so they are errors, as in
            Validata.
        extra_columns: Source columns the Table Schema does not know: `keep` publishes them after the
            schema's columns, `drop` leaves them out of the published file.
    """

    model_config = ConfigDict(extra="forbid")

    on_failure: Literal["block", "warn"] = "block"
    expectations: list[Expectation] = Field(default_factory=list)
    personal_data: dict[str, Literal["keep", "drop", "hash", "block"]] = Field(default_factory=dict)
    extent: tuple[float, float, float, float] | None = None
    hash_salt: Secret = SecretRef(env="MOISSON_HASH_SALT")
    lang: Lang = DEFAULT_LANG
    normalise: bool = True
    allow_shrink: float = Field(0.5, ge=0, le=1)
    extra_columns: Literal["keep", "drop"] = "keep"
