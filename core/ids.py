"""Dataset ids and slugs: `[a-z0-9-]+`, accents folded, unique within a listing."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable

DATASET_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


def fold_accents(text: str) -> str:
    """Lower-case `text` and strip its accents, for comparing names and making slugs."""
    text = text.lower().replace("œ", "oe").replace("æ", "ae")
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def slugify(text: str, default: str = "dataset") -> str:
    """Dataset id `[a-z0-9-]+` from a name (accents stripped, other characters as dashes)."""
    return re.sub(r"[^a-z0-9]+", "-", fold_accents(text)).strip("-") or default


def unique_slugs(names: Iterable[str], default: str = "dataset") -> list[str]:
    """Dataset ids for `names`, in order: their slugs, with `-2`, `-3`… added where two slugs are equal."""
    taken: set[str] = set()
    ids = []
    for name in names:
        base = slug = slugify(name, default=default)
        suffix = 1
        while slug in taken:
            suffix += 1
            slug = f"{base}-{suffix}"
        taken.add(slug)
        ids.append(slug)
    return ids


def record_dataset_id(record_id: str) -> str:
    """Stable dataset id of a record: slug of its identifier (last URL segment) + a short hash of it."""
    tail = record_id.rstrip("/").rsplit("/", 1)[-1].rsplit("=", 1)[-1]
    digest = hashlib.sha256(record_id.encode()).hexdigest()[:6]
    return f"{slugify(tail, 'record')[:48].strip('-')}-{digest}"
