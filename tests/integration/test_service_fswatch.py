"""serve queues a file dropped into the library soon after it settles, without a periodic scan."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from clustercode.api.v1 import jobs_pb2, service_pb2
from tests.integration.serve_process import make_clip, serve_process, video_frames


def test_a_file_dropped_into_the_library_is_transcoded(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "clip.mkv", duration=2.0)
    (tmp_path / "library" / "films").mkdir(parents=True)
    env = {"CLUSTERCODE_SCAN_INTERVAL": "3600", "CLUSTERCODE_SETTLE_SECONDS": "1"}
    with serve_process(tmp_path, "--profile", "ffv1", "-v", env=env) as server:
        # The start-up scan is over before the file arrives: only the file event can queue it.
        deadline = time.monotonic() + 30
        while not any("clustercode.jobs.controller: scan:" in line for line in server.log):
            assert time.monotonic() < deadline, "no start-up scan\n" + server.tail()
            time.sleep(0.1)
        # Copy under a partial name and rename, as downloaders do.
        partial = server.library / "films" / "new.mkv.part"
        shutil.copyfile(clip, partial)
        partial.rename(server.library / "films" / "new.mkv")
        deadline = time.monotonic() + 60
        jobs: list[jobs_pb2.Job] = []
        while not jobs:
            assert time.monotonic() < deadline, "the dropped file was never queued\n" + (
                server.tail()
            )
            time.sleep(0.2)
            with server.stub() as stub:
                jobs = list(stub.ListJobs(service_pb2.ListJobsRequest(), timeout=10).jobs)
        assert [Path(j.source).name for j in jobs] == ["new.mkv"]
        done = server.wait_job(jobs[0].id, lambda j: j.state == jobs_pb2.JOB_STATE_SUCCEEDED)
        assert video_frames(Path(done.output)) == video_frames(clip)
