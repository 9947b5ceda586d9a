"""Workflow specs covering every variant the builder must emit correctly."""

from __future__ import annotations

from pipelines.settings import EncodeSettings
from pipelines.workflow import Mount, StepPod, Toleration, WorkflowSpec

X264 = ("-c:v", "libx264", "-preset", "veryfast", "-crf", "23")
ARCH = {"kubernetes.io/arch": "amd64"}


def base(**overrides: object) -> WorkflowSpec:
    """A cluster spec with audio copied; ``overrides`` replace fields."""
    fields: dict[str, object] = {
        "job_id": "j-0001",
        "name": "cc-j-0001-1",
        "namespace": "media",
        "source": "/library/movies/a.mkv",
        "output": "/output/movies/a.mkv",
        "work_dir": "/work/j-0001-1",
        "settings": EncodeSettings(video=X264),
        "image": "ghcr.io/example/clustercode:0.1.0",
        "service_account": "clustercode-workflow",
        "parallelism": 8,
        "labels": {"clustercode.io/attempt": "1"},
        "annotations": {"clustercode.io/source": "/library/movies/a.mkv"},
        "active_deadline_seconds": 86400,
        "ttl_seconds_after_finished": 3600,
    }
    fields.update(overrides)
    return WorkflowSpec(**fields)  # type: ignore[arg-type]


def variants() -> dict[str, WorkflowSpec]:
    """Every variant by name."""
    return {
        "audio-copy": base(),
        "audio-encode": base(
            settings=EncodeSettings(video=X264, audio=("-c:a", "aac", "-b:a", "160k"))
        ),
        "one-slice": base(
            settings=EncodeSettings(video=X264, slice_seconds=86400.0), parallelism=1
        ),
        "hundred-slices": base(
            settings=EncodeSettings(video=X264, slice_seconds=0.5), parallelism=100
        ),
        "arch-selector": base(
            node_selector=ARCH,
            steps={
                "encode": StepPod(node_selector={"clustercode.io/pool": "encode"}),
                "merge": StepPod(node_selector={"kubernetes.io/arch": "arm64"}),
            },
        ),
        "tolerations": base(
            node_selector=ARCH,
            tolerations=(Toleration(key="dedicated", value="media", effect="NoSchedule"),),
            steps={
                "encode": StepPod(
                    tolerations=(
                        Toleration(
                            key="spot", operator="Exists", effect="NoExecute", toleration_seconds=60
                        ),
                    )
                )
            },
        ),
        "resources": base(
            steps={
                "split": StepPod(cpu_request="100m", memory_request="256Mi", memory_limit="1Gi"),
                "encode": StepPod(
                    cpu_request="1", cpu_limit="2", memory_request="1Gi", memory_limit="2Gi"
                ),
                "audio": StepPod(cpu_request="500m"),
                "merge": StepPod(cpu_request="500m", memory_request="512Mi"),
                "cleanup": StepPod(cpu_request="50m", memory_limit="64Mi"),
            },
            settings=EncodeSettings(video=X264, audio=("-c:a", "libopus")),
        ),
        "volumes": base(
            volumes=(
                Mount(
                    name="library",
                    mount_path="/library",
                    claim_name="media-library",
                    read_only=True,
                ),
                Mount(name="output", mount_path="/output", claim_name="media-output"),
                Mount(name="work", mount_path="/work", host_path="/var/lib/clustercode/work"),
            ),
            env={"CLUSTERCODE_FFMPEG": "/usr/bin/ffmpeg"},
            pod_gc="OnWorkflowSuccess",
            image_pull_policy="Always",
        ),
        "local": WorkflowSpec(
            job_id="j-0002",
            name="cc-j-0002-0",
            source="/srv/library/b.mp4",
            output="/srv/output/b.mkv",
            work_dir="/tmp/clustercode/work/j-0002-0",
            settings=EncodeSettings(video=("-c:v", "ffv1")),
            step_command=("python3", "-m", "pipelines.steps"),
            parallelism=2,
            retry_backoff="1s",
            pod_gc=None,
        ),
    }
