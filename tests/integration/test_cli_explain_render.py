"""``clustercode explain`` and ``clustercode render`` as a user runs them: real processes.

The library has a ``.clustercode.yaml`` at its root (profile), one in ``films/`` (priority) and a
companion file next to the clip (slice length); explain must name the file and line behind each
setting, render must print the Workflow a job of that file would submit.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.integration.serve_process import FAST_PROFILE, make_clip


@dataclass(frozen=True, slots=True, kw_only=True)
class Library:
    root: Path
    library: Path
    output: Path
    profiles: Path
    clip: Path


@pytest.fixture(scope="module")
def lib(tmp_path_factory: pytest.TempPathFactory) -> Library:
    root = tmp_path_factory.mktemp("cli")
    library = root / "lib"
    clip = make_clip(library / "films" / "a.mkv", duration=4)
    (library / ".clustercode.yaml").write_text("profile: fast\n")
    (library / "films" / ".clustercode.yaml").write_text("priority: 7\n")
    (library / "films" / "a.mkv.clustercode.yaml").write_text("slice_seconds: 2\n")
    profiles = root / "profiles"
    profiles.mkdir()
    (profiles / "fast.yaml").write_text(FAST_PROFILE)
    make_clip(root / "outside.mkv", duration=1, size="160x90")
    return Library(root=root, library=library, output=root / "out", profiles=profiles, clip=clip)


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "clustercode", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={k: v for k, v in os.environ.items() if k != "CLUSTERCODE_CONFIG"},
        timeout=120,
        check=False,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def common(lib: Library, state: Path) -> list[str]:
    return ["--library", str(lib.library), "--output", str(lib.output), "--state-dir",
            str(state), "--profiles", str(lib.profiles)]  # fmt: skip


def test_explain_names_the_file_and_line_behind_each_setting(lib: Library, tmp_path: Path) -> None:
    result = cli("explain", str(lib.clip), *common(lib, tmp_path / "state"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    films = lib.library / "films"
    assert lines[0] == f"file:     {lib.clip}"
    assert lines[1].startswith("decision: new: ")
    assert lines[2] == f"output:   {lib.output / 'films' / 'a.mkv'}"
    # 4 s cut into 2 s slices.
    assert lines[3].startswith("plan:     about 2 slices, ")
    assert lines[4] == "settings:"
    settings = {line.split()[0]: line for line in lines[5:]}
    yaml_root, yaml_films = lib.library / ".clustercode.yaml", films / ".clustercode.yaml"
    fast = lib.profiles / "fast.yaml"
    expected = {
        "profile": ("fast", f"{yaml_root} line 1"),
        "priority": ("7", f"{yaml_films} line 1"),
        "slice_seconds": ("2.0", f"{films / 'a.mkv.clustercode.yaml'} line 1"),
        "video": ("-c:v libx264 -preset ultrafast -crf 30", f"{fast} line 1"),
        "audio": ("copy", f"{fast} line 2"),
        "container": ("mkv", "default"),
    }
    expected_lines = {
        setting: rf"  {setting}\s+{re.escape(value)}    <- {re.escape(origin)}"
        for setting, (value, origin) in expected.items()
    }
    for setting, pattern in expected_lines.items():
        assert re.fullmatch(pattern, settings[setting]), settings[setting]
    # The exact line: names padded to the longest one (keep.attachments), the origin after "<-".
    assert (
        settings["priority"]
        == "  priority          7    <- " + str(films / ".clustercode.yaml") + " line 1"
    )
    # Explaining queues nothing.
    history = cli("history", "list", "--json", "--state-dir", str(tmp_path / "state"))
    assert history.returncode == 0 and history.stdout == "", history.stdout + history.stderr
    # The decision's kind is printed once ("decision: new: would be queued"), not twice.
    assert lines[1].count("new:") == 1, lines[1]


def test_explain_json(lib: Library, tmp_path: Path) -> None:
    result = cli("explain", str(lib.clip), "--json", *common(lib, tmp_path / "state"))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    films = lib.library / "films"
    assert data["path"] == str(lib.clip)
    assert data["profile"] == "fast"
    assert data["output"] == str(lib.output / "films" / "a.mkv")
    assert data["decision"]["kind"] == "new"
    assert data["origins"]["priority"] == f"{films / '.clustercode.yaml'} line 1"
    assert data["values"]["priority"] == "7"
    assert data["origins"]["slice_seconds"] == f"{films / 'a.mkv.clustercode.yaml'} line 1"
    assert data["values"]["slice_seconds"] == "2.0"
    assert data["origins"]["profile"] == f"{lib.library / '.clustercode.yaml'} line 1"
    assert data["slices"] == 2
    assert data["duration"] == pytest.approx(4.0, abs=0.1)
    assert data["skip_reason"] == ""


@pytest.mark.parametrize(("executor", "slices"), [("local", 3), ("argo", 1)])
def test_explain_counts_the_slices_that_run_cuts(
    lib: Library, tmp_path: Path, executor: str, slices: int
) -> None:
    # 16 s at 60 s slices is one slice, but the local executor cuts one per worker (3 here,
    # each >= 5 s) so that every core has work; on Argo slice length alone decides.
    clip = make_clip(tmp_path / "lib" / "long.mkv", duration=16, size="160x90")
    config = tmp_path / "config.yaml"
    argo = "argo: {url: http://127.0.0.1:2746}\n" if executor == "argo" else ""
    config.write_text(f"executor: {executor}\nparallel: 3\nslice_seconds: 60\n{argo}")
    result = cli(
        "explain", str(clip), "--json", "--config", str(config), "--library",
        str(tmp_path / "lib"), "--output", str(tmp_path / "out"), "--state-dir",
        str(tmp_path / "state"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["slices"] == slices


def test_render_prints_the_workflow(lib: Library, tmp_path: Path) -> None:
    result = cli("render", str(lib.clip), *common(lib, tmp_path / "state"))
    assert result.returncode == 0, result.stderr
    workflow = yaml.safe_load(result.stdout)
    assert workflow["apiVersion"] == "argoproj.io/v1alpha1"
    assert workflow["kind"] == "Workflow"
    labels = workflow["metadata"]["labels"]
    job_id = labels["clustercode.io/job-id"]
    assert re.fullmatch(r"[0-9a-f]{12}", job_id), job_id
    assert workflow["metadata"]["name"] == f"cc-{job_id}-1"
    assert labels["app.kubernetes.io/managed-by"] == "clustercode"
    annotations = workflow["metadata"]["annotations"]
    assert annotations["clustercode.io/source"] == str(lib.clip)
    assert annotations["clustercode.io/output"] == str(lib.output / "films" / "a.mkv")
    assert annotations["clustercode.io/profile"] == "fast"
    spec = workflow["spec"]
    names = [t["name"] for t in spec["templates"]]
    assert {"split", "encode", "merge", "cleanup"} <= set(names), names
    assert spec["onExit"] == "cleanup"
    settings = json.loads(spec["arguments"]["parameters"][0]["value"])
    # The companion file's slice length and the profile's arguments reach the steps.
    assert settings["slice_seconds"] == 2.0
    assert settings["video"] == ["-c:v", "libx264", "-preset", "ultrafast", "-crf", "30"]
    # The same file renders the same Workflow: names are deterministic per job attempt.
    again = cli("render", str(lib.clip), *common(lib, tmp_path / "state"))
    assert again.stdout == result.stdout


@pytest.mark.parametrize("command", ["explain", "render"])
def test_file_outside_the_library_is_a_one_line_error(
    lib: Library, tmp_path: Path, command: str
) -> None:
    for path in (str(lib.root / "outside.mkv"), "../outside.mkv"):
        result = cli(command, path, *common(lib, tmp_path / "state"))
        assert result.returncode == 1, result.stdout
        assert result.stdout == ""
        assert result.stderr.startswith("clustercode: "), result.stderr
        assert result.stderr.count("\n") == 1, result.stderr
        assert "library root" in result.stderr or "'..'" in result.stderr, result.stderr


def test_render_without_library_takes_the_file_relative_to_the_current_directory(
    lib: Library, tmp_path: Path
) -> None:
    """A relative FILE means what it means to every command: relative to where it runs."""
    relative = lib.clip.relative_to(lib.root)  # lib/films/a.mkv
    result = cli(
        "render", str(relative), "--output", str(lib.output), "--state-dir",
        str(tmp_path / "state"), "--profiles", str(lib.profiles), cwd=lib.root,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    workflow = yaml.safe_load(result.stdout)
    assert workflow["metadata"]["annotations"]["clustercode.io/source"] == str(lib.clip)
