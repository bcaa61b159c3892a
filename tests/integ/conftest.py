"""pytest fixtures that start a real ternd on a free loopback port.

Each test gets its own ternd process, configuration, Maildir root and
spool, all under pytest's tmp_path. The binary comes from $TERND (the
Makefile points it at the ASan/UBSan build); any sanitizer report in its
log fails the test.
"""
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TERND = os.environ.get("TERND", str(ROOT / "build" / "ternd"))
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                     "runtime error:", "SUMMARY: UndefinedBehaviorSanitizer")

BASE_CONFIG = """\
hostname = mx.test.example
listen = 127.0.0.1:{port}
domains = example.test, localhost
mailboxes = alice, bob, postmaster
aliases =
    abuse: postmaster
    team@example.test: alice, bob
maildir_root = {root}/mail
spool_dir = {root}/spool
max_message_size = 1M
max_recipients = 100
command_timeout = 30s
data_timeout = 30s
relay_networks =
"""


def free_port(host="127.0.0.1"):
    """A TCP port on host that was free a moment ago."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def shared_free_port(hosts):
    """A TCP port free on every one of hosts (MX hosts share relay_port)."""
    for _ in range(50):
        port = free_port(hosts[0])
        ok = True
        for h in hosts[1:]:
            fam = socket.AF_INET6 if ":" in h else socket.AF_INET
            with socket.socket(fam) as s:
                try:
                    s.bind((h, port))
                except OSError:
                    ok = False
        if ok:
            return port
    raise RuntimeError("no shared free port")


class Ternd:
    """A running ternd; .port, .root (tmp dir), .maildir(user, domain)."""

    def __init__(self, tmp_path, extra="", port=None, config=None):
        self.root = tmp_path
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.conf = tmp_path / "tern.conf"
        text = config if config is not None else BASE_CONFIG + extra
        self.conf.write_text(text.format(port=self.port, root=tmp_path))
        self.log = tmp_path / "ternd.log"
        self.proc = None

    def start(self, *args, wait=True):
        self.logf = open(self.log, "ab")
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        self.proc = subprocess.Popen([TERND, "-c", str(self.conf), *args],
                                     stdout=self.logf, stderr=self.logf,
                                     env=env)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("ternd exited: " + self.log_text())
            try:
                with socket.create_connection((self.host, self.port), 0.2) as s:
                    s.settimeout(5)
                    s.recv(512)
                    s.sendall(b"QUIT\r\n")
                    s.recv(512)
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("ternd did not start: " + self.log_text())

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.logf.close()
        return rc

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        self.logf.close()

    def log_text(self):
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def maildir(self, user, domain="example.test"):
        return self.root / "mail" / domain / user

    def messages(self, user, domain="example.test"):
        """Contents (bytes) of every delivered message, oldest first."""
        new = self.maildir(user, domain) / "new"
        if not new.is_dir():
            return []
        files = sorted(new.iterdir(), key=lambda p: p.name)
        return [f.read_bytes() for f in files]

    def sanitizer_report(self):
        text = self.log_text()
        return [line for line in text.splitlines()
                if any(m in line for m in SANITIZER_MARKERS)]


@pytest.fixture
def ternd_factory(tmp_path):
    """Make (and later stop) ternd instances with extra config text."""
    started = []

    def make(extra="", start=True, args=(), **kw):
        t = Ternd(tmp_path, extra, **kw)
        if start:
            t.start(*args)
        started.append(t)
        return t

    yield make
    for t in started:
        t.stop()
        report = t.sanitizer_report()
        assert not report, "sanitizer report:\n" + t.log_text()


@pytest.fixture
def ternd(ternd_factory):
    """A ternd with the base test configuration, running."""
    return ternd_factory()


def body_of(stored: bytes) -> bytes:
    """The message as the client sent it: strip our two trace headers."""
    assert stored.startswith(b"Return-Path: <"), stored[:80]
    lines = stored.split(b"\r\n")
    i = 1
    assert lines[i].startswith(b"Received: "), lines[i]
    i += 1
    while lines[i].startswith(b"\t"):
        i += 1
    return b"\r\n".join(lines[i:])
