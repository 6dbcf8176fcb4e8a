"""Geocoding at run time, through the catalog's geocoder and the run's cache.

Addresses to points before a recipe's field rules (`geocoded`), and points back to communes for the
quality gate's commune check (`communes_of`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from prefect import get_run_logger

from moisson.catalog.model import Catalog, Dataset
from moisson.connectors.geocoder import Geocoder, Place
from moisson.core.settings import home
from moisson.prepare.geocode import INSEE, GeocodeCache, GeocodeStep, geocode, point_key
from moisson.prepare.recipe import Recipe
from moisson.quality.geography import FRANCE_BOXES, Communes, coordinate_pairs, in_boxes, point_sets
from moisson.quality.schema import TableSchemaRef
from moisson.tasks.extract import Extracted

_PLACEHOLDER = re.compile(r"\{(\w+)\.(\w+)\}")
CACHE = "geocode.sqlite"
#: The cache's table of points → communes, fed by the reverse endpoint and by the geocode step's own results.
REVERSE = "reverse"


def geocoded(catalog: Catalog, dataset_id: str, step: GeocodeStep, source: Path, out: Path,
             context: Mapping[str, Mapping[str, Any]]) -> tuple[Path, list[str]]:
    """Write `source` with coordinates filled by `step` to `out`; returns it and the notes for the report."""
    resolved = step.model_copy(update={"citycode": _resolved(step.citycode, context),
                                       "overrides": catalog.base_dir / step.overrides if step.overrides else None})
    frame = pd.read_parquet(source, dtype_backend="pyarrow").astype("string")
    filled, report = geocode(frame, resolved, Geocoder(catalog.model.geocoder), GeocodeCache(home() / CACHE))
    filled.to_parquet(out, index=False)
    GeocodeCache(home() / CACHE, table=REVERSE, kind=Place).put(report.places)
    logger = get_run_logger()
    logger.info("%s : %s", dataset_id, report.summary())
    notes = [report.summary()]
    for refused in report.refused[:50]:
        note = (f"ligne {refused['row']} : « {refused['address']} » sans coordonnées ({refused['reason']}"
                + (f" ; meilleur candidat : {refused['candidate']}" if refused["candidate"] else "")
                + ") : corrigez l'adresse ou ajoutez-la au fichier de corrections (overrides)")
        logger.warning("%s : %s", dataset_id, note)
        notes.append(note)
    return out, notes


def communes_of(catalog: Catalog, dataset_id: str, extracted: Extracted, schema: TableSchemaRef | None,
                ) -> Communes | None:
    """The commune the geocoder's reverse endpoint gives each point of the extract, for the quality gate.

    The expected commune is the geocode step's `citycode` (a code, or a column the checked file kept),
    else `{organization.insee}`; only the first set of points is looked at (most tables have one).
    None when the extract has no coordinate columns; a `Communes` saying why it was skipped when the
    catalog sets no `geocoder:` (the national API is never called unasked) or no commune is expected.
    Each distinct point is asked once ever: the cache keeps the answers, and the points the geocode
    step placed are in it already.
    """
    extract = extracted.extract
    fields = {f.name: f for f in schema.fields} if schema else {}
    columns = pq.read_schema(extract.path).names
    wanted = [c for c in columns if c in fields and fields[c].type == "geopoint"]
    wanted += [c for pair in coordinate_pairs(columns) for c in pair]
    if not wanted:
        return None
    if "geocoder" not in catalog.model.model_fields_set:
        return Communes(dataset_id, skipped="geocoder")
    organization = catalog.model.defaults.organization
    step = _resolved(_step_citycode(catalog.dataset(dataset_id)), {"organization": organization.model_dump()})
    citycode = next((c for c in (step, organization.insee) if c and (INSEE.match(c) or c in columns)), None)
    if citycode is None:
        return Communes(dataset_id, skipped="commune")
    by_row = citycode in columns
    text = pd.read_parquet(extract.path, columns=list(dict.fromkeys(wanted + ([citycode] if by_row else []))),
                           dtype_backend="pyarrow").astype("string")
    sets = point_sets(text, fields)
    if not sets:  # a latitude-named column the schema types otherwise (an integer code…)
        return None
    points = sets[0]
    codes = text[citycode].fillna("").tolist() if by_row else [citycode] * len(text)
    ask = np.isfinite(points.lon) & np.isfinite(points.lat) & in_boxes(points.lon, points.lat, FRANCE_BOXES)
    ask &= np.array([bool(code) for code in codes], dtype=bool)
    keys = [point_key(lat, lon) if asked else "" for lat, lon, asked in zip(points.lat, points.lon, ask, strict=True)]
    places, sent = _reverse(catalog, [k for k in dict.fromkeys(keys) if k])
    get_run_logger().info("%s : contrôle de la commune de %d points : %d envoyés au géocodage inverse, "
                          "les autres lus dans son cache", dataset_id, len(places), sent)
    return Communes(dataset_id, points=points, expected=[c if a else None for c, a in zip(codes, ask, strict=True)],
                    found=[(p.citycode, p.city) if (p := places.get(k)) else None for k in keys])


def _reverse(catalog: Catalog, keys: list[str]) -> tuple[dict[str, Place | None], int]:
    """Places by `lat,lon` key, from the cache or else the geocoder (then cached); and how many were sent."""
    cache = GeocodeCache(home() / CACHE, table=REVERSE, kind=Place)
    places = cache.get(keys)
    unknown = [k for k in keys if k not in places]
    if unknown:
        answers = Geocoder(catalog.model.geocoder).reverse([tuple(map(float, k.split(","))) for k in unknown])
        fresh = dict(zip(unknown, answers, strict=True))
        cache.put(fresh)
        places.update(fresh)
    return places, len(unknown)


def _step_citycode(dataset: Dataset) -> str | None:
    """The `citycode` of the dataset's geocode step, or of the first of its sources' that has one."""
    recipes = [dataset.prepare] + [part.prepare for part in (dataset.sources or {}).values()]
    for recipe in recipes:
        if recipe is None:
            continue
        step = (recipe if isinstance(recipe, Recipe) else Recipe.model_validate(recipe)).geocode
        if step is not None and step.citycode:
            return step.citycode
    return None


def _resolved(citycode: str | None, context: Mapping[str, Mapping[str, Any]]) -> str | None:
    """`citycode` with its `{organization.insee}`-like placeholders replaced (None when nothing is left)."""
    if not citycode:
        return None
    return _PLACEHOLDER.sub(lambda m: str((context.get(m[1]) or {}).get(m[2]) or ""), citycode) or None
