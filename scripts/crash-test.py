#!/usr/bin/python3
"""crash-test - kill -9 ternd under load, again and again, and prove that
no acknowledged message was lost, duplicated or corrupted.

    /usr/bin/python3 scripts/crash-test.py --ternd build/ternd \\
        [--kills 20] [--clients 8] [--seconds 40] [--seed N] \\
        [--workdir DIR] [--keep]

Many client threads send mail to one ternd without pause: one or more
messages per session, to one or more mailboxes (some through an alias, so
a message is hard-linked into several Maildirs), small and large, with
lines that need dot-stuffing. Meanwhile the main thread kills ternd with
SIGKILL at random moments, --kills times, and restarts it on the same
configuration (same port, same Maildir root). Each kill is aimed at one
kind of moment, in a shuffled mix:

  data    while some client is in the middle of sending message data
  commit  right after some client sent the final "." (the server is
          writing, fsyncing, linking)
  idle    while every client sits between transactions
  random  whenever the random delay ends

Clients treat any connection error as the server going away: they
reconnect (with a short pause while it is down) and go on with a new
message. Every attempt carries its own Message-ID and an X-Crash-Sum
header (SHA-256 of the body); the script records the SHA-256 of the exact
bytes it sent and what became of the attempt:

  acknowledged  the server answered 250 to the end of data
  in doubt      the final "." went out, but the connection died before
                the reply (the server may or may not have stored it:
                delivery is at least once, so either is fine, but never
                twice and never partially in one mailbox)
  incomplete    the connection died before the final "." went out: the
                server cannot have a complete message, so it must be absent
  refused       any other reply (not expected here: counted as a failure)

After every kill, before the restart, every file in every new/ and cur/
must be a complete message (trace headers + exactly the bytes some client
sent, matching the size in its Maildir name), and the names of the
tern-* leftovers in tmp/ are noted; a fake half-written leftover is
planted too. After the restart, before any check, all of them must be
gone (start-up cleaning). At the end the clients stop, ternd gets SIGTERM
(must exit 0, with no sanitizer report in its log), tmp/ must hold no
tern-* file, and every mailbox is checked against the record:

  - every acknowledged message is in each of its mailboxes exactly once,
    byte-exact, and in no other mailbox;
  - an in-doubt message is in each of its mailboxes at most once;
  - an incomplete or refused message is nowhere;
  - no file is unknown, truncated or altered.

The summary line is

    acknowledged N, stored N, lost 0, duplicated 0

followed by detail lines; the exit status is 0 only when everything holds
(1: a violation, 2: the test could not run).
"""
import argparse
import base64
import hashlib
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                     "runtime error:", "SUMMARY: UndefinedBehaviorSanitizer")

CONFIG = """\
hostname = mx.crash.test
listen = 127.0.0.1:{port}
domains = example.test, localhost
mailboxes = alice, bob, carol, postmaster
aliases = team@example.test: alice, bob
maildir_root = {root}/mail
spool_dir = {root}/spool
max_message_size = 2M
min_free_space = 0
command_timeout = 60s
data_timeout = 60s
max_connections_per_ip = 0
"""

# RCPT address -> the mailboxes (domain, user) it reaches
RECIPIENTS = {
    "alice@example.test": {("example.test", "alice")},
    "bob@example.test": {("example.test", "bob")},
    "carol@example.test": {("example.test", "carol")},
    "postmaster@localhost": {("localhost", "postmaster")},
    "alice@localhost": {("localhost", "alice")},
    "team@example.test": {("example.test", "alice"), ("example.test", "bob")},
}
MAILBOXES = sorted(set().union(*RECIPIENTS.values()))
PLANTED_PREFIX = "tern-CRASHTESTPLANTED"
IO_TIMEOUT = 30.0
CHUNK = 16384
KILL_MODES = ("data", "commit", "idle", "random")
MSGID_RE = re.compile(rb"^Message-ID: (<[^>\r\n]+>)\r$", re.M | re.I)
SUM_RE = re.compile(rb"^X-Crash-Sum: sha256=([0-9a-f]{64}) len=(\d+)\r$",
                    re.M)
SIZE_RE = re.compile(r",S=(\d+)(?:[,:]|$)")


class Fatal(Exception):
    """The test cannot go on (ternd does not start, setup fails)."""


class Dropped(Exception):
    """The server went away mid-session."""


class BadReply(Exception):
    """A reply this test does not expect from a healthy server."""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def strip_trace(stored):
    """(return_path, message): drop Return-Path: and Received: (with its
    continuation lines) that ternd put on top, as conftest.body_of does.
    None when the file does not start with them."""
    if not stored.startswith(b"Return-Path: <"):
        return None
    lines = stored.split(b"\r\n")
    if len(lines) < 3 or not lines[1].startswith(b"Received: "):
        return None
    i = 2
    while i < len(lines) and lines[i].startswith(b"\t"):
        i += 1
    if i >= len(lines):
        return None
    rp = lines[0][len(b"Return-Path: <"):]
    if not rp.endswith(b">"):
        return None
    return rp[:-1].decode("utf-8", "replace"), b"\r\n".join(lines[i:])


# ---- the record of what was sent ----

class Attempt:
    __slots__ = ("msgid", "sender", "rcpts", "boxes", "digest", "size",
                 "state", "reply")

    def __init__(self, msgid, sender, rcpts, digest, size):
        self.msgid = msgid
        self.sender = sender
        self.rcpts = rcpts
        self.boxes = frozenset().union(*(RECIPIENTS[r] for r in rcpts))
        self.digest = digest
        self.size = size
        self.state = "incomplete"
        self.reply = None


class Record:
    def __init__(self):
        self.lock = threading.Lock()
        self.attempts = {}   # msgid (bytes) -> Attempt

    def add(self, a):
        with self.lock:
            assert a.msgid not in self.attempts
            self.attempts[a.msgid] = a

    def get(self, msgid):
        with self.lock:
            return self.attempts.get(msgid)


def make_message(rng, msgid, sender, rcpts, big):
    """The message bytes exactly as the server must store them (CRLF)."""
    lines = []
    if big:
        n = rng.randint(64 * 1024, 384 * 1024)
        raw = rng.randbytes(n * 3 // 4)
        b64 = base64.b64encode(raw)
        lines = [b64[i:i + 76] for i in range(0, len(b64), 76)]
    else:
        for _ in range(rng.choice((1, 3, 10, 40, 150))):
            k = rng.randint(0, 120)
            lines.append(bytes(rng.choice(b"abcdefghij klmnopqrstuvwxyz"
                                          b"ABCDEFGHIJ0123456789.,;:-_!?")
                               for _ in range(k)))
    # lines that need dot-stuffing, and one that is a lone dot
    for _ in range(rng.randint(0, 3)):
        lines.insert(rng.randint(0, len(lines)),
                     rng.choice((b".", b"..", b".hidden line", b". x")))
    body = b"\r\n".join(lines) + b"\r\n"
    head = (f"From: <{sender}>\r\n"
            f"To: {', '.join('<%s>' % r for r in rcpts)}\r\n"
            f"Subject: crash test {msgid.decode()}\r\n"
            f"Message-ID: {msgid.decode()}\r\n"
            f"X-Crash-Sum: sha256={hashlib.sha256(body).hexdigest()} "
            f"len={len(body)}\r\n"
            "\r\n").encode()
    return head + body


def dot_stuff(msg):
    return re.sub(rb"(?m)^\.", b"..", msg)


# ---- the SMTP client ----

class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), IO_TIMEOUT)
        self.sock.settimeout(IO_TIMEOUT)
        self.buf = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        try:
            self.sock.sendall(data)
        except OSError as e:
            raise Dropped(str(e))

    def reply(self):
        """(code, enhanced code or None, raw text) of one whole reply."""
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                try:
                    chunk = self.sock.recv(65536)
                except socket.timeout:
                    raise BadReply("no reply within %ss" % IO_TIMEOUT)
                except OSError as e:
                    raise Dropped(str(e))
                if not chunk:
                    raise Dropped("connection closed")
                self.buf += chunk
            line, _, self.buf = self.buf.partition(b"\r\n")
            lines.append(line)
            if len(line) < 4 or line[3:4] != b"-":
                break
        last = lines[-1].decode("utf-8", "replace")
        try:
            code = int(last[:3])
        except ValueError:
            raise BadReply("malformed reply %r" % lines)
        parts = last[4:].split(" ", 1)
        esc = parts[0] if re.match(r"^[245]\.\d+\.\d+$", parts[0]) else None
        return code, esc, b"\r\n".join(lines).decode("utf-8", "replace")

    def expect(self, code, what):
        c, esc, text = self.reply()
        if c != code:
            raise BadReply(f"{what}: expected {code}, got {text!r}")
        return c, esc, text


class Shared:
    """State shared by the main thread and the clients."""

    def __init__(self, nclients, port, record, seed):
        self.port = port
        self.record = record
        self.stop = threading.Event()
        self.server_up = threading.Event()
        self.gate_open = threading.Event()
        self.gate_open.set()
        self.lock = threading.Lock()
        self.at_gate = 0
        self.state = ["connecting"] * nclients
        self.problems = []     # unexpected replies: these fail the run
        self.seed = seed


def gate(sh, cid):
    """Wait here while the main thread wants every client idle."""
    if sh.gate_open.is_set():
        return
    with sh.lock:
        sh.at_gate += 1
    sh.state[cid] = "gate"
    sh.gate_open.wait()
    with sh.lock:
        sh.at_gate -= 1


def client(sh, cid):
    rng = random.Random(sh.seed * 1000 + cid)
    seq = 0
    senders = ["sender%d@client.example" % cid, ""]
    while not sh.stop.is_set():
        gate(sh, cid)
        sh.state[cid] = "connecting"
        try:
            conn = Conn(sh.port)
        except OSError:
            time.sleep(rng.uniform(0.02, 0.08))
            continue
        cur = None
        try:
            sh.state[cid] = "idle"
            conn.expect(220, "greeting")
            conn.send(b"EHLO client%d.example\r\n" % cid)
            conn.expect(250, "EHLO")
            for _ in range(rng.randint(1, 6)):
                if sh.stop.is_set():
                    break
                gate(sh, cid)
                sh.state[cid] = "idle"
                seq += 1
                msgid = f"<c{cid}.m{seq}.s{sh.seed}@crash.test>".encode()
                sender = rng.choice(senders) if rng.random() < 0.1 \
                    else senders[0]
                rcpts = rng.sample(sorted(RECIPIENTS),
                                   rng.choice((1, 1, 1, 2, 3)))
                msg = make_message(rng, msgid, sender, rcpts,
                                   rng.random() < 0.06)
                cur = Attempt(msgid, sender, rcpts,
                              hashlib.sha256(msg).hexdigest(), len(msg))
                sh.record.add(cur)
                conn.send(b"MAIL FROM:<%s> SIZE=%d\r\n"
                          % (sender.encode(), len(msg)))
                conn.expect(250, "MAIL")
                for r in rcpts:
                    conn.send(b"RCPT TO:<%s>\r\n" % r.encode())
                    conn.expect(250, "RCPT")
                conn.send(b"DATA\r\n")
                conn.expect(354, "DATA")
                sh.state[cid] = "data"
                wire = dot_stuff(msg)
                for i in range(0, len(wire), CHUNK):
                    conn.send(wire[i:i + CHUNK])
                # from here on the server may have the whole message
                cur.state = "in doubt"
                sh.state[cid] = "commit"
                conn.send(b".\r\n")
                code, esc, text = conn.reply()
                sh.state[cid] = "idle"
                cur.reply = text
                if code == 250 and esc == "2.0.0":
                    cur.state = "acknowledged"
                else:
                    cur.state = "refused"
                    with sh.lock:
                        sh.problems.append(f"{msgid.decode()}: end of data "
                                           f"answered {text!r}")
                cur = None
            if rng.random() < 0.8:   # else just drop the connection
                conn.send(b"QUIT\r\n")
                conn.expect(221, "QUIT")
        except Dropped:
            time.sleep(rng.uniform(0.0, 0.03))
        except BadReply as e:
            if sh.server_up.is_set():
                with sh.lock:
                    sh.problems.append(f"client {cid}: {e}")
        finally:
            conn.close()
    sh.state[cid] = "done"


# ---- the server ----

class Server:
    def __init__(self, ternd, root, port):
        self.ternd = ternd
        self.root = root
        self.port = port
        self.conf = root / "tern.conf"
        self.conf.write_text(CONFIG.format(port=port, root=root))
        self.log = root / "ternd.log"
        self.proc = None
        self.starts = 0

    def start(self):
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        with open(self.log, "ab") as logf:
            logf.write(b"=== crash-test: start %d ===\n" % self.starts)
            logf.flush()
            self.proc = subprocess.Popen([self.ternd, "-c", str(self.conf)],
                                         stdout=logf, stderr=logf, env=env)
        self.starts += 1
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Fatal("ternd exited with %s at start:\n%s"
                            % (self.proc.returncode, self.log_tail()))
            try:
                with socket.create_connection(("127.0.0.1", self.port),
                                              0.5) as s:
                    s.settimeout(10)
                    if s.recv(512).startswith(b"220"):
                        s.sendall(b"QUIT\r\n")
                        s.recv(512)
                        return
            except OSError:
                pass
            time.sleep(0.02)
        raise Fatal("ternd did not start listening:\n" + self.log_tail())

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self, timeout=30):
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return "hung (killed after %ss)" % timeout

    def log_text(self):
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, n=40):
        return "\n".join(self.log_text().splitlines()[-n:])


# ---- the checks ----

def maildir(root, box):
    return root / "mail" / box[0] / box[1]


class Checker:
    """Verifies the files in new/ and cur/; caches files already proven
    (a delivered file never changes)."""

    def __init__(self, root, record):
        self.root = root
        self.record = record
        self.seen = {}   # path -> (size, mtime_ns, msgid)

    def check_file(self, path, box):
        """msgid of a complete, byte-exact message, or raise ValueError."""
        st = path.stat()
        key = (st.st_size, st.st_mtime_ns)
        cached = self.seen.get(path)
        if cached is not None and cached[:2] == key:
            return cached[2]
        data = path.read_bytes()
        m = SIZE_RE.search(path.name)
        if m is None or int(m.group(1)) != len(data):
            raise ValueError("size %d does not match the name" % len(data))
        split = strip_trace(data)
        if split is None:
            raise ValueError("no Return-Path:/Received: on top: %r"
                             % data[:120])
        rp, msg = split
        ids = MSGID_RE.findall(msg.split(b"\r\n\r\n", 1)[0] + b"\r\n")
        if len(ids) != 1:
            raise ValueError("no single Message-ID: %r" % msg[:200])
        a = self.record.get(ids[0])
        if a is None:
            raise ValueError("Message-ID %s was never sent" % ids[0])
        if len(msg) != a.size or hashlib.sha256(msg).hexdigest() != a.digest:
            raise ValueError("%s: stored %d bytes differ from the %d sent"
                             % (ids[0].decode(), len(msg), a.size))
        s = SUM_RE.search(msg)
        body = msg.split(b"\r\n\r\n", 1)[1]
        if s is None or hashlib.sha256(body).hexdigest() != \
                s.group(1).decode() or len(body) != int(s.group(2)):
            raise ValueError("%s: X-Crash-Sum does not match the body"
                             % ids[0].decode())
        if rp != a.sender:
            raise ValueError("%s: Return-Path <%s>, sender was <%s>"
                             % (ids[0].decode(), rp, a.sender))
        if box not in a.boxes:
            raise ValueError("%s: delivered to %s@%s, not a recipient"
                             % (ids[0].decode(), box[1], box[0]))
        self.seen[path] = key + (ids[0],)
        return ids[0]

    def scan(self):
        """{(msgid, box): count}, [problems] over every new/ and cur/."""
        counts, bad = {}, []
        mail = self.root / "mail"
        boxes = set()
        for ddir in sorted(mail.iterdir()) if mail.is_dir() else []:
            for udir in sorted(ddir.iterdir()):
                boxes.add((ddir.name, udir.name))
        for box in sorted(boxes):
            for sub in ("new", "cur"):
                d = maildir(self.root, box) / sub
                if not d.is_dir():
                    continue
                for f in sorted(d.iterdir()):
                    if not f.is_file():
                        bad.append(f"{f}: not a regular file")
                        continue
                    try:
                        mid = self.check_file(f, box)
                    except (ValueError, OSError) as e:
                        bad.append(f"{f}: {e}")
                        continue
                    counts[(mid, box)] = counts.get((mid, box), 0) + 1
        return counts, bad


def tmp_files(root):
    """[(tmp dir, name)] of every file in any Maildir tmp/."""
    out = []
    mail = root / "mail"
    if not mail.is_dir():
        return out
    for ddir in mail.iterdir():
        for udir in ddir.iterdir():
            t = udir / "tmp"
            if t.is_dir():
                out.extend((t, f.name) for f in t.iterdir())
    return out


# ---- the run ----

def wait_for(pred, timeout, step=0.001):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return False


def run(args, root):
    rng = random.Random(args.seed)
    port = free_port()
    record = Record()
    srv = Server(args.ternd, root, port)
    checker = Checker(root, record)
    sh = Shared(args.clients, port, record, args.seed)
    failures = []
    modes = [KILL_MODES[i % len(KILL_MODES)] for i in range(args.kills)]
    rng.shuffle(modes)
    hit = {m: 0 for m in KILL_MODES}
    natural_leftovers = planted = not_cleaned = 0
    reported = set()   # bad files already reported after a kill

    srv.start()
    sh.server_up.set()
    threads = [threading.Thread(target=client, args=(sh, i), daemon=True)
               for i in range(args.clients)]
    for t in threads:
        t.start()
    t0 = time.monotonic()
    try:
        for k, mode in enumerate(modes):
            # spread the kills over what is left of --seconds, so
            # that slow restarts (ASan) do not stretch the run
            left = t0 + args.seconds - time.monotonic()
            mean = max(0.05, left / (args.kills - k) - 0.05)
            time.sleep(rng.uniform(0.05, 2 * mean))
            got = mode
            if mode in ("data", "commit"):
                if not wait_for(lambda: mode in sh.state, 3.0):
                    got = "random"
            elif mode == "idle":
                sh.gate_open.clear()
                if not wait_for(lambda: sh.at_gate == args.clients, 5.0):
                    got = "random"
                else:
                    time.sleep(rng.uniform(0, 0.05))
            sh.server_up.clear()
            srv.kill9()
            sh.gate_open.set()
            hit[got] += 1

            # the crash point: only complete messages may be visible
            _, bad = checker.scan()
            failures.extend(f"after kill {k + 1} ({got}): {b}" for b in bad
                            if b not in reported)
            reported.update(bad)
            left = [(d, n) for d, n in tmp_files(root)
                    if n.startswith("tern-")]
            natural_leftovers += len(left)
            box = maildir(root, rng.choice(MAILBOXES))
            (box / "tmp").mkdir(parents=True, exist_ok=True)
            fake = box / "tmp" / f"{PLANTED_PREFIX}{k}"
            fake.write_bytes(b"Return-Path: <x@y>\r\nReceived: from half")
            left.append((box / "tmp", fake.name))
            planted += 1

            srv.start()
            sh.server_up.set()
            for d, n in left:
                if (d / n).exists():
                    not_cleaned += 1
                    failures.append(f"after restart {k + 1}: {d / n} left "
                                    f"in tmp/ (start-up must remove it)")
        # the last restart serves for a while, then a clean stop
        time.sleep(1.0)
    finally:
        sh.stop.set()
        sh.gate_open.set()
        for t in threads:
            t.join(120)
        alive = [t for t in threads if t.is_alive()]
        rc = srv.stop()
    elapsed = time.monotonic() - t0
    if alive:
        failures.append(f"{len(alive)} client threads did not finish")
    if rc != 0:
        failures.append(f"ternd exit status after SIGTERM: {rc} (want 0)")
    rep = [line for line in srv.log_text().splitlines()
           if any(m in line for m in SANITIZER_MARKERS)]
    if rep:
        failures.append("sanitizer report in the log:\n  " +
                        "\n  ".join(rep[:10]))
    left = [d / n for d, n in tmp_files(root) if n.startswith("tern-")]
    failures.extend(f"after the clean stop: {p} left in tmp/" for p in left)
    failures.extend(sh.problems)

    # the final account
    counts, bad = checker.scan()
    failures.extend(f"final: {b}" for b in bad)
    attempts = list(record.attempts.values())
    acked = [a for a in attempts if a.state == "acknowledged"]
    doubt = [a for a in attempts if a.state == "in doubt"]
    never = [a for a in attempts if a.state in ("incomplete", "refused")]
    stored = lost = duplicated = doubt_stored = doubt_partial = 0
    for a in acked:
        n = [counts.get((a.msgid, b), 0) for b in sorted(a.boxes)]
        if all(x == 1 for x in n):
            stored += 1
        if any(x == 0 for x in n):
            lost += 1
            failures.append(f"LOST: {a.msgid.decode()} acknowledged "
                            f"({a.reply}) but copies per mailbox {n} "
                            f"for {sorted(a.boxes)}")
        if any(x > 1 for x in n):
            duplicated += 1
            failures.append(f"DUPLICATED: {a.msgid.decode()} copies per "
                            f"mailbox {n} for {sorted(a.boxes)}")
    for a in doubt:
        n = [counts.get((a.msgid, b), 0) for b in sorted(a.boxes)]
        if any(n):
            doubt_stored += 1
            if not all(n):
                doubt_partial += 1
        if any(x > 1 for x in n):
            duplicated += 1
            failures.append(f"DUPLICATED (unacknowledged): "
                            f"{a.msgid.decode()} copies {n}")
    for a in never:
        n = [counts.get((a.msgid, b), 0) for b in sorted(a.boxes)]
        if any(n):
            failures.append(f"STORED WITHOUT A COMPLETE TRANSFER: "
                            f"{a.msgid.decode()} ({a.state}) copies {n}")
    files = sum(counts.values())

    print(f"acknowledged {len(acked)}, stored {stored}, lost {lost}, "
          f"duplicated {duplicated}", flush=True)
    print(f"kills {sum(hit.values())} (data {hit['data']}, commit "
          f"{hit['commit']}, idle {hit['idle']}, random {hit['random']}), "
          f"starts {srv.starts}, clients {args.clients}, "
          f"{elapsed:.1f}s, seed {args.seed}")
    print(f"unacknowledged but stored {doubt_stored} of {len(doubt)} in "
          f"doubt ({doubt_partial} in only some of their mailboxes); "
          f"incomplete transfers {sum(a.state == 'incomplete' for a in never)}"
          f", stored 0 required")
    print(f"files in new/ and cur/ {files}, bad {len(bad)}; tmp/ leftovers "
          f"after kills {natural_leftovers} + {planted} planted, not removed "
          f"at start-up {not_cleaned}")
    if len(acked) == 0:
        failures.append("no message was acknowledged at all")
    return failures


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ternd", required=True, help="the ternd binary")
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=40.0,
                    help="rough length of the kill phase (default 40)")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--workdir", help="directory for config, log and "
                    "Maildirs (default: a new temporary one)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the work directory even on success")
    args = ap.parse_args()
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1, 1 << 30)
    if args.kills < 1 or args.clients < 1 or args.seconds <= 0:
        ap.error("--kills, --clients and --seconds must be positive")
    if not os.access(args.ternd, os.X_OK):
        print(f"crash-test: {args.ternd}: not an executable", file=sys.stderr)
        return 2
    args.ternd = os.path.abspath(args.ternd)
    if args.workdir:
        root = Path(args.workdir).resolve()
        root.mkdir(parents=True, exist_ok=True)
    else:
        root = Path(tempfile.mkdtemp(prefix="tern-crash-"))
    try:
        failures = run(args, root)
    except Fatal as e:
        print(f"crash-test: cannot run: {e}", file=sys.stderr)
        print(f"crash-test: work directory kept: {root}", file=sys.stderr)
        return 2
    if failures:
        print(f"FAILED: {len(failures)} problem(s):", file=sys.stderr)
        for f in failures[:50]:
            print("  " + f, file=sys.stderr)
        print(f"crash-test: work directory kept: {root} (seed {args.seed})",
              file=sys.stderr)
        return 1
    if not args.workdir and not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
