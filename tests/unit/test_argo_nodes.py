"""Reading Argo's Workflow status (as argo-server returns it) into executor events."""

from __future__ import annotations

import zlib
from typing import Any

import pytest
from hera.workflows.models import Workflow

from clustercode.executors import NodeEvent, Phase
from clustercode.executors._argo_nodes import parse_progress, run_info, snapshot, task_name

WF = "cc-0a1b2c-1"
JOB_LABEL = "clustercode.io/job-id"


def _pod(name: str, display: str, template: str, phase: str, **extra: Any) -> dict[str, Any]:
    node = {
        "id": f"{WF}-{zlib.crc32(name.encode())}",
        "name": f"{WF}.{name}",
        "displayName": display,
        "type": "Pod",
        "templateName": template,
        "templateScope": f"local/{WF}",
        "phase": phase,
        "boundaryID": WF,
        "startedAt": "2025-01-01T00:00:01Z",
        "progress": "0/1",
    }
    node.update(extra)
    return node


def _parent(
    kind: str, name: str, display: str, children: list[dict[str, Any]], **extra: Any
) -> dict[str, Any]:
    node = {
        "id": f"{WF}-{zlib.crc32((name + kind).encode())}",
        "name": f"{WF}.{name}",
        "displayName": display,
        "type": kind,
        "templateName": display.split("(")[0],
        "phase": "Running",
        "boundaryID": WF,
        "children": [c["id"] for c in children],
    }
    node.update(extra)
    return node


def _document(phase: str = "Running", message: str = "") -> dict[str, Any]:
    """A Workflow mid-run, shaped as argo-server v4 answers GET /api/v1/workflows/{ns}/{name}."""
    split = _pod("split(0)", "split(0)", "split", "Succeeded", progress="1/1",
                 outputs={"parameters": [{"name": "slices", "value": '[{"index":0,"frames":48},'
                                                                     '{"index":1,"frames":50}]'}],
                          "exitCode": "0"})  # fmt: skip
    split_retry = _parent("Retry", "split", "split", [split], phase="Succeeded")
    item0 = "encode(0:frames:48,index:0)"
    item1 = "encode(1:frames:50,index:1)"
    index0 = {"parameters": [{"name": "index", "value": "0"}]}
    index1 = {"parameters": [{"name": "index", "value": "1"}]}
    e0 = _pod(f"{item0}(0)", f"{item0}(0)", "encode", "Succeeded", progress="48/48", inputs=index0)
    e1a = _pod(f"{item1}(0)", f"{item1}(0)", "encode", "Failed", inputs=index1,
               message="pod deleted")  # fmt: skip
    e1b = _pod(f"{item1}(1)", f"{item1}(1)", "encode", "Running", progress="20/50",
               inputs=index1)  # fmt: skip
    r0 = _parent("Retry", item0, item0, [e0], phase="Succeeded", inputs=index0)
    r1 = _parent("Retry", item1, item1, [e1a, e1b], inputs=index1)
    group = _parent("TaskGroup", "encode", "encode", [r0, r1])
    merge = _parent("Skipped", "merge", "merge", [], phase="Pending")
    merge.pop("children")
    root = {"id": WF, "name": WF, "displayName": WF, "type": "DAG", "templateName": "main",
            "phase": "Running", "children": [split_retry["id"]]}  # fmt: skip
    nodes = [root, split, split_retry, e0, e1a, e1b, r0, r1, group, merge]
    # argo-server encodes a Go map (keys sorted, not in DAG order); reversed here to be sure.
    status = {"phase": phase, "progress": "69/100", "nodes": {n["id"]: n for n in nodes[::-1]}}
    if message:
        status["message"] = message
    return {
        "metadata": {"name": WF, "namespace": "media", "labels": {JOB_LABEL: "0a1b2c"}},
        "spec": {
            "entrypoint": "main",
            "templates": [
                {"name": "split", "container": {"image": "x"}},
                {"name": "encode", "container": {"image": "x"}},
                {"name": "merge", "container": {"image": "x"}},
                {"name": "main", "dag": {"tasks": [
                    {"name": "split", "template": "split"},
                    {"name": "encode", "template": "encode", "depends": "split"},
                    {"name": "merge", "template": "merge", "depends": "encode"},
                ]}},
            ],
        },
        "status": status,
    }  # fmt: skip


def _events() -> list[NodeEvent]:
    return list(snapshot(Workflow.model_validate(_document())).nodes)


def test_each_attempt_of_each_item_is_one_event_in_dag_order() -> None:
    events = _events()
    assert [(e.task, e.parameters.get("index"), e.attempt, e.phase) for e in events] == [
        ("split", None, 0, Phase.SUCCEEDED),
        ("encode", "0", 0, Phase.SUCCEEDED),
        ("encode", "1", 0, Phase.FAILED),
        ("encode", "1", 1, Phase.RUNNING),
        ("merge", None, 0, Phase.PENDING),
    ]
    assert all(e.run_id == WF for e in events)
    assert len({e.node_id for e in events}) == 5


def test_progress_messages_outputs_and_templates() -> None:
    split, e0, e1a, e1b, merge = _events()
    assert split.outputs == {"slices": '[{"index":0,"frames":48},{"index":1,"frames":50}]'}
    assert (split.progress, e0.progress, e1b.progress) == ((1, 1), (48, 48), (20, 50))
    assert e1a.progress is None  # Argo's placeholder 0/1 says nothing about frames
    assert e1a.message == "pod deleted"
    assert (e0.template, merge.template, merge.task) == ("encode", "merge", "merge")


def test_workflow_phase_and_run_info() -> None:
    doc = _document(phase="Failed", message="Stopped with strategy 'Stop'")
    state = snapshot(Workflow.model_validate(doc))
    assert (state.phase, state.message) == (Phase.FAILED, "Stopped with strategy 'Stop'")
    info = run_info(Workflow.model_validate(doc))
    assert (info.run_id, info.phase, info.labels[JOB_LABEL]) == (
        WF,
        Phase.FAILED,
        "0a1b2c",
    )
    fresh = {"metadata": {"name": WF}, "spec": {"entrypoint": "main"}}
    assert snapshot(Workflow.model_validate(fresh)).phase is Phase.PENDING


@pytest.mark.parametrize(
    ("text", "expected"),
    [("12/48", (12, 48)), (" 3 / 4 ", (3, 4)), ("0/1", None), ("", None), ("n/a", None),
     (None, None), ("0/48", (0, 48))],
)  # fmt: skip
def test_parse_progress(text: str | None, expected: tuple[int, int] | None) -> None:
    assert parse_progress(text) == expected


def test_task_name_strips_item_and_attempt() -> None:
    assert task_name("encode(3:frames:48,index:3)(1)") == "encode"
    assert task_name("split(0)") == "split"
    assert task_name("onExit") == "onExit"
