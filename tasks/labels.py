"""French words for the statuses, actions and changes people read; `--json`, events and the store keep the values."""

from __future__ import annotations

from collections.abc import Iterable

#: Dataset statuses (`DatasetOutcome.status`), target results and, under `--dry-run`, planned actions.
STATUSES = {"published": "publié", "unchanged": "inchangé", "blocked": "bloqué", "failed": "échec",
            "planned": "prévu", "created": "créé", "updated": "mis à jour", "archived": "archivé",
            "skipped": "ignoré", "deleted": "supprimé", "create": "à créer", "update": "à mettre à jour",
            "archive": "à archiver", "skip": "à ignorer"}

#: The roles of connectors.
ROLES = {"source": "source", "target": "cible"}

#: What a target says changed (`PublishResult.changes`); metadata field names stay as the catalog spells them.
CHANGES = {"data": "données", "metadata": "métadonnées", "dataset": "jeu de données", "file": "fichier",
           "resource": "ressource", "published": "mise en ligne", "unarchived": "désarchivage"}


def status_label(status: str) -> str:
    """The French word for a status or action, or the value itself when it has none."""
    return STATUSES.get(status, status)


def changes_label(changes: Iterable[str]) -> str:
    """The changes a target reports, in French, comma-separated."""
    return ", ".join(CHANGES.get(c, c) for c in changes)
