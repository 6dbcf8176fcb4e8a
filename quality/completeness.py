"""Metadata completeness: score the publication fields of a dataset; a missing title or licence blocks.

Portals list, search and license a dataset by its metadata: without a title it cannot be shown, without
a licence it cannot be reused (data.gouv.fr refuses neither but the result is not open data). The other
fields only warn, and the score (share of the fields filled) goes into the quality report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

from moisson.core.metadata import DatasetMetadata
from moisson.quality.checks import Issues

METADATA = "metadata"
Filled = Callable[[DatasetMetadata], bool]
# Field (as named in the catalog's `metadata`), whether its absence blocks, how to tell it is filled.
FIELDS: tuple[tuple[str, bool, Filled], ...] = (
    ("title", True, lambda m: bool((m.title or "").strip())),
    ("license", True, lambda m: m.license not in (None, "notspecified")),
    ("description", False, lambda m: bool((m.description or "").strip())),
    ("keywords", False, lambda m: bool(m.keywords)),
    ("producer", False, lambda m: bool((m.producer or "").strip())),
    ("spatial", False, lambda m: bool(m.spatial and (m.spatial.zones or m.spatial.bbox))),
    ("spatial.granularity", False, lambda m: bool(m.spatial and m.spatial.granularity)),
    ("temporal", False, lambda m: bool(m.temporal and (m.temporal.start or m.temporal.end))),
    ("frequency", False, lambda m: m.frequency not in (None, "unknown")),
    ("dates", False, lambda m: bool(m.issued or m.modified)),
)


@dataclass(frozen=True)
class Completeness:
    """How complete a dataset's metadata is.

    Attributes:
        score: Percentage of the scored fields that are filled (0–100).
        filled: Names of the filled fields.
        missing: Names of the missing fields.
        blocking: The missing fields that block publication (title, licence).
    """

    score: int
    filled: list[str]
    missing: list[str]
    blocking: list[str]

    def summary(self, issues: Issues) -> str:
        """One sentence with the score, in the report's language."""
        return issues.say("meta.score", score=self.score, filled=len(self.filled), total=len(FIELDS))

    def to_dict(self) -> dict[str, object]:
        """JSON-safe dictionary."""
        return asdict(self)


def score_metadata(metadata: DatasetMetadata) -> Completeness:
    """Score the publication fields of `metadata`."""
    filled = [name for name, _, test in FIELDS if test(metadata)]
    missing = [name for name, _, _ in FIELDS if name not in filled]
    blocking = [name for name, blocks, _ in FIELDS if blocks and name in missing]
    return Completeness(score=round(100 * len(filled) / len(FIELDS)), filled=filled, missing=missing,
                        blocking=blocking)


def check_metadata(metadata: DatasetMetadata, issues: Issues) -> Completeness:
    """Score the metadata and record a blocking error per missing title or licence, a warning per other gap."""
    result = score_metadata(metadata)
    for name in result.missing:
        if name in result.blocking:
            issues.table(field=name, type=METADATA, rule="required",
                         message=issues.say("meta.missing-blocking", field=name))
        else:
            issues.table(field=name, type=METADATA, rule="recommended", warning=True,
                         message=issues.say("meta.missing", field=name))
    return result
