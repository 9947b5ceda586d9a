"""ArgoExecutor against the Argo harness (Argo's own workflow-controller behind argo-server's REST
API, over loopback HTTP): what it says when argo-server rejects a Workflow, a run is unknown, the
token file is wrong or missing, argo-server is unreachable, and when TLS verification fails or
passes with a CA file.

The ``media``, ``sim`` and ``executor`` fixtures live in the integration conftest."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from clustercode.errors import ExecutorError, NotFoundError, UnavailableError
from clustercode.executors.argo import ArgoExecutor
from clustercode.jobs.workflows import argo_manifest
from tests.integration.conftest import free_port
from tests.support.argo_executor import TOKEN, Media, argo_settings, make_job, settings
from tests.support.argo_harness import ArgoHarness, start_argo_harness


async def test_a_rejected_workflow_says_why(sim: ArgoHarness, media: Media) -> None:
    ex = ArgoExecutor(argo_settings(sim, media))
    try:
        doc = argo_manifest(make_job(media, "0aaa"), 1, settings(ex.settings, media))
        doc["spec"]["entrypoint"] = "no-such-template"
        with pytest.raises(ExecutorError) as rejected:
            await ex.submit(doc)
    finally:
        await ex.close()
    # Argo's validator, as argo-server runs it on create.
    assert str(rejected.value).startswith("argo-server rejected creating workflow cc-0aaa-1: ")
    assert "no-such-template" in str(rejected.value)


async def test_unknown_run_is_not_found(executor: ArgoExecutor) -> None:
    with pytest.raises(NotFoundError, match="cc-0000-1"):
        async for _ in executor.watch("cc-0000-1"):
            pass
    with pytest.raises(NotFoundError):
        await executor.cancel("cc-0000-1")


async def test_token_is_read_from_its_file_for_every_request(
    sim: ArgoHarness, media: Media, tmp_path: Path
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    ex = ArgoExecutor(argo_settings(sim, media, token_file=token_file))
    try:
        assert await ex.check() == ""
        token_file.write_text("rotated-but-wrong\n")
        message = await ex.check()
        assert message.startswith(f"argo-server refused the token from {token_file}: ")
        assert "token not valid" in message
        with pytest.raises(UnavailableError, match="refused the token"):
            await ex.submit(argo_manifest(make_job(media, "0bad"), 1, settings(ex.settings, media)))
        token_file.write_text(TOKEN + "\n")
        assert await ex.check() == ""
        token_file.unlink()
        assert await ex.check() == (
            f"cannot read the argo-server token file {token_file}: No such file or directory"
        )
    finally:
        await ex.close()
    anonymous = ArgoExecutor(argo_settings(sim, media, token_file=None))
    try:
        assert "refused the request without a token" in await anonymous.check()
    finally:
        await anonymous.close()


async def test_unreachable_argo_server_says_what_to_fix(sim: ArgoHarness, media: Media) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    ex = ArgoExecutor(argo_settings(sim, media, url=url, watch_retry_seconds=0.3))
    try:
        assert await ex.check() == (
            f"argo-server {url}/ is unreachable: connection refused; check argo.url and that "
            "argo-server runs"
        )
        with pytest.raises(UnavailableError, match="connection refused"):
            await ex.submit(argo_manifest(make_job(media, "0abc"), 1, settings(ex.settings, media)))
        with pytest.raises(UnavailableError, match="connection refused"):
            async for _ in ex.watch("cc-0abc-1"):
                pass
    finally:
        await ex.close()
    nowhere = ArgoExecutor(argo_settings(sim, media, url="http://argo.invalid:2746"))
    try:
        assert "cannot resolve argo.invalid" in await nowhere.check()
    finally:
        await nowhere.close()


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from tests.conftest import require_tool

    openssl = require_tool("openssl")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


async def test_tls_verification(media: Media, tls_files: tuple[Path, Path]) -> None:
    cert, _ = tls_files
    with start_argo_harness(token=TOKEN, tls=tls_files) as tls_sim:
        assert tls_sim.url.startswith("https://")
        checks = []
        for changes in ({}, {"ca_file": cert}, {"verify_tls": False}):
            ex = ArgoExecutor(argo_settings(tls_sim, media, **changes))
            try:
                checks.append(await ex.check())
            finally:
                await ex.close()
    refused, with_ca, unverified = checks
    assert refused.startswith(f"TLS verification of argo-server {tls_sim.url}/ failed: ")
    assert "self-signed certificate" in refused
    assert "set argo.ca_file" in refused
    assert (with_ca, unverified) == ("", "")
