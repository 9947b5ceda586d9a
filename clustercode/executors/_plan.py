"""The plan the local executor runs: a Workflow manifest reduced to what it supports."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from clustercode.executors._retry_expression import RetryExpression
from clustercode.executors.base import Phase


@dataclass(frozen=True, slots=True, kw_only=True)
class Retry:
    """A template's ``retryStrategy``; durations in seconds. ``expression``, when set, must be
    true after a failed attempt for a retry to follow."""

    limit: int
    policy: str
    backoff: float = 0.0
    factor: int = 1
    cap: float | None = None
    max_duration: float | None = None
    expression: RetryExpression | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Input:
    """An input parameter: its own value, or else the default, or else the caller's argument."""

    name: str
    value: str | None = None
    default: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Output:
    """An output parameter read from a file once the process exited."""

    name: str
    path: str
    default: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ContainerTemplate:
    """A container template, run as one local process per attempt."""

    name: str
    command: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    working_dir: str | None = None
    inputs: tuple[Input, ...] = ()
    outputs: tuple[Output, ...] = ()
    retry: Retry | None = None
    deadline: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Dependency:
    """``task`` must end in one of ``phases``."""

    task: str
    phases: frozenset[Phase]


@dataclass(frozen=True, slots=True, kw_only=True)
class Task:
    """A DAG task; ``with_param`` (a variable) or ``with_items`` fan it out."""

    name: str
    template: str
    arguments: tuple[tuple[str, str], ...] = ()
    depends: tuple[Dependency, ...] = ()
    with_param: str | None = None
    with_items: tuple[Any, ...] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DagTemplate:
    """A DAG template: tasks in dependency order, at most ``parallelism`` processes at once."""

    name: str
    tasks: tuple[Task, ...]
    inputs: tuple[Input, ...] = ()
    parallelism: int | None = None
    fail_fast: bool = True


Template = ContainerTemplate | DagTemplate


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """A whole Workflow as the local executor runs it."""

    name: str
    labels: Mapping[str, str]
    namespace: str
    entrypoint: str
    templates: Mapping[str, Template]
    parameters: Mapping[str, str]
    on_exit: str | None = None
    parallelism: int | None = None
    deadline: float | None = None
