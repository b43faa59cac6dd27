"""`make bench`: wrk against gunicorn as `make serve` runs it, on SQLite and on PostgreSQL + Redis.

Throughputs are given as ratios to the ceiling (/bench/ceiling/, bench/urls.py) of the same run.
Writes the section between the markers of docs/benchmarks.md, and docs/benchmarks.png.
From the repository root: `python -m bench.run [--seconds S] [--rounds N] [--sqlite-only]`.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any, cast

from blogapi.core.tests.processes import (
    REPO,
    AppServer,
    TaskWorker,
    free_port,
    manage,
    memory_mb,
    stop_quietly,
)

DOC, CHART = REPO / "docs" / "benchmarks.md", REPO / "docs" / "benchmarks.png"
START, END = "<!-- bench:results:start -->", "<!-- bench:results:end -->"
MAIL_START, MAIL_END = "<!-- bench:mail:start -->", "<!-- bench:mail:end -->"
LOGS = Path(tempfile.gettempdir()) / "blogapi-bench-logs"  # the servers' logs, kept after a run
USER, PASSWORD = "bench", "correct horse battery staple"
LOGIN = {"username": USER, "password": PASSWORD, "device": "bench"}
PG_ADMIN_URL, REDIS_URL = "postgres://postgres@127.0.0.1:5432/postgres", "redis://127.0.0.1:6379/14"
DATABASES = {"small": "blogapi_bench_small", "large": "blogapi_bench_large"}
POSTS = {"small": 10, "large": 100_000}  # in each server's database
# Production settings over plain HTTP; rate limits raised so that wrk measures throughput, not 429.
SERVER_ENV = {
    "DJANGO_SETTINGS_MODULE": "bench.settings",
    "DJANGO_SECRET_KEY": "bench-only-secret-key-not-for-production-0123456789abcdef",
    "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
    "DJANGO_SECURE_SSL_REDIRECT": "false",
    "DJANGO_SECURE_COOKIES": "false",
    # Production requires an explicit EMAIL_URL; the benchmark's requests send no mail.
    "EMAIL_URL": "dummymail://",
    "RATE_LIMITS": "login_failures=1000000/60,login_ip=1000000/60,token_failures_ip=1000000/60",
}
SCENARIOS = {  # the first seven run in turn, `--rounds` times
    "ceiling": "Ceiling: bare Django JSON view",
    "list": "List, first page (10 posts)",
    "bearer_list": "List, first page (10 posts), JWT Bearer",
    "deeper": "List, 6th page, by cursor (100,000 posts)",
    "detail": "Post detail",
    "small_page": "List, first page of 10 (10 posts)",
    "large_page": "List, first page of 10 (100,000 posts)",
    "create": "Create post",
    "login": "Login (Argon2id)",
}
# The JWT server: access tokens outlive the run (~5 minutes), so that none expires mid-scenario.
JWT_ENV = {
    "AUTH_JWT": "true",
    "AUTH_JWT_SIGNING_KEY": "bench-only-jwt-signing-key-0123456789abcdef",
    "AUTH_JWT_ACCESS_TTL": "3600",
}
MOMENTS = ("after warm-up", "after 10,000 reads more", "after 500 pages of 100 posts")
# The mail hand-off scenario: password-reset requests (one mail each) on two servers sharing one
# database, one handing mail to an in-process thread as before issue 20 (bench/thread_mail.py),
# one enqueueing it as a task in the request's transaction, with a task worker delivering beside.
HANDOFFS = {
    "thread": "bench.thread_mail.ThreadEmailBackend",
    "task": "blogapi.core.mail.TaskEmailBackend",
}
RESET_LIMITS = "password_reset_ip=1000000/60,password_reset_address=1000000/60"
HANDOFF_GOAL = 0.95  # "no more than today", within the runs' noise


@dataclass
class Run:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


@dataclass
class Backend:
    """Every figure taken on one database (+ cache)."""

    name: str
    runs: dict[str, list[Run]] = field(default_factory=dict)
    memory: list[tuple[float, float]] = field(default_factory=list)  # (PSS, RSS) at MOMENTS
    replaced: bool = False  # a worker was replaced during the memory test

    def median(self, key: str, figure: str = "rps") -> float:
        """The median of the runs' `figure`."""
        return statistics.median(getattr(run, figure) for run in self.runs[key])

    def ratio(self, key: str) -> float:
        return self.median(key) / self.median("ceiling")

    def growth(self) -> float:
        return max(pss for pss, _ in self.memory[1:]) - self.memory[0][0]


@dataclass
class Handoff:
    """The mail hand-off scenario's runs on one database, by EMAIL_BACKEND."""

    name: str
    runs: dict[str, list[Run]] = field(default_factory=dict)

    def median(self, key: str, figure: str = "rps") -> float:
        return statistics.median(getattr(run, figure) for run in self.runs[key])

    def ratio(self) -> float:
        return self.median("task") / self.median("thread")


def authorization(token: str) -> str:
    """The header for a key, or for a JWT access token (three dot-separated parts)."""
    return f"Bearer {token}" if token.count(".") == 2 else f"Token {token}"


def http(url: str, token: str | None = None, body: dict[str, Any] | None = None) -> Any:
    """One JSON request (a POST when there is a body); the decoded answer."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data)  # noqa: S310 - always http://127.0.0.1
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", authorization(token))
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return json.load(response)


def wrk(url: str, seconds: int, token: str | None, body: dict[str, Any] | None = None) -> Run:
    """`wrk -t2 -c8` for `seconds` against `url` (bench/request.lua shapes the request)."""
    command = ["wrk", "-t2", "-c8", f"-d{seconds}s", "-s", str(REPO / "bench" / "request.lua")]
    if token:
        command += ["-H", f"Authorization: {authorization(token)}"]
    env = {**os.environ, "BENCH_METHOD": "POST" if body else "GET"}
    env["BENCH_BODY"] = json.dumps(body) if body else ""
    output = subprocess.run(  # noqa: S603
        [*command, url], env=env, capture_output=True, text=True, check=True, timeout=seconds + 30
    ).stdout
    stats = json.loads(next(x for x in output.splitlines() if x.startswith("BENCH "))[6:])
    rps = stats["requests"] * 1e6 / stats["duration_us"]
    errors = stats["socket_errors"] + stats["http_errors"]
    print(f"  {rps:7,.0f} req/s {url}" + (f"  ERRORS {errors}" if errors else ""), flush=True)
    return Run(rps, stats["p50_us"] / 1000, stats["p99_us"] / 1000, errors)


def hammer(url: str, paths: list[str], count: int, token: str) -> None:
    """`count` GETs of `paths` in turn, 8 at a time: an exact count, which wrk cannot give."""
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: http(url + paths[i % len(paths)], token), range(count)))


def follow(url: str, path: str, token: str, pages: int) -> list[str]:
    """`path` and the `next` of each page after it: `pages` paths in all."""
    paths = [path]
    while len(paths) < pages:
        paths.append(http(url + paths[-1], token)["next"].removeprefix(url))
    return paths


def measure_memory(backend: Backend, server: AppServer, token: str, reads: list[str]) -> None:
    """A worker's PSS and RSS at each of MOMENTS on a fresh server, the most grown worker's kept.

    The warm-up takes every kind of request once at least, so that what follows shows growth,
    not first use. ~6,000 requests a worker, below max_requests: no worker is replaced.
    """
    pages = follow(server.url, "/api/v1/?page_size=100", token, 100)
    hammer(server.url, reads, 1_000, token)
    workers = server.worker_pids()
    samples = {pid: [memory_mb(pid)] for pid in workers}
    for paths, count in ((reads, 10_000), (pages, 500)):
        hammer(server.url, paths, count, token)
        for pid in workers:
            samples[pid].append(memory_mb(pid))
    backend.memory = max(samples.values(), key=lambda s: max(p for p, _ in s[1:]) - s[0][0])
    backend.replaced = sorted(server.worker_pids()) != sorted(workers)


def run_backend(
    name: str, urls: dict[str, str], redis_url: str = "", rounds: int = 5, seconds: int = 3
) -> Backend:
    """Seed a database of 10 posts and one of 100,000, serve each, measure; then stop them."""
    print(f"== {name}", flush=True)
    backend, servers = Backend(name), {}
    with ExitStack() as stack:
        for size, database_url in urls.items():
            env = {"PATH": os.environ["PATH"], "HOME": tempfile.gettempdir(), **SERVER_ENV}
            env |= {"DATABASE_URL": database_url, "REDIS_URL": redis_url}
            env["BENCH_CACHE_PREFIX"] = size
            manage(env, "migrate", "--noinput")
            seed = [f"--posts={POSTS[size]}", f"--username={USER}", f"--password={PASSWORD}"]
            manage(env, "demo_data", *seed)
            log = LOGS / f"{name.split()[0].lower()}-{size}.log"
            log.unlink(missing_ok=True)
            servers[size] = AppServer(env, log)
            servers[size].start()
            stack.callback(stop_quietly, servers[size].stop)
            if size == "small":  # the same database, signing in with JWTs (AUTH_JWT=true)
                servers["jwt"] = AppServer({**env, **JWT_ENV}, log.with_name(f"{log.stem}-jwt.log"))
                servers["jwt"].start()
                stack.callback(stop_quietly, servers["jwt"].stop)
        small, large, jwt_server = servers["small"], servers["large"], servers["jwt"]
        token = http(f"{small.url}/api/v1/dj-rest-auth/login/", body=LOGIN)["key"]
        big_token = http(f"{large.url}/api/v1/dj-rest-auth/login/", body=LOGIN)["key"]
        access = http(f"{jwt_server.url}/api/v1/dj-rest-auth/login/", body=LOGIN)["access"]
        detail = f"/api/v1/{http(f'{small.url}/api/v1/', token)['results'][0]['id']}/"
        deeper = follow(large.url, "/api/v1/", big_token, 6)[-1]
        big_detail = f"/api/v1/{http(f'{large.url}/api/v1/', big_token)['results'][0]['id']}/"
        print("  memory (the server with 100,000 posts)", flush=True)
        reads = ["/bench/ceiling/", "/api/v1/", deeper, big_detail]
        measure_memory(backend, large, big_token, reads)
        in_turn = {
            "ceiling": (small, "/bench/ceiling/", None),
            "list": (small, "/api/v1/", token),
            "bearer_list": (jwt_server, "/api/v1/", access),
            "deeper": (large, deeper, big_token),
            "detail": (small, detail, token),
            "small_page": (small, "/api/v1/?page_size=10", token),
            "large_page": (large, "/api/v1/?page_size=10", big_token),
        }
        for number in range(rounds):
            print(f"  round {number + 1} of {rounds}", flush=True)
            for key, (server, path, key_token) in in_turn.items():
                backend.runs.setdefault(key, []).append(wrk(server.url + path, seconds, key_token))
        post = {"title": "Benchmark", "body": "A post written by wrk."}
        backend.runs["create"] = [wrk(f"{small.url}/api/v1/", seconds, token, post)]
        login_url = f"{small.url}/api/v1/dj-rest-auth/login/"
        backend.runs["login"] = [wrk(login_url, 2 * seconds, None, LOGIN)]
    return backend


class SmtpSink:
    """An SMTP server accepting every message and keeping only a count."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.port, self.received = free_port(), 0
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received += 1
        return "250 OK"


def run_mail_handoff(
    name: str, database_url: str, redis_url: str = "", rounds: int = 5, seconds: int = 3
) -> Handoff:
    """Password-reset requests on the thread and the task servers, in turn, `rounds` times."""
    print(f"== mail hand-off, {name}", flush=True)
    handoff = Handoff(name)
    sink = SmtpSink()
    env = {"PATH": os.environ["PATH"], "HOME": tempfile.gettempdir(), **SERVER_ENV}
    env |= {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "BENCH_CACHE_PREFIX": "mail"}
    # Real SMTP for both, as in production: the thread sends from the web process, the task
    # worker from its own.
    env["EMAIL_URL"] = f"smtp://127.0.0.1:{sink.port}"
    env["RATE_LIMITS"] = f"{SERVER_ENV['RATE_LIMITS']},{RESET_LIMITS}"
    manage(env, "migrate", "--noinput")
    manage(env, "demo_data", "--posts=1", f"--username={USER}", f"--password={PASSWORD}")
    servers = {}
    with ExitStack() as stack:
        sink.controller.start()
        stack.callback(stop_quietly, sink.controller.stop)
        for key, backend in HANDOFFS.items():
            log = LOGS / f"mail-{name.split()[0].lower()}-{key}.log"
            log.unlink(missing_ok=True)
            servers[key] = AppServer({**env, "BENCH_EMAIL_BACKEND": backend}, log)
            servers[key].start()
            stack.callback(stop_quietly, servers[key].stop)
        worker_log = LOGS / f"mail-{name.split()[0].lower()}-worker.log"
        worker_log.unlink(missing_ok=True)
        worker = TaskWorker(env, worker_log)  # delivers the task server's mail as it comes
        worker.start()
        stack.callback(stop_quietly, worker.stop)
        reset = {"email": f"{USER}@example.com"}
        for number in range(rounds):
            print(f"  round {number + 1} of {rounds}", flush=True)
            for key, server in servers.items():
                url = f"{server.url}/api/v1/dj-rest-auth/password/reset/"
                handoff.runs.setdefault(key, []).append(wrk(url, seconds, None, reset))
    print(f"  {sink.received:,} mails received", flush=True)
    return handoff


def mail_report(handoffs: list[Handoff], rounds: int, seconds: int, load: str) -> str:
    lines = [
        MAIL_START,
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; password-reset requests (one mail each), "
        f"`wrk -t2 -c8 -d{seconds}s`, the two servers in turn {rounds} times: medians; "
        f"load average before / after: {load}.",
        "",
        row("Database", "Thread hand-off: req/s, p50 / p99 ms", "Task in the transaction", "Ratio"),
        "|---|---:|---:|---|",
    ]
    for h in handoffs:
        cells = [
            f"{h.median(k):,.0f}, {h.median(k, 'p50_ms'):.1f} / {h.median(k, 'p99_ms'):.1f}"
            for k in HANDOFFS
        ]
        verdict = "✅" if h.ratio() >= HANDOFF_GOAL else "❌"
        lines.append(row(h.name, *cells, f"{h.ratio():.2f} x (goal ≥ {HANDOFF_GOAL}) {verdict}"))
    return "\n".join([*lines, MAIL_END])


def write_section(start: str, end: str, section: str) -> None:
    head, _, rest = DOC.read_text().partition(start)
    DOC.write_text(head + section + rest.partition(end)[2])


@contextmanager
def postgres_and_redis() -> Iterator[tuple[dict[str, str], str] | None]:
    """Our databases on the machine's PostgreSQL, with its versions and Redis's; None if absent.

    The databases are created for the run and dropped after it; Redis database 14 is flushed.
    """
    import psycopg
    import redis

    def reset(create: bool) -> str:
        info = cast(dict[str, Any], redis.Redis.from_url(REDIS_URL, socket_timeout=3).info())
        redis.Redis.from_url(REDIS_URL).flushdb()
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
            for database in DATABASES.values():
                conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
                if create:
                    conn.execute(f"CREATE DATABASE {database}")
            pg = conn.execute("SHOW server_version").fetchone()
        return f"PostgreSQL {pg[0] if pg else '?'}, Redis {info['redis_version']}"

    try:
        versions = reset(create=True)
    except Exception as error:
        print(f"== PostgreSQL + Redis skipped: {error}", flush=True)
        yield None
        return
    try:
        base = PG_ADMIN_URL.rsplit("/", 1)[0]
        yield {size: f"{base}/{name}" for size, name in DATABASES.items()}, versions
    finally:
        reset(create=False)


# Issue 15's ratio goals: on PostgreSQL + Redis absolute; on SQLite, the figures of the run before
# the hand-made SQL layer was removed (docs/benchmarks.md, "Before"), "no worse than today".
RATIO_GOALS = {
    "SQLite": {"list": 0.52, "deeper": 0.30, "detail": 0.60},
    "PostgreSQL + Redis": {"list": 0.40, "deeper": 0.40, "detail": 0.45},
}


def goals(b: Backend) -> list[tuple[str, str, bool]]:
    """Each goal: its name, its figure on `b`, whether it is met."""
    wanted = RATIO_GOALS[b.name]
    ratios = [
        (f"{label} x ceiling ≥ goal", b.ratio(key), wanted[key])
        for key, label in (
            ("list", "List, first page"),
            ("deeper", "List, 6th page"),
            ("detail", "Post detail"),
        )
    ]
    size = b.median("large_page") / b.median("small_page")
    login, growth = b.median("login"), b.growth()
    return [
        *[
            (name, f"{ratio:.2f} x (goal {goal:.2f})", ratio >= goal)
            for name, ratio, goal in ratios
        ],
        ("First page of 10 at 100,000 posts ≥ 0.9 x at 10 posts", f"{size:.2f} x", size >= 0.9),
        ("Login ≥ 40 req/s", f"{login:.0f} req/s", login >= 40),
        ("A worker's PSS within 5 MB of its warm-up figure", f"{growth:+.1f} MB", growth <= 5),
    ]


def row(*cells: str) -> str:
    return "| " + " | ".join(cells) + " |"


def report(backends: list[Backend], rounds: int, seconds: int, load: str, versions: str) -> str:
    cpu = next(x for x in Path("/proc/cpuinfo").read_text().splitlines() if "model name" in x)
    modules = ", ".join(f"{m} {version(m)}" for m in ("django", "djangorestframework", "gunicorn"))
    names = [b.name for b in backends]
    lines = [
        START,
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; `wrk -t2 -c8 -d{seconds}s` runs, the first "
        f"seven scenarios in turn {rounds} times: medians (± half their range).",
        "",
        f"- **Machine**: {len(os.sched_getaffinity(0))} CPUs ({cpu.split(':')[1].strip()}); "
        f"load average before / after: {load}.",
        f"- **Versions**: Python {platform.python_version()}, {modules}; {versions}.",
        "",
        "![Ratio to the ceiling per scenario](benchmarks.png)",
        "",
        row("Scenario", *[f"{n}: req/s (x ceiling) | p50 / p99 ms" for n in names]),
        "|---|" + "---:|---:|" * len(backends),
    ]
    for key, label in SCENARIOS.items():
        cells = [label]
        for b in backends:
            rates, errors = [r.rps for r in b.runs[key]], sum(r.errors for r in b.runs[key])
            spread = (
                f" ±{(max(rates) - min(rates)) / 2 / b.median(key):.0%}" if len(rates) > 1 else ""
            )
            cells.append(f"{b.median(key):,.0f}{spread} ({b.ratio(key):.2f} x)")
            cells[-1] += f" ERRORS {errors}" if errors else ""
            cells.append(f"{b.median(key, 'p50_ms'):.1f} / {b.median(key, 'p99_ms'):.1f}")
        lines.append(row(*cells))
    lines += ["", row("A worker's PSS / RSS, MB", *names), "|---|" + "---:|" * len(backends)]
    for i, moment in enumerate(MOMENTS):
        lines.append(
            row(moment, *[f"{b.memory[i][0]:.1f} / {b.memory[i][1]:.1f}" for b in backends])
        )
    lines += ["", row("Goal", *names), "|---|" + "---|" * len(backends)]
    verdicts = [goals(b) for b in backends]
    for i, (goal, _, _) in enumerate(verdicts[0]):
        lines.append(row(goal, *[f"{v[i][1]} {'✅' if v[i][2] else '❌'}" for v in verdicts]))
    lines += [
        f"\n{b.name}: a worker was replaced during the memory test." for b in backends if b.replaced
    ]
    return "\n".join([*lines, END])


def write_chart(backends: list[Backend]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [key for key in SCENARIOS if key not in ("ceiling", "login")]
    figure, ax = plt.subplots(figsize=(8, 4))
    height = 0.8 / len(backends)
    for i, b in enumerate(backends):
        rows = [k + i * height for k in range(len(keys))]
        bars = ax.barh(rows, [b.ratio(k) for k in keys], height, label=b.name)
        ax.bar_label(bars, fmt="%.2f", fontsize=8, padding=2)
    ax.set_yticks([k + 0.4 - height / 2 for k in range(len(keys))], [SCENARIOS[k] for k in keys])
    ax.invert_yaxis()
    ax.set_xlabel("requests per second, x the ceiling of the same run")
    ax.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(CHART, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=3, help="length of one wrk run")
    parser.add_argument("--rounds", type=int, default=5, help="turns of the compared scenarios")
    parser.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL + Redis")
    parser.add_argument("--mail-only", action="store_true", help="only the mail hand-off scenario")
    args = parser.parse_args()
    # As `make serve` does: bytecode on disk, even where PYTHONDONTWRITEBYTECODE is set.
    subprocess.run([sys.executable, "-m", "compileall", "-q", "blogapi", "bench"], check=True)
    LOGS.mkdir(exist_ok=True)
    load, versions = f"{os.getloadavg()[0]:.2f}", "SQLite only"
    backends, handoffs = [], []
    with tempfile.TemporaryDirectory(prefix="blogapi-bench-") as tmp:
        if not args.mail_only:
            urls = {size: f"sqlite:///{tmp}/{size}.sqlite3" for size in DATABASES}
            backends.append(run_backend("SQLite", urls, rounds=args.rounds, seconds=args.seconds))
        mail_url = f"sqlite:///{tmp}/mail.sqlite3"
        handoffs.append(run_mail_handoff("SQLite", mail_url, "", args.rounds, args.seconds))
    if not args.sqlite_only:
        with postgres_and_redis() as found:
            if found is not None:
                urls, versions = found
                if not args.mail_only:
                    backends.append(
                        run_backend(
                            "PostgreSQL + Redis", urls, REDIS_URL, args.rounds, args.seconds
                        )
                    )
                handoffs.append(
                    run_mail_handoff(
                        "PostgreSQL + Redis", urls["small"], REDIS_URL, args.rounds, args.seconds
                    )
                )
    load += f" / {os.getloadavg()[0]:.2f}"
    if backends:
        write_section(START, END, report(backends, args.rounds, args.seconds, load, versions))
        write_chart(backends)
    write_section(MAIL_START, MAIL_END, mail_report(handoffs, args.rounds, args.seconds, load))
    print(f"Wrote {DOC.relative_to(REPO)}; server logs in {LOGS}.")


if __name__ == "__main__":
    main()
