"""One dataset from several sources: the same thing matched across them, each field from the source trusted for it.

Rows are matched one to one, nearest first, within `distance_m` (a KD-tree over local metres,
the candidate pairs as arrays), blocked by commune when a commune field is given, names compared
only to break ties; or on an identifier every source has (`key`). Each
field of a merged row comes from the first source of its precedence list that has a value, and
the report lists the matched pairs, the conflicts (two sources disagree on a field) and the
rows only one source knew. A row that cannot be matched at all (no key value, no coordinates)
is left out and counted; more than `max_drop_share` of any source left out refuses the merge.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from moisson.core.errors import RejectedError
from moisson.core.lazy import lazy

# The catalog reads `MergeRule`: the array libraries are imported only when rows are merged.
if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from rapidfuzz import distance
    from scipy import spatial
else:
    np, pd, distance, spatial = lazy("numpy"), lazy("pandas"), lazy("rapidfuzz.distance"), lazy("scipy.spatial")

SOURCE, SOURCE_ID = "source", "source_id"


class MergeRule(BaseModel):
    """The `merge:` block of a dataset with several sources.

    Attributes:
        key: A field every source has that identifies the thing (then distances are not used).
        distance_m: Points closer than this, in the same commune, are the same thing.
        precedence: Source order per field; `default` for the fields not listed.
        max_drop_share: Largest share of a source's rows that may be left out unmatched.
        lat: Latitude field (decimal degrees, WGS84).
        lon: Longitude field.
        commune: Field holding the commune (INSEE code), to block matches by commune.
        name: Field compared to break ties between equally near candidates.
    """

    model_config = ConfigDict(extra="forbid")

    key: str | None = None
    distance_m: float = Field(30, gt=0, le=10_000)  # metres; ties are found on decimetres packed in 20 bits
    precedence: dict[str, list[str]] = Field(default_factory=dict)
    max_drop_share: float = Field(0.2, ge=0, le=1)
    lat: str | None = None
    lon: str | None = None
    commune: str | None = None
    name: str | None = None


@dataclass
class MergeReport:
    """What a merge did."""

    rows: int = 0
    matched: list[dict[str, Any]] = field(default_factory=list)
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    only: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)


@dataclass
class _Rows:
    """One source's rows as arrays: what matching reads."""

    lat: np.ndarray
    lon: np.ndarray
    key: np.ndarray
    commune: np.ndarray
    name: np.ndarray


def merge(frames: dict[str, pd.DataFrame], rule: MergeRule) -> tuple[pd.DataFrame, MergeReport]:
    """Merge the prepared frames (same fields, in the schema's layout) of several sources.

    Args:
        frames: Each source's rows by source name, all text columns; a `source_id` column, when
            present, identifies a row in its source (else its position).
        rule: How to match and whom to trust.

    Raises:
        RejectedError: A source named in `precedence` is unknown, or too many rows could not be matched.
    """
    order = rule.precedence.get("default") or list(frames)
    unknown = {s for names in rule.precedence.values() for s in names} - set(frames)
    if unknown or set(order) != set(frames):
        raise RejectedError(f"merge: precedence names {', '.join(sorted(unknown or set(order) ^ set(frames)))}, "
                            f"but the dataset's sources are {', '.join(frames)}")
    frames = {source: frame.reset_index(drop=True) for source, frame in frames.items()}
    report = MergeReport()
    members: list[dict[str, int]] = []  # per merged row: source → row position
    seeds: list[_Rows] = []  # the first row of each merged row, which later sources are matched to
    seed_at: list[tuple[int, int]] = []
    for source in order:
        rows = _arrays(frames[source], rule)
        usable = ~pd.isna(rows.key) if rule.key else ~(np.isnan(rows.lat) | np.isnan(rows.lon))
        report.dropped[source] = int((~usable).sum())
        if len(usable) and report.dropped[source] / len(usable) > rule.max_drop_share:
            raise RejectedError(f"merge: {report.dropped[source]} of {len(usable)} rows of source {source!r} "
                                f"have no {'key' if rule.key else 'coordinates'} and could not be matched, "
                                f"more than max_drop_share {rule.max_drop_share}: fix the source or its prepare")
        positions = np.flatnonzero(usable)
        pairs = _pairs(seeds, seed_at, rows, positions, rule) if members else []
        taken_rows: set[int] = set()
        taken: set[int] = set()
        for cluster, position in pairs:
            if cluster in taken or position in taken_rows:
                continue
            taken.add(cluster)
            taken_rows.add(position)
            members[cluster][source] = position
            report.matched.append({"sources": list(members[cluster]), "source": source, "row": position + 1})
        fresh = [int(p) for p in positions if int(p) not in taken_rows]
        seeds.append(rows)
        for position in fresh:
            seed_at.append((len(seeds) - 1, position))
            members.append({source: position})
    return _combine(frames, members, order, rule, report), report


def _arrays(rows: pd.DataFrame, rule: MergeRule) -> _Rows:
    def text(column: str | None) -> np.ndarray:
        if column is None or column not in rows:
            return np.full(len(rows), None, dtype=object)
        return rows[column].astype("object").where(rows[column].notna(), None).to_numpy()

    def number(column: str | None) -> np.ndarray:
        if column is None or column not in rows:
            return np.full(len(rows), np.nan)
        return pd.to_numeric(rows[column], errors="coerce").to_numpy(dtype=float)

    return _Rows(lat=number(rule.lat), lon=number(rule.lon), key=text(rule.key), commune=text(rule.commune),
                 name=text(rule.name))


def _pairs(seeds: list[_Rows], seed_at: list[tuple[int, int]], rows: _Rows, positions: np.ndarray,
           rule: MergeRule) -> list[tuple[int, int]]:
    """Candidate (merged row, row) pairs in the order they are tried: nearest first, then likest name.

    Everything is array work but the names: they are compared (Indel distance, as difflib's ratio) only
    for the pairs whose distance, to the decimetre, ties with another pair of the same merged row or the
    same row; dense places make hundreds of thousands of candidates.
    """
    if rule.key:
        by_key: dict[str, list[int]] = {}
        for cluster, (seed, at) in enumerate(seed_at):
            by_key.setdefault(str(seeds[seed].key[at]), []).append(cluster)
        return sorted((cluster, int(p)) for p in positions for cluster in by_key.get(str(rows.key[p]), []))

    def of_seeds(attribute: str, dtype: type) -> np.ndarray:
        return np.array([getattr(seeds[s], attribute)[a] for s, a in seed_at], dtype=dtype)

    lat, lon = of_seeds("lat", float), of_seeds("lon", float)
    scale = 111_320 * math.cos(math.radians(float(np.nanmean(lat))))
    tree = spatial.cKDTree(np.column_stack([lon * scale, lat * 111_320]))
    here = np.column_stack([rows.lon[positions] * scale, rows.lat[positions] * 111_320])
    near = tree.query_ball_point(here, rule.distance_m)
    counts = np.fromiter(map(len, near), dtype=np.int64, count=len(near))
    clusters = np.fromiter(itertools.chain.from_iterable(near), dtype=np.int64, count=int(counts.sum()))
    mine = np.repeat(np.arange(len(positions)), counts)
    theirs, ours = of_seeds("commune", object)[clusters], rows.commune[positions][mine]
    same_place = (theirs == None) | (ours == None) | (theirs == ours)  # noqa: E711 (element-wise)
    clusters, mine = clusters[same_place], mine[same_place]
    decimetres = np.round(np.hypot(*(tree.data[clusters] - here[mine]).T) * 10).astype(np.int64)
    unlike = np.zeros(len(clusters))
    tied = np.zeros(len(clusters), dtype=bool)
    for group in (clusters, mine):
        # One integer per (group, distance): distances stay under 2**20 decimetres (100 km).
        _, inverse, sizes = np.unique(group << 20 | decimetres, return_inverse=True, return_counts=True)
        tied |= sizes[inverse] > 1
    names = of_seeds("name", object)
    for i in np.flatnonzero(tied):
        unlike[i] = distance.Indel.normalized_distance(str(rows.name[positions[mine[i]]] or "").lower(),
                                                       str(names[clusters[i]] or "").lower())
    order = np.lexsort((positions[mine], clusters, unlike, decimetres))
    return list(zip(clusters[order].tolist(), positions[mine][order].tolist(), strict=True))


def _combine(frames: dict[str, pd.DataFrame], members: list[dict[str, int]], order: list[str], rule: MergeRule,
             report: MergeReport) -> pd.DataFrame:
    """Each merged row's fields from the first source of their precedence that has a value."""
    columns = list(dict.fromkeys(c for f in frames.values() for c in f.columns if c not in (SOURCE, SOURCE_ID)))
    at = {s: np.array([m.get(s, -1) for m in members], dtype=int) for s in order}
    out: dict[str, Any] = {}
    for name in columns:
        values = {}
        for source in order:
            column = (frames[source][name].astype("object").to_numpy() if name in frames[source]
                      else np.full(len(frames[source]), None, dtype=object))
            picked = np.where(at[source] >= 0, column[np.clip(at[source], 0, None)] if len(column) else None, None)
            values[source] = np.array([None if _missing(v) else v for v in picked], dtype=object)
        chosen = np.full(len(members), None, dtype=object)
        for source in reversed(rule.precedence.get(name, order)):
            chosen = np.where(values[source] != None, values[source], chosen)  # noqa: E711 (element-wise)
        _conflicts(name, values, chosen, report)
        out[name] = chosen
    out[SOURCE] = [",".join(s for s in order if s in m) for m in members]
    ids = {s: frames[s][SOURCE_ID].astype("string").to_numpy() if SOURCE_ID in frames[s] else None for s in order}
    out[SOURCE_ID] = [",".join(f"{s}:{ids[s][m[s]] if ids[s] is not None else m[s] + 1}" for s in order if s in m)
                      for m in members]
    for member in members:
        if len(member) == 1:
            only = next(iter(member))
            report.only[only] = report.only.get(only, 0) + 1
    report.rows = len(members)
    return pd.DataFrame({c: pd.Series(v, dtype="string") for c, v in out.items()})


def _missing(value: Any) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value))) or value == ""


def _conflicts(name: str, values: dict[str, np.ndarray], chosen: np.ndarray, report: MergeReport) -> None:
    """Record merged rows where two sources give different values for `name` (the first thousand)."""
    sources = list(values)
    for i in range(len(chosen)):
        if len(report.conflicts) >= 1000:
            return
        present = {s: values[s][i] for s in sources if values[s][i] is not None}
        if len({str(v) for v in present.values()}) > 1:
            report.conflicts.append({"field": name, "row": i + 1, "values": {s: str(v) for s, v in present.items()},
                                     "kept": str(chosen[i])})
