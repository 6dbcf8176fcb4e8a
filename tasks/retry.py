"""Retry policy of network tasks: retry what may pass later, never what will fail again."""

from __future__ import annotations

from typing import Any

from prefect.tasks import exponential_backoff

from moisson.core.errors import ConnectorError

#: Keyword arguments for `@task` on tasks that talk to a network peer (prefect.md §3).
NETWORK_RETRIES: dict[str, Any] = {
    "retries": 3,
    "retry_delay_seconds": exponential_backoff(backoff_factor=10),
    "retry_jitter_factor": 0.5,
}


def retry_if_retryable(task: Any, task_run: Any, state: Any) -> bool:
    """`retry_condition_fn`: retry only errors marked retryable (timeouts, 5xx, 429)."""
    try:
        state.result()
    except ConnectorError as exc:
        return exc.retryable
    except Exception:
        return True
    return False
