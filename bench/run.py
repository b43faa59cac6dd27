"""`make bench`: wrk against gunicorn started as `make serve` starts it; writes docs/benchmarks.*.

Every scenario is a bounded wrk run over 127.0.0.1. The figures land between the result markers
of docs/benchmarks.md (the prose around them is kept) and in docs/benchmarks.png.
"""

import argparse
import contextlib
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from importlib.metadata import version
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, urlencode, urlsplit

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
DOC, CHART = REPO / "docs" / "benchmarks.md", REPO / "docs" / "benchmarks.png"
LOGS = Path(tempfile.gettempdir()) / "blogapi-bench-logs"  # the servers' logs, kept after a run
START, END = "<!-- bench:results:start -->", "<!-- bench:results:end -->"
PF_EXITING = 0x4  # /proc/<pid>/stat flags: the process is exiting (linux/sched.h)

USER, LOGIN_USER, PASSWORD = "bench", "bench-login", "correct horse battery staple"
SMALL, LARGE = 10, 100_000
DEEP_PAGES, DEEP_PAGE_SIZE = 500, 100  # the walk ends 50,000 posts deep
PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
PG_DATABASE = "blogapi_bench"
PG_TWIN_DATABASE = "blogapi_bench_twin"  # the twin server's (list_at_both_sizes)
REDIS_URL = "redis://127.0.0.1:6379/14"
NEW_POST = {"title": "Benchmark", "body": "A post written by wrk."}
LOGIN = {"username": LOGIN_USER, "password": PASSWORD}

# Production settings over plain HTTP; rate limits raised so wrk measures throughput, not 429s.
SERVER_ENV = {
    "DJANGO_SECRET_KEY": "bench-only-secret-key-not-for-production-0123456789abcdef",
    "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
    "DJANGO_SECURE_SSL_REDIRECT": "false",
    "DJANGO_SECURE_COOKIES": "false",
    "RATE_LIMITS": "login_failures=1000000/60,login_ip=1000000/60,token_failures_ip=1000000/60",
    "DJANGO_SETTINGS_MODULE": "bench.settings",
    "WEB_CONCURRENCY": "2",
}


@dataclass
class Result:
    """One wrk run: throughput, latency percentiles, errors and the workers' peak memory."""

    key: str
    label: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    peak_rss_mb: float = 0.0
    peak_pss_mb: float = 0.0  # an upper bound: see Server._sample_rss
    boots: int = 0  # workers (re)started during the run: gunicorn's max_requests recycling
    ratio: float = 0.0


@dataclass
class Backend:
    """Every figure measured on one database (+ cache) configuration."""

    name: str
    ceiling: float = 0.0  # req/s, the mean of the first and the last ceiling run
    walk_ratio: float = 0.0  # the deep walk's last pages' speed relative to its first pages'
    alternated: dict[str, list[float]] = field(default_factory=dict)  # ceiling, list, detail
    size_ratio: float = 0.0  # the first page at LARGE posts against SMALL, same page, alternately
    size_ratio_default_page: float = 0.0  # the same with LARGE's default 20-post page
    results: list[Result] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def get(self, key: str) -> Result:
        return next(r for r in self.results if r.key == key)


def manage(env: dict[str, str], *args: str) -> float:
    """Run a manage.py command; returns its wall time in seconds."""
    started = time.monotonic()
    subprocess.run(  # noqa: S603 - our interpreter, our arguments
        [sys.executable, "manage.py", *args], cwd=REPO, env=env, check=True, timeout=600
    )
    return time.monotonic() - started


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http(url: str, token: str | None = None, body: dict[str, Any] | None = None) -> Any:
    """One JSON request (POST when there is a body); the decoded answer."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data)  # noqa: S310 - always http://127.0.0.1
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Token {token}")
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return json.load(response)


class Server:
    """gunicorn as `make serve` runs it (gunicorn.conf.py when present), and its workers' memory."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**env, "BIND": f"127.0.0.1:{self.port}"}
        self.log = log
        self.peak_kb, self.peak_pss_kb, self.pids, self.booted = 0, 0, set[int](), 0
        self._stop = threading.Event()

    def __enter__(self) -> "Server":
        command = [str(VENV_BIN / "gunicorn"), "blogapi.wsgi:application"]
        if (REPO / "gunicorn.conf.py").exists():
            command += ["-c", "gunicorn.conf.py"]
        else:  # the colleague's config file is not there yet: the same essentials as flags
            command += ["--workers", "2", "--bind", self.env["BIND"]]
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(  # noqa: S603
                command, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 60
        while True:
            try:
                http(f"{self.url}/bench/ceiling/")
                break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"gunicorn did not start; see {self.log}") from None
                time.sleep(0.2)
        threading.Thread(target=self._sample_rss, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            self.process.kill()

    def children(self) -> dict[int, bool]:
        """The master's children, each with whether it is exiting (a recycled worker's end)."""
        found = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
                parent, flags = int(fields[1]), int(fields[6])
            except (OSError, IndexError, ValueError):
                continue
            if parent == self.process.pid:
                found[int(stat.parent.name)] = bool(flags & PF_EXITING)
        return found

    def workers(self) -> list[int]:
        """The master's children that are not exiting."""
        return [pid for pid, exiting in self.children().items() if not exiting]

    @staticmethod
    def _memory(pid: int) -> tuple[int, int] | None:
        """A worker's VmHWM and its peak PSS bound, in kB; None once it is gone.

        The kernel keeps no high-water mark for PSS: Pss + VmHWM - Rss bounds it, the excess of
        the peak over the current RSS (a transient Argon2 buffer) counted as if entirely
        private; never more than VmHWM, since PSS <= RSS. Pss and Rss come from one page walk
        (smaps_rollup): VmRSS read apart from it can miss a buffer Pss counted, which then
        counts twice. VmHWM, read after the walk, covers every RSS the walk saw.
        """
        fields: dict[str, int] = {}
        try:
            for proc in ("smaps_rollup", "status"):
                for line in Path(f"/proc/{pid}/{proc}").read_text().splitlines():
                    name, _, value = line.partition(":")
                    if name in ("Pss", "Rss", "VmHWM"):
                        fields[name] = int(value.split()[0])
        except OSError:
            return None
        if len(fields) < 3:  # a zombie has no memory lines left
            return None
        hwm = fields["VmHWM"]
        return hwm, min(hwm, fields["Pss"] + max(0, hwm - fields["Rss"]))

    def _sample_rss(self) -> None:
        """Every worker's peak RSS and peak PSS bound, often: recycled workers take theirs along.

        PSS divides shared pages among the processes sharing them: while a recycled worker is
        being replaced (exiting, or gone and its successor not yet forked), the others have one
        sharer fewer and their PSS rises by ~10 MB without a byte more in use. The PSS bound
        takes only rounds in which every configured worker was running before and after.
        """
        expected = int(self.env.get("WEB_CONCURRENCY", "2"))
        while not self._stop.wait(0.2):
            before = self.children()
            self.pids.update(before)
            samples = {pid: self._memory(pid) for pid, exiting in before.items() if not exiting}
            after = self.children()
            steady = len(before) == expected and not any(before.values()) and after == before
            for pid, memory in samples.items():
                # An exiting worker unmaps shared pages, which lowers Rss by their size and Pss
                # only by its share of them: its bound would grow while it shrinks.
                if memory is None or after.get(pid, True):
                    continue
                self.peak_kb = max(self.peak_kb, memory[0])
                if steady:
                    self.peak_pss_kb = max(self.peak_pss_kb, memory[1])

    def take_window(self) -> tuple[float, float, int]:
        """Since the last call: the workers' peak RSS and peak PSS bound in MB, workers booted."""
        time.sleep(0.3)  # one more sample after the load stopped
        rss, self.peak_kb = self.peak_kb, 0
        pss, self.peak_pss_kb = self.peak_pss_kb, 0
        booted, self.booted = len(self.pids) - self.booted, len(self.pids)
        for pid in self.workers():
            # "5" resets VmHWM (proc(5), clear_refs): the next window starts from current RSS.
            with contextlib.suppress(OSError):
                Path(f"/proc/{pid}/clear_refs").write_text("5")
        return rss / 1024, pss / 1024, booted


def wrk(
    server: Server,
    key: str,
    label: str,
    path: str,
    *,
    duration: int,
    token: str | None = None,
    body: dict[str, Any] | None = None,
) -> Result:
    """One bounded wrk run (2 threads, 8 connections) against `path`."""
    command = ["wrk", "-t2", "-c8", f"-d{duration}s", "--latency"]
    command += ["-s", str(REPO / "bench" / "request.lua")]
    if token:
        command += ["-H", f"Authorization: Token {token}"]
    env = {**os.environ, "BENCH_METHOD": "POST" if body else "GET"}
    env["BENCH_BODY"] = json.dumps(body) if body else ""
    server.take_window()
    output = subprocess.run(  # noqa: S603
        [*command, server.url + path],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=duration + 30,
    ).stdout
    line = next(x for x in output.splitlines() if x.startswith("BENCH "))
    stats = json.loads(line.removeprefix("BENCH "))
    result = Result(
        key=key,
        label=label,
        rps=stats["requests"] / (stats["duration_us"] / 1e6),
        p50_ms=stats["p50_us"] / 1000,
        p99_ms=stats["p99_us"] / 1000,
        errors=stats["socket_errors"] + stats["http_errors"],
    )
    result.peak_rss_mb, result.peak_pss_mb, result.boots = server.take_window()
    print(
        f"  {label:<42} {result.rps:8.1f} req/s  p50 {result.p50_ms:7.2f} ms  "
        f"p99 {result.p99_ms:7.2f} ms  peak RSS {result.peak_rss_mb:5.1f} MB  "
        f"PSS <= {result.peak_pss_mb:5.1f} MB  boots {result.boots}"
        + (f"  ERRORS {result.errors}" if result.errors else ""),
        flush=True,
    )
    return result


def deep_walk(server: Server, token: str) -> tuple[str, list[float], list[float]]:
    """Follow `next` DEEP_PAGES times, then time the first and the last 50 pages again.

    Returns the last cursor's path and the times (ms) of the first 50 and of the last 50 pages,
    requested alternately (first, last, first, ...; twice each) so that the machine's drift
    during the walk, which has shown as ±30 % between its start and its end, falls on both.
    """
    url, urls = f"{server.url}/api/v1/?page_size={DEEP_PAGE_SIZE}", []
    for _ in range(DEEP_PAGES):
        urls.append(url)
        url = http(url, token)["next"]
    first: list[float] = []
    last: list[float] = []
    for _ in range(2):
        for early, late in zip(urls[:50], urls[-50:], strict=True):
            for page, times in ((early, first), (late, last)):
                started = time.perf_counter()
                http(page, token)
                times.append((time.perf_counter() - started) * 1000)
    # The cursor alone: wrk asks for that position with the default page size, as the first page.
    cursor = parse_qs(urlsplit(url).query)["cursor"][0]
    return "/api/v1/?" + urlencode({"cursor": cursor}), first, last


def argon2_hash_ms() -> float:
    """Median CPU time of one Argon2id hash with the production parameters, in this process.

    Login throughput cannot exceed (cores / this): the figure shows how far the rest of a login
    is from that floor, on a machine whose speed drifts (the same hash took 39-60 ms here).
    """
    from argon2.low_level import Type, hash_secret_raw

    if str(REPO) not in sys.path:  # run as `python bench/run.py`: the repo is not on the path
        sys.path.insert(0, str(REPO))
    from blogapi.accounts.hashers import Argon2idPasswordHasher as Hasher

    times = []
    for _ in range(10):
        started = time.process_time()
        hash_secret_raw(
            b"bench password",
            b"bench-salt-0123",
            Hasher.time_cost,
            Hasher.memory_cost,
            Hasher.parallelism,
            32,
            Type.ID,
        )
        times.append((time.process_time() - started) * 1000)
    return statistics.median(times)


Run = tuple[str, "Server", str | None, str, str]  # key, server, token, path, label


# alternating(): each run this many times, in turn. Three left a verdict to one unlucky run (runs
# of the same page 5 s apart differed by up to 27 % on PostgreSQL, docs/benchmarks.md).
ROUNDS = 5


def turn_seconds(duration: int) -> int:
    """How long each run in turn lasts: half a scenario's time, at least 2 s."""
    return max(2, duration // 2)


def rates_text(rates: list[float]) -> str:
    """Runs' req/s as the notes list them: "1,234, 1,198"."""
    return ", ".join(f"{r:,.0f}" for r in rates)


def alternating(runs: list[Run], duration: int) -> dict[str, list[float]]:
    """Each run's req/s, the runs taken in turn ROUNDS times for half a scenario's time each.

    For the goals that compare two figures: measured minutes apart, each moved with the
    machine (the ceiling between 2,000 and 3,000 req/s within a run); taken in turn, the
    drift falls on all of them alike.
    """
    rates: dict[str, list[float]] = {key: [] for key, *_ in runs}
    for _ in range(ROUNDS):
        for key, server, token, path, label in runs:
            result = wrk(
                server,
                key,
                f"  alternating: {label}",
                path,
                token=token,
                duration=turn_seconds(duration),
            )
            rates[key].append(result.rps)
    return rates


def list_at_both_sizes(
    server: Server, token: str, twin_env: dict[str, str], log: Path, duration: int
) -> dict[str, list[float]]:
    """The first page at SMALL posts (a twin server on its own database) and at LARGE, alternately.

    Timed one after the other, minutes apart, the two moved with the machine (0.56-0.96 x on
    the same code); alternating the runs puts the drift on both. Each size is asked for the
    same two requests, so that only the data's size differs: `?page_size=SMALL` (the verdict:
    SMALL posts, a page at both sizes) and the default page (all SMALL posts at SMALL, 20 at
    LARGE: twice the posts to read, serialize and send). The query string alone costs a
    worker ~5 % of a page's CPU (docs/benchmarks.md, item 20).
    """
    same_page = f"/api/v1/?page_size={SMALL}"
    with Server(twin_env, log) as twin:
        twin_token = http(
            f"{twin.url}/api/v1/dj-rest-auth/login/",
            body={"username": USER, "password": PASSWORD, "device": "bench"},
        )["key"]
        runs: list[Run] = [
            (
                "small_same_page",
                twin,
                twin_token,
                same_page,
                f"first page, {SMALL:,} posts, {SMALL} a page",
            ),
            (
                "large_same_page",
                server,
                token,
                same_page,
                f"first page, {LARGE:,} posts, {SMALL} a page",
            ),
            ("small", twin, twin_token, "/api/v1/", f"first page, {SMALL:,} posts, 20 a page"),
            ("large", server, token, "/api/v1/", f"first page, {LARGE:,} posts, 20 a page"),
        ]
        return alternating(runs, duration)


def run_backend(name: str, env: dict[str, str], twin_env: dict[str, str], duration: int) -> Backend:
    """Seed, serve and load one configuration; ceiling first and last (drift shows).

    `twin_env` names a second, empty database: a twin server keeps SMALL posts on it while
    the main one is loaded with LARGE, for the data-size goal (list_at_both_sizes).
    """
    print(f"== {name}", flush=True)
    backend = Backend(name)
    for database in (env, twin_env):
        manage(database, "migrate", "--noinput", "-v0")
        # The list scenario's 10 posts are all the reader's; the login user has none.
        manage(
            database, "demo_data", "--posts", str(SMALL), "--username", USER, "--password", PASSWORD
        )
    manage(env, "demo_data", "--posts", "0", "--username", LOGIN_USER, "--password", PASSWORD)
    LOGS.mkdir(exist_ok=True)
    with Server(env, LOGS / f"gunicorn-{name.split()[0].lower()}.log") as server:
        token = http(
            f"{server.url}/api/v1/dj-rest-auth/login/",
            body={"username": USER, "password": PASSWORD, "device": "bench"},
        )["key"]
        newest = http(f"{server.url}/api/v1/", token)["results"][0]["id"]
        load = partial(wrk, server, duration=duration)
        backend.results += [
            load("ceiling", "Ceiling: bare Django JSON view", "/bench/ceiling/"),
            load("list", f"List, first page ({SMALL} posts)", "/api/v1/", token=token),
            load("detail", "Post detail", f"/api/v1/{newest}/", token=token),
        ]
        # The ratio goals' verdicts: the three again, in turn (before posts are created).
        backend.alternated = alternating(
            [
                ("ceiling", server, None, "/bench/ceiling/", "ceiling"),
                ("list", server, token, "/api/v1/", f"list, first page ({SMALL} posts)"),
                ("detail", server, token, f"/api/v1/{newest}/", "post detail"),
            ],
            duration,
        )
        backend.notes.append(
            f"Ratio goals: the ceiling, the list and the detail again, in turn, {ROUNDS} times "
            f"for {turn_seconds(duration)} s each, medians compared: "
            + "; ".join(
                f"{key} {rates_text(rates)} req/s" for key, rates in backend.alternated.items()
            )
            + "."
        )
        backend.results.append(
            load("create", "Create post", "/api/v1/", token=token, body=NEW_POST)
        )
        seconds = manage(
            env, "demo_data", "--posts", str(LARGE), "--username", USER, "--password", PASSWORD
        )
        backend.notes.append(f"`demo_data --posts {LARGE:,}` (from ~{SMALL:,}): {seconds:.1f} s.")
        second = http(f"{server.url}/api/v1/", token)["next"].removeprefix(server.url)
        backend.results += [
            load("list_large", f"List, first page ({LARGE:,} posts)", "/api/v1/", token=token),
            load("second", "List, next page (cursor 20 posts in)", second, token=token),
        ]
        twin_log = LOGS / f"gunicorn-{name.split()[0].lower()}-twin.log"
        rates = list_at_both_sizes(server, token, twin_env, twin_log, duration)
        backend.size_ratio = statistics.median(rates["large_same_page"]) / statistics.median(
            rates["small_same_page"]
        )
        backend.size_ratio_default_page = statistics.median(rates["large"]) / statistics.median(
            rates["small"]
        )
        small_same, large_same, small, large = (
            rates_text(rates[key])
            for key in ("small_same_page", "large_same_page", "small", "large")
        )
        backend.notes.append(
            f"First page at {LARGE:,} posts against {SMALL} posts, runs of "
            f"{turn_seconds(duration)} s in turn, {ROUNDS} times, medians compared (the "
            f"{SMALL} posts on a second server with its own database): with {SMALL} a page "
            f"{small_same} req/s at {SMALL} posts, {large_same} at {LARGE:,} "
            f"({backend.size_ratio:.2f} x); with the default 20 a page {small} req/s at {SMALL} "
            f"posts (all {SMALL}), {large} at {LARGE:,} ({backend.size_ratio_default_page:.2f} x)."
        )
        deep_path, first_times, last_times = deep_walk(server, token)
        first, last = statistics.median(first_times), statistics.median(last_times)
        backend.walk_ratio = first / last
        backend.notes.append(
            f"Deep walk: {DEEP_PAGES} pages of {DEEP_PAGE_SIZE} following `next`, then the "
            f"first 50 and the last 50 pages (posts {(DEEP_PAGES - 50) * DEEP_PAGE_SIZE:,}-"
            f"{DEEP_PAGES * DEEP_PAGE_SIZE:,}) requested alternately, twice: median "
            f"{first:.1f} ms for the first, {last:.1f} ms for the last."
        )
        backend.results.append(
            load("deep", "List, next page (cursor 50,000 posts in)", deep_path, token=token)
        )
        hash_ms = argon2_hash_ms()
        # Last but one: glibc keeps Argon2's 19 MiB in the heap after the first login, which
        # would otherwise show in every later scenario's RSS.
        login = load("login", "Login (Argon2id)", "/api/v1/dj-rest-auth/login/", body=LOGIN)
        cores = len(os.sched_getaffinity(0))
        bound = cores * 1000 / hash_ms
        backend.notes.append(
            f"Argon2id alone, measured just before the logins: {hash_ms:.1f} ms of CPU per hash, "
            f"so {cores} cores allow at most {bound:.0f} logins/s; the login scenario reached "
            f"{login.rps:.0f} ({login.rps / bound:.0%} of that bound)."
        )
        backend.results += [
            login,
            load("ceiling_end", "Ceiling again (drift check)", "/bench/ceiling/"),
        ]
    backend.ceiling = (backend.get("ceiling").rps + backend.get("ceiling_end").rps) / 2
    print(f"  Ratios to the ceiling ({backend.ceiling:.0f} req/s, the mean of both runs):")
    for result in backend.results:
        result.ratio = result.rps / backend.ceiling
        print(f"    {result.label:<42} {result.ratio:5.2f} x", flush=True)
    return backend


def postgres_env() -> dict[str, str] | None:
    """A fresh dedicated database and an empty Redis db 14, or None when either is unreachable."""
    try:
        import psycopg
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).flushdb()
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
            for database in (PG_DATABASE, PG_TWIN_DATABASE):
                conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
                conn.execute(f"CREATE DATABASE {database}")
    except Exception as error:
        print(f"== PostgreSQL + Redis skipped: {error}", flush=True)
        return None
    return {
        "DATABASE_URL": PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{PG_DATABASE}",
        "REDIS_URL": REDIS_URL,
    }


def postgres_drop() -> None:
    import psycopg
    import redis

    redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).flushdb()
    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
        for database in (PG_DATABASE, PG_TWIN_DATABASE):
            conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


def machine() -> dict[str, str]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next(
        (x.split(":", 1)[1].strip() for x in cpuinfo.splitlines() if "model name" in x), ""
    )
    meminfo = Path("/proc/meminfo").read_text().split()
    memory_gb = int(meminfo[meminfo.index("MemTotal:") + 1]) / 1024 / 1024
    versions = {
        "Python": platform.python_version(),
        "Django": version("django"),
        "DRF": version("djangorestframework"),
        "gunicorn": version("gunicorn"),
    }
    try:
        import psycopg
        import redis

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            versions["PostgreSQL"] = str(row[0]) if row else "?"
        # redis-py 6 types a reply as "a value or an awaitable"; this client is synchronous.
        info = cast(dict[str, Any], redis.Redis.from_url(REDIS_URL).info())
        versions["Redis"] = str(info["redis_version"])
    except Exception:  # noqa: S110 - not installed here: the SQLite figures stand alone
        pass
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)  # noqa: S607
    versions["wrk"] = (wrk_version.stdout.split() or ["?", "?"])[1]
    return {
        "CPUs": f"{len(os.sched_getaffinity(0))} (nproc) x {model}",
        "Memory": f"{memory_gb:.1f} GiB",
        "Versions": ", ".join(f"{k} {v}" for k, v in versions.items()),
    }


GOALS: list[tuple[str, str, str, float]] = [
    # (goal, numerator, denominator or "" for an absolute figure, threshold)
    ("Token list, first page ≥ 0.40 x ceiling (alternating runs)", "list", "ceiling", 0.40),
    ("Post detail ≥ 0.45 x ceiling (alternating runs)", "detail", "ceiling", 0.45),
    ("Login ≥ 40 req/s (Argon2id m=19 MiB, t=2, p=1)", "login", "", 40),
]


def goal_cell(backend: Backend, numerator: str, denominator: str, threshold: float) -> str:
    """The verdict; a ratio to the ceiling from the alternating runs, the table's beside it."""
    value = backend.get(numerator).rps
    if denominator == "ceiling":
        single = value / backend.ceiling
        value = statistics.median(backend.alternated[numerator]) / statistics.median(
            backend.alternated["ceiling"]
        )
        return (
            f"{value:.2f} x {'✅' if value >= threshold else '❌'} (the table's single runs: "
            f"{single:.2f} x)"
        )
    return f"{value:.0f} req/s {'✅' if value >= threshold else '❌'}"


def memory_cell(backend: Backend) -> str:
    """Peak worker PSS bound (the verdict) and RSS, over all scenarios and before any login."""
    # The scenarios before the logins: glibc keeps Argon2's memory in the heap after them.
    before_login = backend.results[: [r.key for r in backend.results].index("login")]
    pss, rss = (
        max(r.peak_pss_mb for r in backend.results),
        max(r.peak_rss_mb for r in backend.results),
    )
    reads_pss, reads_rss = (
        max(r.peak_pss_mb for r in before_login),
        max(r.peak_rss_mb for r in before_login),
    )
    return (
        f"PSS {pss:.0f} MB, RSS {rss:.0f} MB; before any login PSS {reads_pss:.0f} MB, "
        f"RSS {reads_rss:.0f} MB {'✅' if pss <= 60 else '❌'}"
    )


def report(backends: list[Backend], info: dict[str, str], command: str, load: str) -> str:
    lines = [
        START,
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `{command}`: every scenario is "
        "`wrk -t2 -c8 -d<duration>s` over 127.0.0.1 against gunicorn with 2 sync workers.",
        "",
        f"- **Machine**: {info['CPUs']}; {info['Memory']}; load average before/after: {load}.",
        f"- **Versions**: {info['Versions']}.",
        "",
        "![Requests per second per scenario](benchmarks.png)",
    ]
    for backend in backends:
        lines += [
            "",
            f"### {backend.name}",
            "",
            "| Scenario | req/s | p50 ms | p99 ms | x ceiling | Peak worker RSS "
            "| Peak worker PSS (bound) | Worker boots | Errors |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {r.label} | {r.rps:,.0f} | {r.p50_ms:.1f} | {r.p99_ms:.1f} | {r.ratio:.2f} "
            f"| {r.peak_rss_mb:.1f} MB | {r.peak_pss_mb:.1f} MB | {r.boots} | {r.errors} |"
            for r in backend.results
        ]
        lines += [""] + [f"- {note}" for note in backend.notes]
    lines += [
        "",
        "### Goals",
        "",
        "| Goal | " + " | ".join(b.name for b in backends) + " |",
        "|---|" + "---|" * len(backends),
    ]
    for goal, numerator, denominator, threshold in GOALS:
        cells = [goal_cell(b, numerator, denominator, threshold) for b in backends]
        lines.append(f"| {goal} | " + " | ".join(cells) + " |")
    sizes = [
        f"{b.size_ratio:.2f} x {'✅' if b.size_ratio >= 0.9 else '❌'} (a 20-post page: "
        f"{b.size_ratio_default_page:.2f} x)"
        for b in backends
    ]
    lines.append(
        f"| List, first page at {LARGE:,} posts ≥ 0.9 x at {SMALL}: the same {SMALL}-post page, "
        "alternating runs | " + " | ".join(sizes) + " |"
    )
    walk = [f"{b.walk_ratio:.2f} x {'✅' if b.walk_ratio >= 0.9 else '❌'}" for b in backends]
    lines.append(
        "| Deep walk: posts 45,000-50,000 in ≥ 0.9 x as fast as the first 5,000 | "
        + " | ".join(walk)
        + " |"
    )
    lines.append(
        "| Peak worker memory ≤ 60 MB (PSS bound; RSS shown) | "
        + " | ".join(memory_cell(b) for b in backends)
        + " |"
    )
    lines += [
        "",
        "The ceiling ratio uses the mean of the first and last ceiling runs.",
        "A worker's PSS is its private pages plus its share of the pages it shares with the master "
        "and the other workers, what one more worker costs the machine; no kernel counter keeps "
        "its peak, so the table shows an upper bound: the largest Pss + VmHWM - Rss sampled "
        "every 0.2 s, at most VmHWM, while every worker runs (not while gunicorn replaces a "
        "recycled one: the others then have one sharer fewer).",
        END,
    ]
    return "\n".join(lines)


def write_doc(section: str) -> None:
    text = DOC.read_text() if DOC.exists() else f"# Benchmarks\n\n{START}\n{END}\n"
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    DOC.write_text(head + section + tail)


def write_chart(backends: list[Backend]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, _ = plt.subplots(1, len(backends), figsize=(6.5 * len(backends), 4.5), sharey=True)
    figure.axes[0].invert_yaxis()  # the axes share y: inverted once, in the order run
    for ax, backend in zip(figure.axes, backends, strict=True):
        results = [r for r in backend.results if r.key != "ceiling_end"]
        labels = [r.label for r in results]
        bars = ax.barh(labels, [r.rps for r in results], color="#4c72b0")
        for bar, r in zip(bars, results, strict=True):
            ax.text(
                bar.get_width(),
                bar.get_y() + bar.get_height() / 2,
                f" {r.rps:,.0f} ({r.ratio:.2f}x)",
                va="center",
                fontsize=8,
            )
        ax.set_xscale("log")
        ax.set_xlabel("requests per second (log scale)")
        ax.set_title(backend.name)
        ax.margins(x=0.35)
    figure.tight_layout()
    figure.savefig(CHART, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL + Redis")
    args = parser.parse_args()
    command = (
        "make bench" if args.duration == 10 else f"python bench/run.py --duration {args.duration}"
    )
    base = {**os.environ, **SERVER_ENV}
    base.pop("DJANGO_DEBUG", None)
    # As `make serve` does: the app's bytecode on disk, even where PYTHONDONTWRITEBYTECODE is set.
    subprocess.run(  # noqa: S603
        [str(VENV_BIN / "python"), "-m", "compileall", "-q", "blogapi"], cwd=REPO, check=True
    )
    load_before = f"{os.getloadavg()[0]:.2f}"
    backends = []
    with tempfile.TemporaryDirectory(prefix="blogapi-bench-") as tmp:
        sqlite = {**base, "DATABASE_URL": f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"}
        sqlite.pop("REDIS_URL", None)
        sqlite_twin = {**sqlite, "DATABASE_URL": f"sqlite:///{Path(tmp) / 'twin.sqlite3'}"}
        backends.append(run_backend("SQLite", sqlite, sqlite_twin, args.duration))
        pg = None if args.sqlite_only else postgres_env()
        if pg is not None:
            pg_twin = {
                "DATABASE_URL": pg["DATABASE_URL"].rsplit("/", 1)[0] + f"/{PG_TWIN_DATABASE}"
            }
            try:
                backends.append(
                    run_backend(
                        "PostgreSQL + Redis",
                        {**base, **pg},
                        {**base, **pg, **pg_twin},
                        args.duration,
                    )
                )
            finally:
                postgres_drop()
    load = f"{load_before} / {os.getloadavg()[0]:.2f}"
    write_doc(report(backends, machine(), command, load))
    write_chart(backends)
    print(f"Wrote {DOC.relative_to(REPO)} and {CHART.relative_to(REPO)}; server logs in {LOGS}.")


if __name__ == "__main__":
    main()
