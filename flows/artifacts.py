"""Prefect artifacts that tell a data team, in the UI, what each run did.

Keys are `quality-<id>` and `publication-<id>` (dataset ids are `[a-z0-9-]+`, the only
characters artifact keys accept), so the UI keeps the history of each dataset.
"""

from __future__ import annotations

from collections.abc import Callable

from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)

from moisson.flows.outcome import DatasetOutcome
from moisson.quality.gate import QualityResult
from moisson.tasks.labels import changes_label, status_label


def quality_artifacts(dataset_id: str, result: QualityResult) -> None:
    """Markdown summary (links to the HTML report and the GX results) and a table of the first failing rows."""
    link = f"\n\n{result.say('report.full')}: [{result.report_html.name}]({result.report_html.as_uri()})"
    if result.gx_results:
        link += f" · {result.say('report.gx')}: [{result.gx_results.name}]({result.gx_results.as_uri()})"
    create_markdown_artifact(key=f"quality-{dataset_id}", markdown=result.to_markdown(limit=50) + link,
                             description=f"Qualité de {dataset_id}")
    rows = [issue.to_dict() for issue in result.errors[:200]]
    if rows:
        create_table_artifact(key=f"quality-{dataset_id}-rows", table=rows,
                              description=f"Premières lignes en erreur de {dataset_id}")


def publication_artifact(outcome: DatasetOutcome) -> None:
    """Links to the published pages on each target, and what changed."""
    lines = [f"# {outcome.id} : {status_label(outcome.status)}", "", "| cible | état | lien | changements |",
             "|---|---|---|---|"]
    for name, t in outcome.targets.items():
        link = f"[{t.url}]({t.url})" if t.url else ""
        detail = changes_label(t.changes) or t.note or t.error or ""
        lines.append(f"| {name} | {status_label(t.status)} | {link} | {detail} |")
    if outcome.error:
        lines += ["", f"**Erreur :** {outcome.error}"]
    create_markdown_artifact(key=f"publication-{outcome.id}", markdown="\n".join(lines),
                             description=f"Publication de {outcome.id}")


def progress_artifact(total: int, description: str) -> Callable[[DatasetOutcome], None]:
    """A progress bar in the run's Artifacts tab; the returned callback advances it by one dataset."""
    artifact_id = create_progress_artifact(progress=0.0 if total else 100.0, description=description)
    done = 0

    def advance(_: DatasetOutcome) -> None:
        nonlocal done
        done += 1
        update_progress_artifact(artifact_id, progress=round(100 * done / total, 1))

    return advance
