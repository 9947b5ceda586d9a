"""A simulated argo-server, for tests only: not a product, not a substitute for Argo Workflows.

It answers the subset of argo-server's REST API that hera's WorkflowsService uses for Workflows
(create, get, list with a label selector, stop, terminate, delete) and runs each submitted
Workflow with the :class:`~clustercode.executors.local.LocalExecutor`, reporting status in
Argo's shape: the workflow phase and times, and nodes keyed by id with ``DAG``, ``TaskGroup``,
``Retry`` and ``Pod`` types, Retry nodes whose children are the attempts, ``N/M`` progress,
input and output parameters and messages. Volumes become host directories: a hostPath volume's
own path, or the directory given for a PersistentVolumeClaim.

Differences from Argo a test must not rely on: pods are local processes (images, resources and
node selectors are ignored); ``terminate`` runs the exit handler like ``stop``; DAG edges between
task nodes are not reported; one name per server across namespaces. One addition, named as a
simulation hook: ``PUT /simulation/v1/workflows/{namespace}/{name}/kill`` with
``{"task": "encode", "attempt": 0, "parameters": {"index": "1"}}`` kills that attempt's process
with SIGKILL as soon as it runs, as a deleted or evicted pod dies.

Run it with ``python -m tests.support.argosim --listen 127.0.0.1:0``.
"""

from __future__ import annotations

from tests.support.argosim.process import SimulatedArgoServerProcess, start_simulated_argo_server
from tests.support.argosim.server import SimulatedArgoServer

__all__ = ["SimulatedArgoServer", "SimulatedArgoServerProcess", "start_simulated_argo_server"]
