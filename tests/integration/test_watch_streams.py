"""A thousand open WatchJobs streams share one Redis reader and leave every other RPC answering."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import redis

from clustercode.api.v1 import jobs_pb2, service_pb2, service_pb2_grpc
from tests.integration.serve_process import serve_process

TOKEN = "watch-token-0123456789abcdefghijklmnop"
AUTH = (("authorization", f"Bearer {TOKEN}"),)
STREAMS = 1000
CHANNELS = 10  # several connections, as many clients would have


async def test_a_thousand_watchers_and_the_cap(tmp_path: Path) -> None:
    (tmp_path / "library").mkdir()
    (tmp_path / "library" / "a.mkv").write_bytes(b"not a video, the job fails quickly")
    env = {"CLUSTERCODE_MAX_WATCH_STREAMS": str(STREAMS)}
    with serve_process(tmp_path, token=TOKEN, env=env) as server:
        channels = [grpc.aio.insecure_channel(server.address) for _ in range(CHANNELS)]
        stubs = [service_pb2_grpc.ClustercodeServiceStub(c) for c in channels]
        try:
            watches = [
                stubs[i % CHANNELS].WatchJobs(
                    service_pb2.WatchJobsRequest(), metadata=AUTH, timeout=120
                )
                for i in range(STREAMS)
            ]
            await asyncio.gather(*(w.initial_metadata() for w in watches))
            stub = stubs[0]

            # One more is refused, with a message that says why.
            extra = stub.WatchJobs(service_pb2.WatchJobsRequest(), metadata=AUTH, timeout=30)
            try:
                await extra.read()
                raise AssertionError("the watch past the cap was accepted")
            except grpc.aio.AioRpcError as error:
                assert error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
                assert "max_watch_streams" in (error.details() or "")

            # Every other RPC answers.
            await stub.GetStatus(service_pb2.GetStatusRequest(), metadata=AUTH, timeout=10)
            await stub.ListJobs(service_pb2.ListJobsRequest(), metadata=AUTH, timeout=10)
            await stub.ListProfiles(service_pb2.ListProfilesRequest(), metadata=AUTH, timeout=10)
            job = (
                await stub.SubmitFile(
                    service_pb2.SubmitFileRequest(path="a.mkv"), metadata=AUTH, timeout=10
                )
            ).job
            await stub.GetJob(service_pb2.GetJobRequest(job_id=job.id), metadata=AUTH, timeout=10)

            # Every watcher sees the new job's first event.
            async def first(watch: grpc.aio.UnaryStreamCall) -> jobs_pb2.JobEvent:  # type: ignore[type-arg]
                reply = await asyncio.wait_for(watch.read(), 60)
                assert isinstance(reply, service_pb2.WatchJobsResponse)
                return reply.event

            events = await asyncio.gather(*(first(w) for w in watches))
            assert {e.job_id for e in events} == {job.id}

            # A handful of Redis connections serve all of it: none is held per stream.
            client = redis.Redis(unix_socket_path=str(server.state_dir / "redis" / "redis.sock"))
            try:
                connected = len(client.client_list())
            finally:
                client.close()
            assert connected < 30, connected
            for watch in watches:
                watch.cancel()
        finally:
            for channel in channels:
                await channel.close(None)
