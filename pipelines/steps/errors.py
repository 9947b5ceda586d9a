"""The errors a step reports to its user, and the exit statuses that tell them apart.

The control plane reads the exit status (Argo reports it as ``exit code N``; the local executor
sees it directly): :data:`EXIT_ENVIRONMENT` means the machine is at fault, not the file, so the
Workflow does not retry the step and the file must not lose an attempt for it.
"""

from __future__ import annotations

from pipelines.contract import EXIT_ENVIRONMENT

__all__ = [
    "EXIT_ENVIRONMENT",
    "EXIT_FAILED",
    "EXIT_USAGE",
    "EnvironmentStepError",
    "StepError",
]

EXIT_FAILED = 1
"""The step failed on this file (a damaged source, a failed check)."""
EXIT_USAGE = 2
"""The step was called wrongly."""
# EXIT_ENVIRONMENT (3), from pipelines.contract since the Workflow and the control plane read it
# too: the environment cannot do the work. Fix the machine; the file is fine.


class StepError(Exception):
    """A step cannot do its work; the message says why and is shown to the user as is."""


class EnvironmentStepError(StepError):
    """A :class:`StepError` caused by the machine, not the file (exits :data:`EXIT_ENVIRONMENT`)."""
