"""The one backoff policy: how long to wait after the n-th failure in a row.

Every loop that tries again (the scheduler and job followers while Redis or the executor is
away, reconciliation at start, reading a workflow from argo-server, a failed job's next
attempt, the local executor's ``retryStrategy`` and the terminal UI's reconnects) asks a
:class:`Backoff` for its wait, so they all grow the same way and all stop growing at a cap.
Imports nothing, so the terminal UI may use it too.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["OUTAGE_BACKOFF", "Backoff"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Backoff:
    """Exponential backoff: ``initial * factor ** (failures - 1)``, capped at ``maximum``.

    Argo's ``retryStrategy.backoff`` is the same rule (``duration``, ``factor``, ``cap``), so the
    local executor uses it for retries exactly as Argo's controller waits.

    Attributes:
        initial: the wait after the first failure, in seconds.
        factor: how much each further failure multiplies the wait.
        maximum: the longest wait; ``None`` for no cap.
    """

    initial: float = 1.0
    factor: float = 2.0
    maximum: float | None = 60.0

    def __post_init__(self) -> None:
        if self.initial < 0 or self.factor < 0 or (self.maximum is not None and self.maximum < 0):
            raise ValueError(f"invalid backoff {self}")

    def delay(self, failures: int) -> float:
        """Seconds to wait after ``failures`` failures in a row (1 = the first failure)."""
        wait = self.initial * self.factor ** max(0, failures - 1)
        return wait if self.maximum is None else min(wait, self.maximum)


OUTAGE_BACKOFF = Backoff(initial=1.0, factor=2.0, maximum=60.0)
"""While Redis or the executor cannot be reached: 1 s, 2 s, 4 s, ... up to a minute."""
