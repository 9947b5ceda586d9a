"""The step programs that the transcode Workflow's containers run (``clustercode-step``).

``split`` plans slices, ``encode`` makes one slice, ``audio`` encodes the audio once, ``merge``
joins, verifies and publishes, ``cleanup`` removes the work directory. Each step is a function
here and a subcommand of ``python -m pipelines.steps``.
"""

from __future__ import annotations

from pipelines.steps.errors import StepError

__all__ = ["StepError"]
