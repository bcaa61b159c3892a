"""End-to-end tests of `tern queue` against a spool written here.

The spool is made by writing files in the format documented at the top
of src/queue/queue.c (msg/<qid> and env/<qid>), so these tests also pin
that format down. A stand-in for ternd (a small Python process that
records SIGUSR1) checks that changes are signalled through
spool_dir/ternd.pid.
"""
import fcntl
import json
import os
import re
import signal
import struct
import subprocess
import sys
import termios
import time

import pytest

from tern_helpers_cli import run_tern, tern_bin

NOW = int(time.time())


SIMPLE = {0x5C: b"\\\\", 0x0A: b"\\n", 0x0D: b"\\r", 0x09: b"\\t"}


def esc(s):
    """Escape a value as the envelope format wants it."""
    out = bytearray()
    for b in s.encode("utf-8"):
        if b in SIMPLE:
            out += SIMPLE[b]
        elif b < 0x20 or b == 0x7F:
            out += b"\\x%02x" % b
        else:
            out.append(b)
    return out.decode("utf-8")


def unesc(s):
    """Undo esc()."""
    back = {ord("\\"): b"\\", ord("n"): b"\n", ord("r"): b"\r",
            ord("t"): b"\t"}
    raw = s.encode("utf-8")
    out = bytearray()
    i = 0
    while i < len(raw):
        if raw[i] != 0x5C:
            out.append(raw[i])
            i += 1
        elif raw[i + 1] == ord("x"):
            out.append(int(raw[i + 2:i + 4], 16))
            i += 4
        else:
            out += back[raw[i + 1]]
            i += 2
    return out.decode("utf-8")


def read_env(path):
    """Parse an envelope file: (message fields, list of recipients)."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    assert lines[0] == "tern-queue 1"
    assert lines[-2] == "end" and lines[-1] == ""
    msg, rcpts, cur = {}, [], None
    for line in lines[1:-2]:
        key, _, val = line.partition(" ")
        val = unesc(val)
        if key == "rcpt":
            cur = {"rcpt": val}
            rcpts.append(cur)
        elif cur is not None:
            cur[key] = val
        else:
            msg[key] = val
    return msg, rcpts


class Spool:
    """A spool directory filled by hand."""

    def __init__(self, root):
        self.dir = root / "spool"
        (self.dir / "msg").mkdir(parents=True)
        (self.dir / "env").mkdir()

    def add(self, qid, sender, rcpts, arrival=None, flags="",
            warned=0, serial=1, body=None):
        if arrival is None:
            arrival = NOW - 7500
        body = body or (
            "Return-Path: <%s>\r\nReceived: from c ([192.0.2.9])\r\n"
            "\tby mail.example.test (tern) with ESMTP id %s;\r\n"
            "\tSat, 29 Nov 2025 07:13:36 +0000\r\nSubject: hi\r\n\r\n"
            "Hello.\r\n" % (sender, qid))
        (self.dir / "msg" / qid).write_bytes(body.encode())
        lines = ["tern-queue 1", "serial %d" % serial, "qid " + qid,
                 "arrival %d" % arrival, "sender " + esc(sender),
                 "flags " + flags, "size %d" % len(body.encode()),
                 "warned %d" % warned]
        for r in rcpts:
            lines.append("rcpt " + esc(r["addr"]))
            for key in ("state", "attempts", "next", "last", "code", "esc",
                        "synthetic", "expired", "host", "text"):
                if key in r:
                    lines.append("%s %s" % (key, esc(str(r[key]))))
        lines.append("end")
        (self.dir / "env" / qid).write_text("\n".join(lines) + "\n",
                                             encoding="utf-8")

    def env(self, qid):
        return read_env(self.dir / "env" / qid)

    def has(self, sub, name):
        return (self.dir / sub / name).exists()


def queue(spool, *args, **kw):
    return run_tern(["queue", "--spool", str(spool.dir), *args], **kw)


@pytest.fixture(autouse=True)
def fresh_now():
    """Times in a test are relative to its own start, not the module's
    import: a slow machine must not shift "2h 5m ago" to "2h 6m ago"."""
    global NOW
    NOW = int(time.time())


@pytest.fixture
def spool(tmp_path):
    return Spool(tmp_path)


@pytest.fixture
def filled(spool):
    """Two messages: one in progress with every state, one bounce."""
    spool.add("6B0BD0A0BA3DF000", "alice@example.test", [
        {"addr": "bob@far.example", "state": "pending", "attempts": 3,
         "next": NOW + 720, "last": NOW - 480, "code": 451, "esc": "4.7.1",
         "text": "Greylisted, please try again later",
         "host": "mx.far.example[192.0.2.7]:25"},
        {"addr": "carol@away.example", "state": "delivered", "attempts": 1,
         "last": NOW - 7400, "code": 250, "esc": "2.0.0",
         "text": "Ok: queued as 4XyZ", "host": "mx.away.example[192.0.2.8]:25"},
        {"addr": "dave@away.example", "state": "failed", "attempts": 1,
         "last": NOW - 7400, "code": 550, "esc": "5.1.1",
         "text": "User unknown\nin virtual table",
         "host": "mx.away.example[192.0.2.8]:25"},
        {"addr": "erin@new.example", "state": "pending", "attempts": 0,
         "next": NOW - 5},
    ], flags="8bitmime")
    spool.add("6B0BD0A0BA3DF801", "", [
        {"addr": "j\u00f6rg@far.example", "state": "pending",
         "attempts": 1, "next": NOW + 3000, "last": NOW - 600,
         "code": 421, "esc": "4.3.2", "synthetic": 0,
         "text": "Service shutting down \u2013 bitte sp\u00e4ter"},
    ], arrival=NOW - 600, flags="smtputf8 8bitmime")
    return spool


class FakeDaemon:
    """Stands in for ternd: records each SIGUSR1 it gets."""

    CODE = ("import signal, sys, time\n"
            "def h(s, f):\n"
            "    open(sys.argv[1], 'a').write('USR1\\n')\n"
            "signal.signal(signal.SIGUSR1, h)\n"
            "print('ready', flush=True)\n"
            "while True:\n"
            "    time.sleep(0.05)\n")

    def __init__(self, spool):
        self.log = spool.dir.parent / "signals.txt"
        self.proc = subprocess.Popen([sys.executable, "-c", self.CODE,
                                      str(self.log)], stdout=subprocess.PIPE)
        assert self.proc.stdout.readline().strip() == b"ready"
        (spool.dir / "ternd.pid").write_text("%d\n" % self.proc.pid)

    def signals(self, want, timeout=5):
        deadline = time.monotonic() + timeout
        n = 0
        while time.monotonic() < deadline:
            n = self.log.read_text().count("USR1") if self.log.exists() \
                else 0
            if n >= want:
                break
            time.sleep(0.02)
        return n

    def stop(self):
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def daemon(spool):
    d = FakeDaemon(spool)
    yield d
    d.stop()


# ---------------------------------------------------------------- list


def test_empty_queue(spool):
    r = queue(spool)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"The queue is empty.\n"
    r = queue(spool, "--json")
    assert r.returncode == 0
    doc = json.loads(r.stdout)
    assert doc["messages"] == []
    assert doc["spool"] == str(spool.dir)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", doc["now"])


def test_list_text(filled):
    r = queue(filled)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    lines = out.split("\n")
    # the message line: id, size, age, sender
    assert re.match(r"6B0BD0A0BA3DF000 +\S+ +2h 5m ago +from "
                    r"<alice@example\.test>$", lines[0]), lines[0]
    # every recipient with its state in words and what happened
    assert re.search(r"^  deferred +<bob@far\.example>  3 attempts, next in "
                     r"1[12]m", out, re.M), out
    assert re.search(r"^ {13}451 4\.7\.1 Greylisted, please try again later\n"
                     r" {13}last attempt 8m( \d+s)? ago, "
                     r"mx\.far\.example\[192\.0\.2\.7\]:25$", out, re.M), out
    assert re.search(r"^  delivered +<carol@away\.example>  2h 3m( \d+s)? "
                     r"ago$", out, re.M), out
    assert "Ok: queued as 4XyZ" not in out
    assert re.search(r"^  bouncing +<dave@away\.example>  \(bounce not sent "
                     r"yet\)$", out, re.M), out
    # a multi-line reply is shown on one line
    assert "550 5.1.1 User unknown in virtual table" in out
    assert re.search(r"^  queued +<erin@new\.example>  0 attempts, next now$",
                     out, re.M), out
    # the bounce: null sender said in words, UTF-8 kept
    assert re.search(r"^6B0BD0A0BA3DF801 .* from <> \(a bounce or report\)$",
                     out, re.M), out
    assert "<j\u00f6rg@far.example>" in out
    assert "bitte sp\u00e4ter" in out
    assert out.endswith("2 messages; 3 recipients waiting, 1 bounce not sent "
                        "yet.\n")


def test_list_json(filled):
    r = queue(filled, "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert [m["id"] for m in doc["messages"]] == ["6B0BD0A0BA3DF000",
                                                 "6B0BD0A0BA3DF801"]
    m = doc["messages"][0]
    assert m["sender"] == "alice@example.test"
    assert m["flags"] == ["8bitmime"]
    assert m["delay_warning_sent"] is False
    assert 7500 <= m["age_seconds"] < 7600
    assert m["size"] == (filled.dir / "msg" / m["id"]).stat().st_size
    assert time.strftime("%Y-%m-%dT%H:%M:%SZ",
                         time.gmtime(NOW - 7500)) == m["arrival"]
    bob, carol, dave, erin = m["recipients"]
    assert bob["address"] == "bob@far.example"
    assert bob["state"] == "pending"
    assert bob["attempts"] == 3
    assert bob["next_attempt"] == time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                time.gmtime(NOW + 720))
    assert bob["last_attempt"] == time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                time.gmtime(NOW - 480))
    assert bob["last_reply"] == {
        "code": 451, "esc": "4.7.1",
        "text": "Greylisted, please try again later", "synthetic": False,
        "remote": "mx.far.example[192.0.2.7]:25"}
    assert carol["state"] == "delivered" and carol["next_attempt"] is None
    assert dave["state"] == "failed"
    assert dave["last_reply"]["text"] == "User unknown\nin virtual table"
    assert erin["last_reply"] is None and erin["last_attempt"] is None
    b = doc["messages"][1]
    assert b["sender"] == ""
    assert b["flags"] == ["8bitmime", "smtputf8"]
    assert b["recipients"][0]["address"] == "j\u00f6rg@far.example"


def test_list_selected_and_missing(filled):
    r = queue(filled, "6B0BD0A0BA3DF801")
    assert r.returncode == 0
    assert b"6B0BD0A0BA3DF801" in r.stdout
    assert b"6B0BD0A0BA3DF000" not in r.stdout
    r = queue(filled, "list", "6B0BD0A0BA3DF801", "NOSUCHID")
    assert r.returncode == 1
    assert b"NOSUCHID: not in the queue" in r.stderr


def test_list_skips_corrupt(filled):
    (filled.dir / "env" / "BROKEN1").write_text("tern-queue 1\nqid BROKEN1\n")
    r = queue(filled, "--json")
    assert r.returncode == 0
    assert b"BROKEN1: unreadable envelope" in r.stderr
    assert len(json.loads(r.stdout)["messages"]) == 2


def run_on_tty(args, cols):
    """Run tern with standard output on a terminal cols wide."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, cols, 0, 0))
    env = dict(os.environ)
    env.pop("NO_COLOR", None)
    p = subprocess.Popen([tern_bin(), *args], stdout=slave,
                         stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                         env=env)
    os.close(slave)
    data = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    os.close(master)
    assert p.wait(timeout=30) == 0, p.stderr.read()
    return data.decode("utf-8").replace("\r\n", "\n")


def test_fits_in_a_terminal(filled):
    filled.add("6B0BD0A0BA3DF999", "someone.with.a.long.name@example.test", [
        {"addr": "x" * 60 + "@far.example", "state": "pending",
         "attempts": 2, "next": NOW + 60, "last": NOW - 60, "code": 452,
         "esc": "4.2.2", "text": "Mailbox full " * 30,
         "host": "mx.far.example[192.0.2.7]:25"}])
    for cols in (80, 100):
        out = run_on_tty(["queue", "--spool", str(filled.dir)], cols)
        for line in out.split("\n"):
            assert len(line) <= cols, line
        assert "452 4.2.2 Mailbox full Mailbox full" in out
        assert "..." in out
        assert re.search(r"last attempt 1m( \d+s)? ago, "
                         r"mx\.far\.example\[192\.0\.2\.7\]:25", out), out
    # not a terminal: nothing is cut, for grep and scripts
    r = queue(filled)
    assert ("Mailbox full " * 29) in r.stdout.decode()


# ---------------------------------------------------------------- changes


def test_flush_one(filled, daemon):
    msg, _ = filled.env("6B0BD0A0BA3DF801")
    r = queue(filled, "flush", "6B0BD0A0BA3DF000")
    assert r.returncode == 0, r.stderr
    assert b"6B0BD0A0BA3DF000: 1 recipient to try now" in r.stdout
    assert b"is rescanning the queue" in r.stdout
    assert daemon.signals(1) == 1
    msg, rcpts = filled.env("6B0BD0A0BA3DF000")
    assert msg["serial"] == "2"
    bob = rcpts[0]
    assert int(bob["next"]) <= time.time()
    assert bob["attempts"] == "3" and bob["code"] == "451"
    # the other message was not touched
    msg, _ = filled.env("6B0BD0A0BA3DF801")
    assert msg["serial"] == "1"
    # no temporary files left behind
    assert sorted(os.listdir(filled.dir / "env")) == [
        "6B0BD0A0BA3DF000", "6B0BD0A0BA3DF801"]


def test_flush_all(filled, daemon):
    r = queue(filled, "flush")
    assert r.returncode == 0, r.stderr
    assert b"2 messages to try now." in r.stdout
    assert daemon.signals(1) == 1
    for qid in ("6B0BD0A0BA3DF000", "6B0BD0A0BA3DF801"):
        _, rcpts = filled.env(qid)
        for rc in rcpts:
            if rc["state"] == "pending":
                assert int(rc["next"]) <= time.time()


def test_flush_nothing_due_does_not_signal(spool, daemon):
    spool.add("Q1", "a@example.test", [
        {"addr": "b@far.example", "state": "pending", "next": NOW - 10}])
    r = queue(spool, "flush", "Q1")
    assert r.returncode == 0
    assert b"Q1: nothing waiting for a retry" in r.stdout
    assert daemon.signals(1, timeout=0.5) == 0


def test_delete(filled, daemon):
    r = queue(filled, "delete", "6B0BD0A0BA3DF000")
    assert r.returncode == 0, r.stderr
    assert b"6B0BD0A0BA3DF000: deleted" in r.stdout
    assert not filled.has("env", "6B0BD0A0BA3DF000")
    assert not filled.has("msg", "6B0BD0A0BA3DF000")
    assert filled.has("env", "6B0BD0A0BA3DF801")
    assert daemon.signals(1) == 1
    r = queue(filled, "delete", "6B0BD0A0BA3DF000")
    assert r.returncode == 1
    assert b"not in the queue" in r.stderr


def test_bounce(filled, daemon):
    r = queue(filled, "bounce", "6B0BD0A0BA3DF000")
    assert r.returncode == 0, r.stderr
    assert b"6B0BD0A0BA3DF000: 2 recipients will bounce" in r.stdout
    assert daemon.signals(1) == 1
    msg, (bob, carol, dave, erin) = filled.env("6B0BD0A0BA3DF000")
    assert msg["serial"] == "2"
    for rc in (bob, erin):
        assert rc["state"] == "failed"
        assert rc["esc"] == "5.0.0"
        assert rc["synthetic"] == "1"
        assert rc["text"].startswith(
            "deleted from the queue by the administrator")
    # what the last attempt said stays visible to the sender
    assert bob["text"] == ("deleted from the queue by the administrator; the "
                           "last attempt got: 451 4.7.1 Greylisted, please "
                           "try again later")
    assert carol["state"] == "delivered" and carol["code"] == "250"
    assert dave["state"] == "failed" and dave["code"] == "550"
    r = queue(filled, "--json", "6B0BD0A0BA3DF000")
    states = [x["state"] for x in
              json.loads(r.stdout)["messages"][0]["recipients"]]
    assert states == ["failed", "delivered", "failed", "failed"]


def test_daemon_not_running(filled):
    r = queue(filled, "flush")
    assert r.returncode == 0
    assert b"ternd is not running" in r.stdout
    # a stale pid file: the process is gone
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    (filled.dir / "ternd.pid").write_text("%d\n" % p.pid)
    r = queue(filled, "bounce", "6B0BD0A0BA3DF801")
    assert r.returncode == 0, r.stderr
    assert b"ternd is not running (stale" in r.stdout


def test_bad_pid_file(filled):
    (filled.dir / "ternd.pid").write_text("not a pid\n")
    r = queue(filled, "flush")
    assert r.returncode == 69
    assert b"not a process id" in r.stderr


# ---------------------------------------------------------------- usage


@pytest.mark.parametrize("args,msg", [
    (["delete"], b"delete needs at least one queue id"),
    (["bounce"], b"bounce needs at least one queue id"),
    (["../etc/passwd"], b"is not a queue id"),
    (["--frobnicate"], b"unknown option --frobnicate"),
    (["flush", "--json"], b"--json is for listing only"),
])
def test_usage_errors(spool, args, msg):
    r = queue(spool, *args)
    assert r.returncode == 64
    assert msg in r.stderr


def test_help():
    r = run_tern(["queue", "--help"])
    assert r.returncode == 0
    assert r.stdout.startswith(b"usage: tern queue")
    r = run_tern(["--help"])
    assert b"queue" in r.stdout


def test_spool_from_config(filled, tmp_path):
    conf = tmp_path / "tern.conf"
    conf.write_text("hostname = mail.example.test\ndomains = example.test\n"
                    "spool_dir = %s\n" % filled.dir)
    r = run_tern(["queue", "-c", str(conf), "--json"])
    assert r.returncode == 0, r.stderr
    assert len(json.loads(r.stdout)["messages"]) == 2
    conf.write_text("no_such_key = 1\n")
    r = run_tern(["queue", "-c", str(conf)])
    assert r.returncode == 78
    assert b"no_such_key" in r.stderr


def test_missing_spool(tmp_path):
    r = run_tern(["queue", "--spool", str(tmp_path / "nope")])
    assert r.returncode == 66
    assert b"No such file or directory" in r.stderr
