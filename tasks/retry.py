"""Retry policy of network tasks: retry what may pass later, never what will fail again."""

from __future__ import annotations

from typing import Any

from prefect.task_engine import TaskRunTimeoutError
from prefect.tasks import exponential_backoff

from moisson.core.errors import ConnectorError

#: Keyword arguments for `@task` on tasks that talk to a network peer.
NETWORK_RETRIES: dict[str, Any] = {
    "retries": 3,
    "retry_delay_seconds": exponential_backoff(backoff_factor=10),
    "retry_jitter_factor": 0.5,
}

#: Failures of the transport itself that no connector turned into a `ConnectorError` (a database
#: driver's dropped connection, a socket reset): worth another try. Anything else is a bug or a
#: refusal, and trying again would only repeat it three times.
TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (ConnectionError, TimeoutError)


def retry_if_retryable(task: Any, task_run: Any, state: Any) -> bool:
    """`retry_condition_fn`: retry only errors marked retryable (timeouts, 5xx, 429) and transport failures."""
    try:
        state.result()
    except ConnectorError as exc:
        return exc.retryable
    except TaskRunTimeoutError:  # the task used its whole budget: another attempt would too
        return False
    except TRANSPORT_ERRORS:
        return True
    except Exception:
        return False
    return False
