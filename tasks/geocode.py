"""Geocoding before a recipe's field rules: the catalog's geocoder, the run's cache, the report in the notes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import get_run_logger

from moisson.catalog.model import Catalog
from moisson.connectors.geocoder import Geocoder
from moisson.core.settings import home
from moisson.prepare.geocode import GeocodeCache, GeocodeStep, geocode

_PLACEHOLDER = re.compile(r"\{(\w+)\.(\w+)\}")


def geocoded(catalog: Catalog, dataset_id: str, step: GeocodeStep, source: Path, out: Path,
             context: Mapping[str, Mapping[str, Any]]) -> tuple[Path, list[str]]:
    """Write `source` with coordinates filled by `step` to `out`; returns it and the notes for the report."""
    citycode = step.citycode
    if citycode:
        citycode = _PLACEHOLDER.sub(lambda m: str((context.get(m[1]) or {}).get(m[2]) or ""), citycode) or None
    resolved = step.model_copy(update={"citycode": citycode,
                                       "overrides": catalog.base_dir / step.overrides if step.overrides else None})
    frame = pd.read_parquet(source, dtype_backend="pyarrow").astype("string")
    filled, report = geocode(frame, resolved, Geocoder(catalog.model.geocoder), GeocodeCache(home() / "geocode.sqlite"))
    filled.to_parquet(out, index=False)
    logger = get_run_logger()
    logger.info("%s: %s", dataset_id, report.summary())
    notes = [report.summary()]
    for refused in report.refused[:50]:
        note = (f"ligne {refused['row']} : « {refused['address']} » sans coordonnées ({refused['reason']}"
                + (f" ; meilleur candidat : {refused['candidate']}" if refused["candidate"] else "")
                + ") : corrigez l'adresse ou ajoutez-la au fichier de corrections (overrides)")
        logger.warning("%s: %s", dataset_id, note)
        notes.append(note)
    return out, notes
