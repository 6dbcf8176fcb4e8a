"""The `geocode` preparation step: coordinates for rows that have an address, never a point in the wrong commune.

Rows that already have coordinates keep them (`only_if_missing`). Every other address is looked
up first in the overrides a person wrote, then in the cache (an unchanged address is never sent
twice), and only then sent to the geocoder, in batches. A result below `min_score`, of a type not
accepted, or in another commune than the expected INSEE code gives no coordinates: the row is
listed in the report with its address and the best candidate, for a person to fix (an override).
"""

from __future__ import annotations

import csv
import json
import re
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from moisson.connectors.geocoder import Candidate, Geocoder, Place
from moisson.core.errors import RejectedError
from moisson.core.ids import fold_accents
from moisson.core.lazy import lazy

# The catalog reads `GeocodeStep`: pandas is imported only when addresses are geocoded.
if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
else:
    np, pd = lazy("numpy"), lazy("pandas")

#: An INSEE commune code (Corsica's start 2A or 2B).
INSEE = re.compile(r"^(\d{5}|2[AB]\d{3})$")


class Into(BaseModel):
    """The columns the coordinates go to."""

    model_config = ConfigDict(extra="forbid")

    lat: str
    lon: str


class GeocodeStep(BaseModel):
    """A `geocode:` block of a recipe.

    Attributes:
        address: Columns joined in order to make the address sent.
        citycode: Expected INSEE code: a column, or the code itself (`"{organization.insee}"` once resolved).
        into: Where latitude and longitude go.
        min_score: Least score a result needs.
        accept_types: Result types taken (addok: housenumber, street, locality, municipality).
        only_if_missing: Keep the coordinates a row already has.
        provenance: Add result_label, result_score, result_type, result_id columns.
        overrides: CSV file (`adresse;lat;lon`) of coordinates a person fixed, used before the geocoder.
    """

    model_config = ConfigDict(extra="forbid")

    address: list[str] = Field(min_length=1)
    citycode: str | None = None
    into: Into
    min_score: float = Field(0.7, ge=0, le=1)
    accept_types: list[str] = Field(default_factory=lambda: ["housenumber", "street"])
    only_if_missing: bool = True
    provenance: bool = False
    overrides: Path | None = None


@dataclass
class GeocodeReport:
    """What the step did, for the report and the Prefect artifact."""

    kept: int = 0
    overridden: int = 0
    cached: int = 0
    sent: int = 0
    found: int = 0
    refused: list[dict[str, Any]] = field(default_factory=list)
    #: The commune of each point the geocoder gave (by `point_key`): the reverse check need not ask again.
    places: dict[str, Place] = field(default_factory=dict)

    def summary(self) -> str:
        """One French line with the counts."""
        return (f"géocodage : {self.kept} coordonnées gardées, {self.overridden} corrigées à la main, "
                f"{self.cached} en cache, {self.sent} envoyées, {self.found} trouvées, "
                f"{len(self.refused)} refusées")


class GeocodeCache:
    """Geocoder answers by key, in a SQLite file (`MOISSON_HOME/geocode.sqlite`).

    Search results (`Candidate`, by normalised address and expected commune) in table `results`;
    reverse results (`Place`, by point) in table `reverse`.
    """

    def __init__(self, path: Path, *, table: str = "results", kind: type[Candidate] | type[Place] = Candidate,
                 ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path)
        self.table, self.kind = table, kind
        self.db.execute(f"CREATE TABLE IF NOT EXISTS {table} (key TEXT PRIMARY KEY, result TEXT)")

    def get(self, keys: list[str]) -> dict[str, Any]:
        """The cached results among `keys` (None for one the geocoder did not find)."""
        found: dict[str, Any] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT key, result FROM {self.table} WHERE key IN ({marks})"
            for key, result in self.db.execute(query, chunk):
                found[key] = self.kind(**json.loads(result)) if result != "null" else None
        return found

    def put(self, results: Mapping[str, Candidate | Place | None]) -> None:
        """Remember results."""
        with self.db:
            self.db.executemany(f"INSERT OR REPLACE INTO {self.table} VALUES (?, ?)",
                                [(k, json.dumps(v.__dict__) if v else "null") for k, v in results.items()])


def point_key(lat: float, lon: float) -> str:
    """A point as the reverse cache keys it: latitude and longitude to six decimals (about 10 cm)."""
    return f"{lat:.6f},{lon:.6f}"


def normalise_address(address: str) -> str:
    """An address as the cache and overrides compare it: accents, case, punctuation and spaces folded."""
    return " ".join(re.sub(r"[^a-z0-9]+", " ", fold_accents(address)).split())


def geocode(frame: pd.DataFrame, step: GeocodeStep, geocoder: Geocoder, cache: GeocodeCache,
            ) -> tuple[pd.DataFrame, GeocodeReport]:
    """Fill `step.into` for the rows that need it; returns the frame and what happened.

    Raises:
        RejectedError: An address column or the citycode column is not in the file.
    """
    missing = [c for c in step.address if c not in frame.columns]
    if missing:
        raise RejectedError(f"geocode: the address column(s) {', '.join(missing)} are not in the file; "
                            f"its columns are {', '.join(map(str, frame.columns))}")
    out = frame.copy()
    for column in (step.into.lat, step.into.lon):
        if column not in out.columns:
            out[column] = pd.Series(pd.NA, index=out.index, dtype="string")
    report = GeocodeReport()
    has_point = out[step.into.lat].notna() & out[step.into.lon].notna()
    todo = ~has_point if step.only_if_missing else pd.Series(True, index=out.index)
    report.kept = int((has_point & ~todo).sum())
    # Plain lists: setting Arrow-backed cells one by one costs ~0.3 ms each, 10,000 rows twenty seconds.
    columns = [out.loc[todo, c].astype("string").fillna("").tolist() for c in step.address]
    addresses = [" ".join(" ".join(parts).split()) for parts in zip(*columns, strict=True)]
    codes = _citycodes(out.loc[todo], step.citycode)
    normalised = [normalise_address(a) for a in addresses]
    keys = [f"{n}|{c or ''}" for n, c in zip(normalised, codes, strict=True)]
    overrides = _overrides(step.overrides)
    fixed = [n in overrides for n in normalised]
    results: dict[str, Candidate | None] = {k: overrides[n] for k, n, f in zip(keys, normalised, fixed, strict=True)
                                            if f}
    report.overridden = sum(fixed)
    cached = cache.get([k for k in dict.fromkeys(keys) if k not in results])
    report.cached = sum(1 for k in keys if k in cached)
    results.update(cached)
    unknown = [k for k in dict.fromkeys(keys) if k not in results and k.split("|")[0]]
    if unknown:
        first = {k: (a, c) for k, a, c in zip(keys, addresses, codes, strict=True)}
        answers = geocoder.geocode([first[k][0] for k in unknown], [first[k][1] for k in unknown])
        fresh = dict(zip(unknown, answers, strict=True))
        cache.put(fresh)
        results.update(fresh)
        report.sent = len(unknown)
    lat, lon = out[step.into.lat].astype("string").tolist(), out[step.into.lon].astype("string").tolist()
    extra: dict[str, list[str | None]] = {name: [None] * len(out)
                                          for name in ("result_label", "result_score", "result_type", "result_id")}
    rows = zip(np.flatnonzero(todo.to_numpy(bool)), out.index[todo.to_numpy(bool)], addresses, keys, codes, fixed,
               strict=True)
    for pos, label, address, key, code, overridden in rows:
        result = results.get(key)
        reason = _refusal(result, step, code, overridden=overridden)
        if reason:
            report.refused.append({"row": int(label) + 2, "address": address, "reason": reason,
                                   "candidate": result.label if result else None,
                                   "score": result.score if result else None})
            continue
        report.found += 1
        lat[pos], lon[pos] = f"{result.lat:.6f}", f"{result.lon:.6f}"
        if result.citycode:  # a person's override says nothing of the commune
            report.places[point_key(result.lat, result.lon)] = Place(result.citycode, result.city, result.label, 0.0)
        extra["result_label"][pos], extra["result_score"][pos] = result.label, f"{result.score:.2f}"
        extra["result_type"][pos], extra["result_id"][pos] = result.type, result.id
    out[step.into.lat] = pd.Series(lat, index=out.index, dtype="string")
    out[step.into.lon] = pd.Series(lon, index=out.index, dtype="string")
    if step.provenance:
        for name, values in extra.items():
            out[name] = pd.Series(values, index=out.index, dtype="string")
    return out, report


def _citycodes(rows: pd.DataFrame, citycode: str | None) -> list[str | None]:
    if citycode is None:
        return [None] * len(rows)
    if citycode in rows.columns:
        return [None if pd.isna(v) else str(v) for v in rows[citycode]]
    if INSEE.match(citycode):
        return [citycode] * len(rows)
    raise RejectedError(f"geocode: citycode {citycode!r} is neither a column of the file nor an INSEE code "
                        "(5 characters, like 59350)")


def _overrides(path: Path | None) -> dict[str, Candidate]:
    if path is None:
        return {}
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.DictReader(handle, delimiter=";"))
    except OSError as exc:
        raise RejectedError(f"geocode: the overrides file {path} cannot be read ({exc})") from exc
    fixed = {}
    for line, row in enumerate(rows, start=2):
        try:
            fixed[normalise_address(row["adresse"])] = Candidate(
                label=row["adresse"], score=1.0, type="override", id="", citycode="",
                lat=float(row["lat"].replace(",", ".")), lon=float(row["lon"].replace(",", ".")))
        except (KeyError, ValueError, AttributeError) as exc:
            raise RejectedError(f"geocode: {path}:{line}: write `adresse;lat;lon` with numbers ({exc})") from exc
    return fixed


def _refusal(result: Candidate | None, step: GeocodeStep, code: str | None, *, overridden: bool) -> str | None:
    if result is None:
        return "adresse introuvable"
    if overridden:
        return None
    if result.score < step.min_score:
        return f"score {result.score:.2f} sous le minimum {step.min_score:.2f}"
    if result.type not in step.accept_types:
        return f"résultat de type {result.type!r}, non accepté ({', '.join(step.accept_types)})"
    if code and result.citycode != code:
        return f"résultat dans une autre commune ({result.citycode}, attendu {code})"
    return None
