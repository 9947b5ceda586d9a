"""One Workflow run on this machine: the DAG, fan-out, retries, parallelism, exit handler.

Each attempt of each task (and of each item of a fan-out) is a node with its own id, named as
Argo names retry children: ``split(0)``, ``encode(3)(1)`` is the second attempt of item 3.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clustercode.backoff import Backoff
from clustercode.executors._plan import ContainerTemplate, DagTemplate, Plan, Retry, Task
from clustercode.executors._process import run_process
from clustercode.executors._retry_expression import argo_exit_code
from clustercode.executors._run_state import RunState
from clustercode.executors._substitution import UnresolvedError, item_scope, substitute
from clustercode.executors.base import NodeEvent, Phase
from pipelines.contract import PROGRESS_ENV

log = logging.getLogger(__name__)

CANCELLED = "cancelled"
_FAILED = (Phase.FAILED, Phase.ERROR)


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Process limits shared by every run of one executor."""

    slots: asyncio.Semaphore
    poll_interval: float = 0.5
    kill_grace: float = 5.0


@dataclass(slots=True, kw_only=True)
class _Result:
    phase: Phase
    message: str = ""
    outputs: dict[str, str] = field(default_factory=dict)
    exit_code: int | None = None  # the attempt's process's, negative for a signal


class _DagState:
    """What one DAG invocation knows while it runs."""

    def __init__(self, dag: DagTemplate) -> None:
        self.dag = dag
        self.slots = asyncio.Semaphore(dag.parallelism) if dag.parallelism else None
        self.results: dict[str, _Result] = {}
        self.failure: str | None = None
        self.handled = {d.task for t in dag.tasks for d in t.depends if d.phases & set(_FAILED)}


class Run:
    """Drives one plan to its end and records its events in a :class:`RunState`."""

    def __init__(self, plan: Plan, limits: Limits, scratch: Path) -> None:
        self.plan = plan
        self.state = RunState(plan.name, plan.labels)
        self.pids: dict[str, int] = {}
        self._limits = limits
        self._scratch = scratch
        self._run_slots = asyncio.Semaphore(plan.parallelism) if plan.parallelism else None
        self._status = "Running"
        self._cancel_message: str | None = None
        self._main: asyncio.Task[_Result] | None = None

    def cancel(self, message: str = CANCELLED) -> bool:
        """Stop the main DAG (not the exit handler); return whether anything was stopped."""
        if self.state.phase.done or self._cancel_message is not None:
            return False
        if self._main is not None and self._main.done():
            return False  # only the exit handler is left; it always runs to its end
        self._cancel_message = message
        if self._main is not None:
            self._main.cancel()
        return True

    async def drive(self) -> None:
        """Run the entrypoint, then the exit handler, then publish the final phase."""
        self.state.set_phase(Phase.RUNNING)
        try:
            result = await self._run_main()
            if self.plan.on_exit is not None:
                self._status = "Succeeded" if result.phase is Phase.SUCCEEDED else "Failed"
                exit_result = await self._run_template(self.plan.on_exit, "onExit", {})
                if exit_result.phase in _FAILED and result.phase is Phase.SUCCEEDED:
                    result = _Result(phase=exit_result.phase, message=exit_result.message)
        except asyncio.CancelledError:
            self.state.set_phase(Phase.FAILED, "the local executor was closed")
            raise
        except Exception as exc:
            # A defect, not a step failure: still end the run so no watcher hangs.
            log.exception("run %s: internal error", self.plan.name)
            result = _Result(phase=Phase.ERROR, message=f"local executor error: {exc}")
        self.state.set_phase(result.phase, result.message)

    async def _run_main(self) -> _Result:
        if self._cancel_message is not None:  # cancelled before it started
            return _Result(phase=Phase.FAILED, message=self._cancel_message)
        self._main = asyncio.create_task(self._run_template(self.plan.entrypoint, None, {}))
        try:
            # asyncio.wait, unlike awaiting the task, does not raise when the task is cancelled.
            done, _ = await asyncio.wait({self._main}, timeout=self.plan.deadline)
            if not done:
                self.cancel(f"workflow exceeded activeDeadlineSeconds ({self.plan.deadline} s)")
                await asyncio.wait({self._main})
        except asyncio.CancelledError:
            self._main.cancel()
            raise
        if self._main.cancelled():
            return _Result(phase=Phase.FAILED, message=self._cancel_message or CANCELLED)
        return self._main.result()

    def _workflow_scope(self) -> dict[str, str]:
        scope = {f"workflow.parameters.{k}": v for k, v in self.plan.parameters.items()}
        scope.update({"workflow.name": self.plan.name, "workflow.namespace": self.plan.namespace,
                      "workflow.status": self._status})  # fmt: skip
        return scope

    async def _run_template(self, name: str, task: str | None, inputs: dict[str, str]) -> _Result:
        template = self.plan.templates[name]
        if isinstance(template, DagTemplate):
            return await self._run_dag(template, inputs)
        pseudo = Task(name=task or name, template=name)
        return await self._run_node(pseudo, template, None, None, {}, None)

    async def _run_dag(self, dag: DagTemplate, inputs: dict[str, str]) -> _Result:
        scope = self._workflow_scope()
        scope.update(
            {f"inputs.parameters.{p.name}": p.value or p.default or "" for p in dag.inputs}
        )
        scope.update({f"inputs.parameters.{k}": v for k, v in inputs.items()})
        state = _DagState(dag)
        waiting = list(dag.tasks)
        running: dict[asyncio.Task[_Result], str] = {}
        try:
            while waiting or running:
                for task in list(waiting):
                    ready = self._readiness(task, state)
                    if ready is None:
                        continue
                    waiting.remove(task)
                    if not ready or (state.failure and dag.fail_fast):
                        state.results[task.name] = _Result(phase=Phase.OMITTED)
                        continue
                    job = asyncio.create_task(self._run_task(task, scope, state))
                    running[job] = task.name
                if not running:
                    continue
                done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for job in done:
                    name = running.pop(job)
                    result = state.results[name] = job.result()
                    if result.phase in _FAILED and name not in state.handled and not state.failure:
                        state.failure = result.message or f"task {name} {result.phase.value}"
        except asyncio.CancelledError:
            for job in running:
                job.cancel()
            await asyncio.gather(*running, return_exceptions=True)
            raise
        if state.failure is not None:
            phases = {r.phase for r in state.results.values()}
            phase = Phase.FAILED if Phase.FAILED in phases else Phase.ERROR
            return _Result(phase=phase, message=state.failure)
        return _Result(phase=Phase.SUCCEEDED)

    @staticmethod
    def _readiness(task: Task, state: _DagState) -> bool | None:
        """``None`` while a dependency runs; then whether every dependency ended as required."""
        for dep in task.depends:
            if dep.task not in state.results:
                return None
        return all(state.results[d.task].phase in d.phases for d in task.depends)

    async def _run_task(self, task: Task, scope: dict[str, str], state: _DagState) -> _Result:
        scope = dict(scope)
        for name, result in state.results.items():
            scope.update(
                {f"tasks.{name}.outputs.parameters.{k}": v for k, v in result.outputs.items()}
            )
        template = self.plan.templates[task.template]
        assert isinstance(template, ContainerTemplate)  # checked when the manifest was read
        if task.with_param is None and task.with_items is None:
            return await self._run_node(task, template, None, None, scope, state)
        try:
            items = self._items(task, scope)
        except (UnresolvedError, ValueError) as exc:
            return _Result(phase=Phase.ERROR, message=f"task {task.name}: {exc}")
        if not items:
            return _Result(phase=Phase.SKIPPED)
        results = await asyncio.gather(
            *(self._run_node(task, template, i, item, scope, state) for i, item in enumerate(items))
        )
        failed = next((r for r in results if r.phase in _FAILED), None)
        if failed is not None:
            return failed
        # Argo aggregates a fan-out's output parameters into a JSON list.
        outputs = {
            o.name: json.dumps([r.outputs.get(o.name) for r in results]) for o in template.outputs
        }
        return _Result(phase=Phase.SUCCEEDED, outputs=outputs)

    @staticmethod
    def _items(task: Task, scope: dict[str, str]) -> list[Any]:
        if task.with_items is not None:
            return list(task.with_items)
        text = substitute(task.with_param or "", scope)
        try:
            items = json.loads(text)
        except json.JSONDecodeError:
            items = None
        if not isinstance(items, list):
            raise ValueError(f"withParam is not a JSON list: {text[:200]!r}")
        return items

    async def _run_node(
        self,
        task: Task,
        template: ContainerTemplate,
        index: int | None,
        item: Any,
        scope: dict[str, str],
        dag: _DagState | None,
    ) -> _Result:
        base = task.name if index is None else f"{task.name}({index})"
        try:
            arguments = {k: substitute(v, {**scope, **item_scope(item)}) for k, v in task.arguments}
            inputs = {p.name: arguments.get(p.name, p.default or "") for p in template.inputs}
            inputs.update({p.name: p.value for p in template.inputs if p.value is not None})
        except UnresolvedError as exc:
            return _Result(phase=Phase.ERROR, message=f"{base}: {exc}")
        node = _Node(self, task.name, template, base, inputs)
        retry = template.retry or Retry(limit=0, policy="OnFailure")
        first_start: float | None = None
        note = ""
        for attempt in range(retry.limit + 1):
            node.publish(attempt, Phase.PENDING, message=note)
            try:
                if attempt:
                    await asyncio.sleep(node.wait)
                async with contextlib.AsyncExitStack() as stack:
                    for slots in (dag.slots if dag else None, self._run_slots, self._limits.slots):
                        if slots is not None:
                            await stack.enter_async_context(slots)
                    if dag is not None and dag.failure is not None and dag.dag.fail_fast:
                        message = f"not started: {dag.failure}"
                        node.publish(attempt, Phase.OMITTED, message=message)
                        return _Result(phase=Phase.OMITTED, message=message)
                    first_start = first_start or time.monotonic()
                    deadline = _attempt_deadline(template, retry, first_start)
                    result = await node.attempt(attempt, deadline)
            except asyncio.CancelledError:
                node.publish(attempt, Phase.FAILED, message=self._cancel_message or CANCELLED)
                raise
            if result.phase is Phase.SUCCEEDED or not _retryable(result.phase, retry.policy):
                break
            if attempt == retry.limit:
                break
            if retry.expression is not None and not retry.expression.allows_retry(
                status=result.phase.value, exit_code=argo_exit_code(result.exit_code)
            ):
                result.message += " (no retry: retryStrategy.expression evaluated to false)"
                break
            node.wait = _backoff(retry, attempt)
            if retry.max_duration is not None and (
                time.monotonic() + node.wait > first_start + retry.max_duration
            ):
                result.message += " (no retry: backoff would exceed maxDuration)"
                break
            note = f"retry {attempt + 1} of {retry.limit} after {node.wait:g} s: {result.message}"
        if result.phase in _FAILED and attempt:
            result.message = f"{base} failed after {attempt + 1} attempts: {result.message}"
        elif result.phase in _FAILED:
            result.message = f"{base} failed: {result.message}"
        if dag is not None and result.phase in _FAILED and task.name not in dag.handled:
            # Fail fast inside a fan-out too: items still waiting for a slot do not start.
            dag.failure = dag.failure or result.message
        return result


def _attempt_deadline(
    template: ContainerTemplate, retry: Retry, first_start: float
) -> float | None:
    """Seconds this attempt may run: the template's deadline, and Argo's maxDuration."""
    limits = [float(template.deadline)] if template.deadline else []
    if retry.max_duration is not None:
        limits.append(max(0.0, first_start + retry.max_duration - time.monotonic()))
    return min(limits) if limits else None


def _retryable(phase: Phase, policy: str) -> bool:
    return (phase is Phase.FAILED and policy in ("Always", "OnFailure")) or (
        phase is Phase.ERROR and policy in ("Always", "OnError")
    )


def _backoff(retry: Retry, attempt: int) -> float:
    """Argo's wait before retry ``attempt + 1``: duration * factor ** attempt, capped."""
    return Backoff(initial=retry.backoff, factor=retry.factor, maximum=retry.cap).delay(attempt + 1)


class _Node:
    """The attempts of one task (or one fan-out item) of a run."""

    def __init__(
        self, run: Run, task: str, template: ContainerTemplate, base: str, inputs: dict[str, str]
    ) -> None:
        self.run = run
        self.task = task
        self.template = template
        self.base = base
        self.inputs = inputs
        self.wait = 0.0

    def publish(self, attempt: int, phase: Phase, **changes: Any) -> None:
        node_id = f"{self.base}({attempt})"
        previous = self.run.state.node(node_id)
        if previous is None:
            previous = NodeEvent(run_id=self.run.plan.name, node_id=node_id, task=self.task,
                                 template=self.template.name, parameters=dict(self.inputs),
                                 phase=phase, attempt=attempt)  # fmt: skip
        self.run.state.publish_node(previous, phase=phase, **changes)

    async def attempt(self, attempt: int, deadline: float | None) -> _Result:
        node_id = f"{self.base}({attempt})"
        scope = self.run._workflow_scope()
        scope.update({f"inputs.parameters.{k}": v for k, v in self.inputs.items()})
        scope["retries"] = str(attempt)
        template = self.template
        try:
            argv = [substitute(part, scope) for part in template.command]
            env = {**os.environ, **{k: substitute(v, scope) for k, v in template.env}}
            cwd = substitute(template.working_dir, scope) if template.working_dir else None
            paths = {o.name: substitute(o.path, scope) for o in template.outputs}
        except UnresolvedError as exc:
            self.publish(attempt, Phase.ERROR, message=str(exc))
            return _Result(phase=Phase.ERROR, message=str(exc))
        progress_file = self.run._scratch / (re.sub(r"[^\w.()-]", "_", node_id) + ".progress")
        progress_file.unlink(missing_ok=True)
        env[PROGRESS_ENV] = str(progress_file)

        def started(pid: int) -> None:
            self.run.pids[node_id] = pid
            self.publish(attempt, Phase.RUNNING, message="")

        try:
            outcome = await run_process(
                argv, env=env, cwd=cwd, progress_file=progress_file,
                label=f"{self.run.plan.name}/{node_id}", on_start=started,
                on_progress=lambda p: self.publish(attempt, Phase.RUNNING, progress=p),
                deadline=deadline, poll_interval=self.run._limits.poll_interval,
                kill_grace=self.run._limits.kill_grace,
            )  # fmt: skip
        finally:
            self.run.pids.pop(node_id, None)
        if outcome.returncode is None:
            result = _Result(phase=Phase.ERROR, message=outcome.message)
        elif not outcome.succeeded:
            result = _Result(phase=Phase.FAILED, message=outcome.message)
        else:
            result = self._outputs(template, paths)
        result.exit_code = outcome.returncode
        self.publish(attempt, result.phase, message=result.message, progress=outcome.progress,
                     outputs=dict(result.outputs), exit_code=outcome.returncode)  # fmt: skip
        return result

    @staticmethod
    def _outputs(template: ContainerTemplate, paths: Mapping[str, str]) -> _Result:
        outputs = {}
        for output in template.outputs:
            try:
                outputs[output.name] = Path(paths[output.name]).read_text().removesuffix("\n")
            except OSError as exc:
                if output.default is None:
                    path = paths[output.name]
                    message = f"output parameter {output.name}: cannot read {path}: {exc.strerror}"
                    return _Result(phase=Phase.ERROR, message=message)
                outputs[output.name] = output.default
        return _Result(phase=Phase.SUCCEEDED, outputs=outputs)
