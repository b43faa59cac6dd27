"""Mail survives a killed web process: gunicorn SIGKILLed after its commit, the worker delivers.

Real processes (gunicorn, `manage.py worker`, PostgreSQL, Redis) and a real SMTP peer that first
refuses or hangs, then accepts: each mail arrives exactly once. Two workers share one queue
without sending a mail twice.
"""

import os
import re
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from blogapi.core.tests.processes import (
    AppServer,
    Services,
    TaskWorker,
    free_port,
    manage,
    registration,
    require_tools,
    services,
    stop_quietly,
    unique_name,
    wait_for,
)
from blogapi.core.tests.test_mail_delivery import CONFIRM_LINK, RESET_LINK, Inbox, SmtpPeer
from conftest import PASSWORD

pytestmark = pytest.mark.system
_tools = require_tools()
FIRST_RETRY = 1  # MAIL_RETRY_FIRST_DELAY here, seconds


@dataclass
class Site:
    running: Services
    smtp: SmtpPeer
    env: dict[str, str]
    root: Path


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """PostgreSQL and Redis, migrated; mail to a port this module controls; no worker yet."""
    root = tmp_path_factory.mktemp("mail-system")
    with services(os.environ.get("HOME", str(root)), worker=False) as running:
        port = free_port()
        env = {**running.env, "EMAIL_URL": f"smtp://127.0.0.1:{port}"}
        manage(env, "migrate", "--noinput")
        smtp = SmtpPeer(port)
        try:
            yield Site(running, smtp, env, root)
        finally:
            smtp.stop()


def kill_hard(server: AppServer) -> None:
    """SIGKILL the master and its workers at once: no exit handler, no graceful anything."""
    assert server.process is not None
    for pid in [server.process.pid, *server.worker_pids()]:
        os.kill(pid, signal.SIGKILL)
    server.process.wait(timeout=10)
    server.process = None


def worker_log_says(worker: TaskWorker, text: str) -> bool:
    return text.encode() in worker.log.read_bytes()


@pytest.mark.parametrize("fault", ["refusing", "hanging"])
def test_mail_committed_before_the_web_process_is_killed_arrives_once(
    site: Site, fault: str
) -> None:
    name = unique_name(f"killed{fault}")
    address = f"{name}@example.com"
    if fault == "hanging":
        site.smtp.hang()  # else nothing listens: every connection is refused
    server = AppServer(site.env, site.root / f"{name}-gunicorn.log", workers=1)
    server.start()
    try:
        registration(server.url, name, PASSWORD)
        reset = requests.post(
            f"{server.url}/api/v1/dj-rest-auth/password/reset/", json={"email": address}, timeout=30
        )
        assert reset.status_code == 200
    finally:
        kill_hard(server)  # between commit and delivery: no web process is left to send

    worker = TaskWorker(site.env, site.root / f"{name}-worker.log")
    worker.start()
    try:
        wait_for(lambda: worker_log_says(worker, "mail delivery attempt 1 failed"), 20, "a failure")
        inbox = site.smtp.serve(Inbox())
        mails = inbox.wait_for(2, timeout=30)
        time.sleep(FIRST_RETRY * 3)  # any second copy would be a retry: give it time to come

        assert [to for to, _ in inbox.mails] == [[address], [address]]
        bodies = [body for _, body in mails]
        assert len([b for b in bodies if re.search(CONFIRM_LINK, b)]) == 1
        assert len([b for b in bodies if re.search(RESET_LINK, b)]) == 1
    finally:
        stop_quietly(worker.stop)
        site.smtp.stop()


def test_two_workers_never_send_one_mail_twice(site: Site) -> None:
    inbox = site.smtp.serve(Inbox())
    server = AppServer(site.env, site.root / "two-workers-gunicorn.log")
    workers = [TaskWorker(site.env, site.root / f"worker-{n}.log") for n in range(2)]
    names = [unique_name("pair") for _ in range(16)]
    try:
        server.start()
        for worker in workers:
            worker.start()
        for name in names:  # both workers poll the queue while it fills
            registration(server.url, name, PASSWORD)
        inbox.wait_for(len(names), timeout=30)
        time.sleep(FIRST_RETRY * 3)

        assert sorted(to[0] for to, _ in inbox.mails) == sorted(f"{n}@example.com" for n in names)
        sent_by = [worker.log.read_bytes().count(b"mail_deliver") for worker in workers]
        assert all(sent_by), sent_by  # both took part
    finally:
        stop_quietly(server.stop)
        for worker in workers:
            stop_quietly(worker.stop)
        site.smtp.stop()
