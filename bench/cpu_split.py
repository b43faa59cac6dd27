"""Where a request's CPU goes: gunicorn's workers, PostgreSQL, Redis, per request served.

`python bench/cpu_split.py [--rounds N]` serves the API as `make bench` does on a fresh
PostgreSQL database (`blogapi_bench`) and Redis database 14, runs wrk against the ceiling and
the token-authenticated list (10 posts) alternately, and divides the CPU time each group of
processes used (/proc/<pid>/stat) by the requests served. Run it with
GUNICORN_CMD_ARGS="--max-requests 0": a recycled worker takes its counters with it. Not part of
`make test`.
"""

import argparse
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run as bench  # bench/run.py, beside this file

DURATION = 8
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(master: int) -> dict[str, float]:
    """CPU seconds used so far by the workers (the master's children), PostgreSQL and Redis."""
    used = {"workers": 0.0, "postgres": 0.0, "redis": 0.0}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name, fields = text[text.index("(") + 1 : text.rindex(")")], text.rsplit(")", 1)[1].split()
        if int(fields[1]) == master:
            group = "workers"
        elif name.startswith(("postgres", "postmaster")):
            group = "postgres"
        elif name.startswith("redis"):
            group = "redis"
        else:
            continue
        used[group] += (int(fields[11]) + int(fields[12])) / TICKS
    return used


def served(server: bench.Server, path: str, token: str | None) -> tuple[float, dict[str, float]]:
    """One wrk run: requests per second, and each group's CPU microseconds per request."""
    command = ["wrk", "-t2", "-c8", f"-d{DURATION}s", server.url + path]
    if token:
        command += ["-H", f"Authorization: Token {token}"]
    before = cpu_seconds(server.process.pid)
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout  # noqa: S603
    after = cpu_seconds(server.process.pid)
    requests = int(next(x for x in output.splitlines() if "requests in" in x).split()[0])
    return requests / DURATION, {k: (after[k] - before[k]) / requests * 1e6 for k in after}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=2, help="ceiling + list pairs")
    args = parser.parse_args()
    pg = bench.postgres_env()
    if pg is None:
        raise SystemExit("needs PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379")
    env = {**os.environ, **bench.SERVER_ENV, **pg}
    env.pop("DJANGO_DEBUG", None)
    try:
        bench.manage(env, "migrate", "--noinput", "-v0")
        bench.manage(
            env,
            "demo_data",
            "--posts",
            "10",
            "--username",
            bench.USER,
            "--password",
            bench.PASSWORD,
        )
        log = Path(os.environ.get("TMPDIR", "/tmp")) / "blogapi-cpu-split.log"  # noqa: S108
        with bench.Server(env, log) as server:
            login = {"username": bench.USER, "password": bench.PASSWORD}
            token = bench.http(f"{server.url}/api/v1/dj-rest-auth/login/", body=login)["key"]
            for _ in range(args.rounds):
                for label, path, key in (
                    ("Ceiling", "/bench/ceiling/", None),
                    ("List, first page", "/api/v1/", token),
                ):
                    rate, micros = served(server, path, key)
                    split = ", ".join(f"{group} {us:.0f} us" for group, us in micros.items())
                    print(f"{label:<18} {rate:7.0f} req/s  CPU per request: {split}", flush=True)
    finally:
        bench.postgres_drop()


if __name__ == "__main__":
    main()
