"""What the control plane and the transcode Workflow agree on, in one place.

Step (task and template) names, the parameters and outputs that pass between them, the labels
that find a job's workflows again, the progress variable, the exit status that blames the
environment, and how many slices a video is cut into. ``pipelines`` builds the Workflow with
these names; ``clustercode`` reads its events with them. Neither spells them as literals.
"""

from __future__ import annotations

import math
from typing import Final, Literal

__all__ = [
    "ATTEMPT_LABEL",
    "AUDIO",
    "CLEANUP",
    "ENCODE",
    "EXIT_ENVIRONMENT",
    "INDEX_INPUT",
    "JOB_ID_LABEL",
    "MANAGED_BY_LABEL",
    "MANAGED_BY_VALUE",
    "MERGE",
    "MIN_SLICE_SECONDS",
    "PROGRESS_ENV",
    "RESULT_OUTPUT",
    "SETTINGS_PARAMETER",
    "SLICES_OUTPUT",
    "SPLIT",
    "STEP_NAMES",
    "StepName",
    "slice_count",
]

StepName = Literal["split", "encode", "audio", "merge", "cleanup"]

SPLIT: Final = "split"
"""Plans the slices; its output :data:`SLICES_OUTPUT` is the encode fan-out's ``withParam``."""
ENCODE: Final = "encode"
"""Encodes one slice, named by its input :data:`INDEX_INPUT`."""
AUDIO: Final = "audio"
"""Encodes the whole file's audio once (only when the profile re-encodes audio)."""
MERGE: Final = "merge"
"""Joins, verifies and publishes; its output :data:`RESULT_OUTPUT` describes the output."""
CLEANUP: Final = "cleanup"
"""The exit handler: removes the work directory's scratch files."""
STEP_NAMES: Final[tuple[StepName, ...]] = (SPLIT, ENCODE, AUDIO, MERGE, CLEANUP)

SLICES_OUTPUT: Final = "slices"
"""Output parameter of :data:`SPLIT`: a JSON list of ``{"index": k, "frames": n}``."""
INDEX_INPUT: Final = "index"
"""Input parameter of :data:`ENCODE`: the slice number."""
RESULT_OUTPUT: Final = "result"
"""Output parameter of :data:`MERGE`: JSON with the published output's path and sizes."""
SETTINGS_PARAMETER: Final = "settings"
"""Workflow argument carrying :meth:`pipelines.settings.EncodeSettings.to_json`."""

JOB_ID_LABEL: Final = "clustercode.io/job-id"
ATTEMPT_LABEL: Final = "clustercode.io/attempt"
MANAGED_BY_LABEL: Final = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE: Final = "clustercode"

PROGRESS_ENV: Final = "ARGO_PROGRESS_FILE"
"""Argo's self-reported progress: a step writes ``done/total`` into the file this names."""

EXIT_ENVIRONMENT: Final = 3
"""A step's exit status when the environment cannot do the work (no usable ffmpeg, an encoder
missing from the build, a full disk, an unwritable output): the Workflow does not retry it, and
the control plane charges the job no attempt for it."""

MIN_SLICE_SECONDS: Final = 5.0
"""``min_slices`` never makes slices shorter than this: each slice costs a process start and a
seek, and a very short one cannot amortise them."""


def slice_count(duration: float, slice_seconds: float, min_slices: int = 1) -> int:
    """How many slices of about ``slice_seconds`` a video of ``duration`` seconds gets.

    At least ``min_slices`` while each slice stays :data:`MIN_SLICE_SECONDS` long or longer.

    Raises:
        ValueError: ``slice_seconds`` is not positive.
    """
    if slice_seconds <= 0:
        raise ValueError(f"slice_seconds must be positive, got {slice_seconds}")
    wanted = min(min_slices, math.floor(duration / MIN_SLICE_SECONDS))
    return max(1, round(duration / slice_seconds), wanted)
