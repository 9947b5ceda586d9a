"""``clustercode history retry`` and ``delete``: by id, by path, and in bulk by state."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import redis

from clustercode.cli import main
from clustercode.library.fingerprint import fingerprint
from clustercode.models import Job, JobState
from clustercode.store.connection import connect
from clustercode.store.history import History


def make_jobs(url: str, states: dict[str, JobState], library: Path) -> dict[str, str]:
    """One job per file name in ``states`` (the file is written), in that state; name -> id."""

    async def create() -> dict[str, str]:
        ids: dict[str, str] = {}
        async with await connect(url, library.parent / "state") as handle:
            store = History(handle)
            for name, state in states.items():
                path = library / name
                path.write_bytes(name.encode() * 1000)
                job = await store.create_job(
                    Job(id="", source=str(path), fingerprint=fingerprint(path), profile="h264",
                        profile_hash="p1", output=f"/out/{name}")
                )  # fmt: skip
                if state is not JobState.QUEUED:
                    await store.set_state(job.id, JobState.RUNNING)
                    await store.set_state(job.id, state, error=f"{name} broke")
                ids[name] = job.id
        return ids

    return asyncio.run(create())


def jobs(url: str, capsys: pytest.CaptureFixture[str]) -> dict[str, dict[str, object]]:
    assert main(["history", "list", "--json", "--redis-url", url]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    return {Path(str(job["source"])).name: job for job in listed}


@pytest.fixture
def url(redis_server_url: str) -> str:
    redis.Redis.from_url(redis_server_url).flushdb()
    return redis_server_url


def test_retry_by_id_path_and_state(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    states = {"a.mkv": JobState.PARKED, "b.mkv": JobState.PARKED, "c.mkv": JobState.FAILED,
              "d.mkv": JobState.SUCCEEDED, "e.mkv": JobState.PARKED}  # fmt: skip
    ids = make_jobs(url, states, tmp_path)

    # One by id and one by path.
    assert (
        main(["history", "retry", ids["a.mkv"], str(tmp_path / "c.mkv"), "--redis-url", url]) == 0
    )
    out = capsys.readouterr().out
    assert f"queued {ids['a.mkv']} " in out and f"queued {ids['c.mkv']} " in out
    assert out.endswith(
        "2 jobs queued again; the next run (or a running service) transcodes them\n"
    )
    after = jobs(url, capsys)
    assert [after[n]["state"] for n in ("a.mkv", "b.mkv", "c.mkv")] == [
        "queued",
        "parked",
        "queued",
    ]
    assert after["a.mkv"]["attempts"] == 0 and after["a.mkv"]["error"] == ""

    # A succeeded job cannot be retried: nothing happens, exit 1, a reason.
    assert main(["history", "retry", ids["d.mkv"], ids["b.mkv"], "--redis-url", url]) == 1
    err = capsys.readouterr().err
    assert f"job {ids['d.mkv']} is succeeded: only parked, failed or cancelled" in err
    assert jobs(url, capsys)["b.mkv"]["state"] == "parked"

    # Bulk: every parked job.
    assert main(["history", "retry", "--state", "parked", "--redis-url", url]) == 0
    assert capsys.readouterr().out.endswith(
        "2 jobs queued again; the next run (or a running service) transcodes them\n"
    )
    assert {n: j["state"] for n, j in jobs(url, capsys).items()} == {
        "a.mkv": "queued", "b.mkv": "queued", "c.mkv": "queued", "d.mkv": "succeeded",
        "e.mkv": "queued",
    }  # fmt: skip

    # Names and --state together, or neither, is a usage error.
    assert main(["history", "retry", "--redis-url", url]) == 2
    assert main(["history", "retry", ids["a.mkv"], "--state", "parked", "--redis-url", url]) == 2
    assert "not both" in capsys.readouterr().err


def test_bulk_delete_needs_yes(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    states = {"a.mkv": JobState.PARKED, "b.mkv": JobState.PARKED, "c.mkv": JobState.FAILED}
    ids = make_jobs(url, states, tmp_path)

    assert main(["history", "delete", "--state", "parked", "--redis-url", url]) == 1
    captured = capsys.readouterr()
    assert sorted(line.split()[2] for line in captured.out.splitlines()) == sorted(
        [ids["a.mkv"], ids["b.mkv"]]
    )
    assert "2 jobs would be deleted" in captured.err and "add --yes" in captured.err
    assert len(jobs(url, capsys)) == 3  # nothing deleted

    assert main(["history", "delete", "--state", "parked", "--yes", "--redis-url", url]) == 0
    assert capsys.readouterr().out.endswith(
        "2 jobs deleted; the next run transcodes their files again\n"
    )
    assert list(jobs(url, capsys)) == ["c.mkv"]

    # One by path needs no confirmation.
    assert main(["history", "delete", str(tmp_path / "c.mkv"), "--redis-url", url]) == 0
    assert f"deleted {ids['c.mkv']} " in capsys.readouterr().out
    assert jobs(url, capsys) == {}
