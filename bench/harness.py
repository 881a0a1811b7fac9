"""Shared plumbing of the HTTP benchmarks: bench databases, credentials, servers, wrk.

Nothing here installs anything: ``require_wrk`` only checks that ``wrk`` is on the PATH
(``make bench`` installs it from Debian's packages when missing). Every server started is
stopped when its ``with`` block ends, whatever happens inside.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SCREENING = str(BIN / "screening")
WRK_SCRIPT = ROOT / "bench" / "wrk" / "post.lua"
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_BENCH_DB = os.environ.get("BENCH_PG_DB", "bench")


def machine() -> str:
    """One line naming the machine the figures come from."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    model = _cpu_model()
    return (f"{platform.platform()}; {os.cpu_count()} CPUs ({model}); load average {load}; "
            f"{platform.python_implementation()} {platform.python_version()}")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def require_wrk() -> str:
    """The path of ``wrk``; exits with the install command when it is missing."""
    path = shutil.which("wrk")
    if path is None:
        sys.exit("wrk is missing: apt-get update && apt-get install -y wrk (or `make bench`)")
    return path


@dataclass(frozen=True, slots=True)
class BenchDatabase:
    """A database for one benchmark run and the environment its servers get."""

    kind: str  # "sqlite" | "postgres"
    url: str

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a service process on this database (rate limits off). It
        imports the service from this checkout (``PYTHONPATH``) unless told otherwise
        (``serve_code_from``, a model's ``=DIR``): a virtualenv shared by several
        checkouts imports its editable install's, which may be another's."""
        env = {"PYTHONPATH": str(ROOT), **os.environ, "DATABASE_URL": self.url,
               "RATE_LIMIT": "off", "LOG_LEVEL": "WARNING", **extra}
        env.pop("REDIS_URL", None)
        return env


@contextmanager
def bench_database(kind: str) -> Iterator[BenchDatabase]:
    """A fresh, migrated database: an SQLite file in a temporary directory, or the
    PostgreSQL database ``bench`` (created when missing, its schema emptied)."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="screening-bench-") as folder:
            database = BenchDatabase("sqlite", f"sqlite:///{folder}/bench.db")
            migrate(database)
            yield database
        return
    if kind != "postgres":
        raise ValueError(kind)
    _reset_postgres()
    database = BenchDatabase(
        "postgres", f"postgresql+psycopg://postgres@127.0.0.1:5432/{PG_BENCH_DB}")
    migrate(database)
    yield database


def _reset_postgres() -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                               (PG_BENCH_DB,)).fetchone()
        if not exists:
            admin.execute(f'CREATE DATABASE "{PG_BENCH_DB}"')
    bench_url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{PG_BENCH_DB}"
    with psycopg.connect(bench_url, autocommit=True) as connection:
        connection.execute("DROP SCHEMA public CASCADE")
        connection.execute("CREATE SCHEMA public")


def migrate(database: BenchDatabase) -> None:
    """``screening db upgrade`` on the bench database."""
    run_cli(database, "db", "upgrade")


def run_cli(database: BenchDatabase, *args: str) -> str:
    """Runs ``screening ARGS`` on the bench database; returns the last line of stdout."""
    done = subprocess.run([SCREENING, *args], env=database.env(), check=True,
                          capture_output=True, text=True)
    return done.stdout.strip().splitlines()[-1]


@dataclass(frozen=True, slots=True)
class Credentials:
    """A bench clinic's slug with an intake key and a clinician token."""

    slug: str
    intake_key: str
    clinician_token: str


def create_clinic(database: BenchDatabase, slug: str = "bench") -> Credentials:
    """A clinic with an intake key and a clinician, made with the command line."""
    run_cli(database, "clinics", "create", slug, "--name", "Benchmark Clinic")
    key = run_cli(database, "keys", "create", slug, "--label", "benchmark")
    token = run_cli(database, "users", "create", slug, f"clinician@{slug}.example",
                    "--role", "clinician")
    return Credentials(slug, key, token)


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True, slots=True)
class Server:
    """A running gunicorn: its base URL and master process."""

    url: str
    process: subprocess.Popen[bytes]

    def worker_pids(self) -> list[int]:
        """The pids of the master's web worker processes."""
        return [pid for pid in self._children() if not _is_background_worker(pid)]

    def background_pids(self) -> list[int]:
        """The pid of the background worker ``screening serve`` started (if any)."""
        return [pid for pid in self._children() if _is_background_worker(pid)]

    def _children(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]


def _is_background_worker(pid: int) -> bool:
    try:
        arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"worker" in arguments[-3:]


@contextmanager
def serve(command: list[str], env: Mapping[str, str], port: int, workers: int,
          ready_path: str = "/health") -> Iterator[Server]:
    """Starts ``command`` (a gunicorn on ``port``), waits until ``ready_path`` answers and
    all ``workers`` are up, and stops it (SIGTERM, then SIGKILL) when the block ends."""
    # BENCH_LOG=<file> keeps the server's output (for debugging a run).
    keep = os.environ.get("BENCH_LOG")
    log = open(keep, "wb") if keep else tempfile.TemporaryFile()  # noqa: SIM115
    process = subprocess.Popen(command, env=dict(env), stdout=log, stderr=log,
                               start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(process, url + ready_path, log)
        server = Server(url, process)
        _wait_workers(server, workers)
        yield server
    finally:
        _stop(process)
        log.close()


def _wait_ready(process: subprocess.Popen[bytes], url: str, log: Any) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            sys.exit(f"server exited early:\n{log.read().decode(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"server not ready: {url}")


def _wait_workers(server: Server, workers: int) -> None:
    """Until the master has forked every worker, then a moment for their applications to
    load: connections made earlier would all stick to the first worker."""
    deadline = time.monotonic() + 30
    while len(server.worker_pids()) < workers:
        if time.monotonic() > deadline:
            raise TimeoutError("workers did not start")
        time.sleep(0.1)
    time.sleep(2.0)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=25)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def service_command(port: int, workers: int) -> list[str]:
    """``screening serve`` on ``port`` with ``workers`` web workers."""
    return [SCREENING, "serve", "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(workers)]


def bare_command(port: int, workers: int) -> list[str]:
    """The bare Flask app (``bench/bare_app.py``) under the same gunicorn settings."""
    return [sys.executable, str(ROOT / "bench" / "bare_app.py"), "--port", str(port),
            "--workers", str(workers)]


@dataclass(frozen=True, slots=True)
class LoadResult:
    """What one wrk run measured."""

    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        """Requests per second."""
        return self.requests / self.seconds if self.seconds else 0.0


def run_wrk(url: str, *, body: Path, authorization: str | None, connections: int,
            seconds: int, threads: int = 2, unique_keys: bool = False) -> LoadResult:
    """POSTs ``body`` to ``url`` with wrk for ``seconds`` at ``connections`` concurrency.

    Errors are socket errors (connect, read, write, timeout) plus responses other than
    2xx/3xx, as wrk counts them.
    """
    env = {**os.environ, "BENCH_BODY": str(body),
           "BENCH_AUTHORIZATION": authorization or "",
           "BENCH_UNIQUE_KEYS": "1" if unique_keys else ""}
    command = [require_wrk(), "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s",
               "--timeout", "10s", "-s", str(WRK_SCRIPT), url]
    done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("BENCH_JSON "):
            data = json.loads(line.removeprefix("BENCH_JSON "))
            return LoadResult(data["requests"], data["duration_us"] / 1e6, data["errors"],
                              data["p50_us"] / 1000, data["p99_us"] / 1000)
    raise RuntimeError(f"no result from wrk:\n{done.stdout}\n{done.stderr}")


@dataclass(frozen=True, slots=True)
class Usage:
    """What some processes have used so far: CPU seconds in user and kernel mode, and
    voluntary context switches (a thread blocking: on I/O, a lock, the GIL) per thread.
    Subtract two snapshots for what a run cost."""

    user: float
    system: float
    switches_by_thread: Mapping[int, int]

    @property
    def switches(self) -> int:
        """Voluntary context switches of all threads."""
        return sum(self.switches_by_thread.values())

    def __sub__(self, earlier: Usage) -> Usage:
        # A thread that ended in between took its count with it (unlike CPU time, which
        # /proc/<pid>/stat keeps for dead threads): compare live threads, new ones from 0.
        ended = set(earlier.switches_by_thread) - set(self.switches_by_thread)
        if ended:
            print(f"warning: {len(ended)} thread(s) ended during the run; their thread "
                  "switches are not counted", file=sys.stderr)
        return Usage(self.user - earlier.user, self.system - earlier.system, {
            tid: count - earlier.switches_by_thread.get(tid, 0)
            for tid, count in self.switches_by_thread.items()})


def usage(pids: list[int]) -> Usage:
    """The processes ``pids``' usage so far (from /proc)."""
    user = system = 0
    switches: dict[int, int] = {}
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        user, system = user + int(fields[11]), system + int(fields[12])
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                status = (task / "status").read_text()
            except OSError:  # the thread ended while we looked
                continue
            for line in status.splitlines():
                if line.startswith("voluntary_ctxt_switches:"):
                    switches[int(task.name)] = int(line.split()[1])
    tick = os.sysconf("SC_CLK_TCK")
    return Usage(user / tick, system / tick, switches)


def rss_kib(pid: int) -> int:
    """Resident memory of process ``pid`` (``VmRSS`` in /proc, KiB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def write_json(path: Path, data: Any) -> Path:
    """Writes ``data`` as JSON to ``path`` (a bench body) and returns the path."""
    path.write_text(json.dumps(data))
    return path


@contextmanager
def example_body() -> Iterator[Path]:
    """The contract's example submission in a temporary JSON file, for wrk to post."""
    from tests.api.bodies import example

    with tempfile.TemporaryDirectory(prefix="screening-bench-body-") as folder:
        yield write_json(Path(folder) / "body.json", example())


def serve_code_from(code: Path) -> None:
    """Servers started afterwards import the service from the checkout ``code`` (its
    modules win over this checkout's; nothing is written into it)."""
    if code.resolve() != ROOT:
        os.environ.update(PYTHONPATH=str(code.resolve()), PYTHONDONTWRITEBYTECODE="1")


def on_each_database(choice: str, measure: Callable[[str, Path], bool]) -> NoReturn:
    """Checks for wrk, prints the machine, runs ``measure(kind, body)`` on SQLite and/or
    PostgreSQL (``choice``: ``sqlite``, ``postgres`` or ``both``) with the example body,
    and exits 1 when any run missed its goal."""
    require_wrk()
    kinds = ("sqlite", "postgres") if choice == "both" else (choice,)
    print(f"machine: {machine()}")
    with example_body() as body:
        results = [measure(kind, body) for kind in kinds]
    sys.exit(0 if all(results) else 1)
