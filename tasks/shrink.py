"""Shrink guard: a new version much smaller than the published one is held back, not published.

A source file that comes back header-only, blank, cut mid-row or without half its columns is
far more often an export gone wrong than real news; publishing it would replace good data
with bad. The guard compares the checked version with the shape remembered at the last
publication (`RemoteState.extra["shape"]`) and refuses:

- a version with no row at all (even on a first publication: an empty dataset is a choice);
- one that loses more than `quality.allow_shrink` of the rows or of the columns (default 0.5);
- one whose source said its last row looked cut.

The data officer accepts a refusal for good with `quality: {allow_shrink: <share>}` (1 accepts
everything, an empty dataset included) or once with `moisson run --accept-shrink`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from moisson.catalog.model import Catalog
from moisson.connectors.base import Extract
from moisson.core.notes import said
from moisson.core.state import StateStore
from moisson.quality.messages import Lang

#: Key of `RemoteState.extra` holding the shape of the published version.
SHAPE = "shape"

MESSAGES: dict[Lang, dict[str, str]] = {
    "fr": {
        "empty": "la nouvelle version n'a aucune ligne{before}",
        "before": " (la version publiée en a {rows})",
        "rows": "la nouvelle version passe de {old} à {new} lignes (−{share:.0%}, plus que les {allowed:.0%} admis)",
        "columns": "la nouvelle version passe de {old} à {new} colonnes (−{share:.0%}, plus que les {allowed:.0%} "
                   "admis)",
        "cut": "la dernière ligne de la source semble coupée ({detail})",
        "held": "{reasons} ; rien n'a été publié, la version en ligne reste celle d'avant. Si la source est juste, "
                "acceptez-la dans le catalogue avec `quality: {{allow_shrink: {key}}}` pour le jeu {dataset}, "
                "ou une fois avec `moisson run --accept-shrink {dataset}`",
        "held-cut": "{reasons} ; rien n'a été publié, la version en ligne reste celle d'avant. Corrigez le fichier "
                    "source (export interrompu ?) et relancez, ou publiez-le tel quel une fois avec "
                    "`moisson run --accept-shrink {dataset}`",
    },
    "en": {
        "empty": "the new version has no row{before}",
        "before": " (the published one has {rows})",
        "rows": "the new version goes from {old} to {new} rows (−{share:.0%}, more than the {allowed:.0%} allowed)",
        "columns": "the new version goes from {old} to {new} columns (−{share:.0%}, more than the {allowed:.0%} "
                   "allowed)",
        "cut": "the last row of the source looks cut ({detail})",
        "held": "{reasons}; nothing was published, the online version is still the previous one. If the source is "
                "right, accept it in the catalog with `quality: {{allow_shrink: {key}}}` for dataset {dataset}, "
                "or once with `moisson run --accept-shrink {dataset}`",
        "held-cut": "{reasons}; nothing was published, the online version is still the previous one. Fix the "
                    "source file (an interrupted export?) and rerun, or publish it as it is once with "
                    "`moisson run --accept-shrink {dataset}`",
    },
}


@dataclass(frozen=True)
class Shape:
    """Rows and columns of one version of a dataset."""

    rows: int
    columns: int

    def as_extra(self) -> dict[str, dict[str, int]]:
        """The shape as `RemoteState.extra` stores it."""
        return {SHAPE: {"rows": self.rows, "columns": self.columns}}


def shape_of(path: Path) -> Shape:
    """Shape of a Parquet file, from its footer (no row is read)."""
    metadata = pq.read_metadata(path)
    return Shape(metadata.num_rows, metadata.num_columns)


def published_shape(store: StateStore, dataset_id: str, targets: Iterable[str]) -> Shape | None:
    """The largest shape remembered on the dataset's targets (the strictest comparison), if any."""
    shapes = [_stored(state.extra) for target in targets if (state := store.remote(dataset_id, target))]
    known = [s for s in shapes if s is not None]
    return Shape(max(s.rows for s in known), max(s.columns for s in known)) if known else None


def shrink_refusal(dataset_id: str, new: Shape, published: Shape | None, *, allowed: float,
                   cut: str | bool | None = None, lang: Lang = "fr") -> str | None:
    """Why the new version must not replace the published one, or None when it may.

    Args:
        dataset_id: For the message.
        new: Shape of the checked version.
        published: Shape at the last publication (None: never published, or before the guard).
        allowed: Largest share of rows or columns the new version may lose (`quality.allow_shrink`).
        cut: The source's word that its last row looks cut (a text saying how, or True).
        lang: Language of the message.
    """
    say = MESSAGES[lang]
    if cut:
        detail = said(cut, lang) if isinstance(cut, str) else "?"
        return say["held-cut"].format(reasons=say["cut"].format(detail=detail), dataset=dataset_id)
    reasons, needed = [], 0.0
    if new.rows == 0 and allowed < 1:
        before = say["before"].format(rows=published.rows) if published else ""
        reasons.append(say["empty"].format(before=before))
        needed = 1.0
    elif published is not None:
        for kind, old, now in (("rows", published.rows, new.rows), ("columns", published.columns, new.columns)):
            share = (old - now) / old if old else 0.0
            if share > allowed:
                reasons.append(say[kind].format(old=old, new=now, share=share, allowed=allowed))
                needed = max(needed, share)
    if not reasons:
        return None
    key = 1 if needed >= 1 else math.ceil(needed * 100) / 100
    return say["held"].format(reasons=" ; ".join(reasons) if lang == "fr" else "; ".join(reasons), key=key,
                              dataset=dataset_id)


def _stored(extra: Mapping[str, Any]) -> Shape | None:
    shape = extra.get(SHAPE)
    if not isinstance(shape, Mapping):
        return None
    return Shape(int(shape.get("rows", 0)), int(shape.get("columns", 0)))


def held_back(catalog: Catalog, store: StateStore, dataset_id: str, data: Path, extract: Extract) -> str | None:
    """The shrink guard's refusal of the checked file `data` of a dataset, or None when it may be published."""
    dataset = catalog.dataset(dataset_id)
    policy = catalog.quality_of(dataset)
    cut = extract.cut_last_row
    return shrink_refusal(dataset_id, shape_of(data), published_shape(store, dataset_id, catalog.targets_of(dataset)),
                          allowed=policy.allow_shrink, cut=cut.detail if cut else None, lang=policy.lang)
