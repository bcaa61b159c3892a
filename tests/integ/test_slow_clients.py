"""Slow and vanished clients, end to end (issue "ternd under attack and
failure").

Slowloris (a byte every half second), command lines that each take
longer than command_timeout, data_timeout, a client that pipelines
20,000 HELPs and never reads, clients that vanish mid-DATA, mid-BDAT
and while their commit is in flight, 200 connections dropped at once,
pregreet_delay, and the connection caps. Throughout, other clients are
served promptly, memory stays bounded, nothing half-received is stored
or left in tmp/, and the daemon is alive with no sanitizer report.

Most tests share one daemon with short timeouts (command_timeout and
data_timeout 2 s, no per-address cap); starting an ASan ternd costs
about a second on a loaded machine.
"""
import os
import socket
import threading
import time

import pytest

from hostile_helpers import (MemWatch, Prober, Sender, SharedTernd,
                             assert_alive, codes, deliver_ok, new_files,
                             no_tmp_left, read_until_close, set_linger0,
                             wait_log)
from smtp_helpers import (Client, Closed, all_stored, check,
                          check_greeting_type, parse_stored, queued,
                          simple_message)

TIMEOUT = 2     # command_timeout and data_timeout of the shared daemon
SHORT = ("-o", f"command_timeout={TIMEOUT}s", "-o", f"data_timeout={TIMEOUT}s",
         "-o", "max_connections_per_ip=0")


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """ternd instances shared by this module's tests (see SharedTernd)."""
    s = SharedTernd(tmp_path_factory)
    yield s
    s.close()


@pytest.fixture(autouse=True)
def _daemons_alive_after_each_test(shared):
    """Every shared daemon is still running, with no sanitizer report,
    when a test ends (whatever the test itself checked)."""
    yield
    for t in shared.started.values():
        assert_alive(t)


@pytest.fixture
def quick(shared):
    """The shared daemon with 2 s timeouts and no per-address cap."""
    t = shared.get("", SHORT)
    yield t
    assert_alive(t)


class TimedReader(threading.Thread):
    """Collect (seconds since start, reply) until the server closes."""

    def __init__(self, c, t0, timeout=20):
        super().__init__(daemon=True)
        self.c, self.t0, self.timeout = c, t0, timeout
        self.got = []
        self.closed_at = None
        self.start()

    def run(self):
        self.c.sock.settimeout(self.timeout)
        try:
            while True:
                r = self.c.reply()
                self.got.append((time.monotonic() - self.t0, r))
        except (Closed, ConnectionResetError):
            self.closed_at = time.monotonic() - self.t0
        except OSError:
            pass

    def closed(self):
        return self.closed_at is not None

    def summary(self):
        return [f"{at:.2f}s {r}" for at, r in self.got]


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def wait_all_disconnected(t, fds=None, timeout=20):
    """Every session the log saw connect has been freed (and, if fds is
    given, the daemon holds no more descriptors than that)."""
    deadline = time.monotonic() + timeout
    while True:
        text = t.log_text()
        conns, gone = text.count(" ev=connect "), text.count(" ev=disconnect")
        nfd = fd_count(t.proc.pid)
        if conns == gone and (fds is None or nfd <= fds):
            return
        assert time.monotonic() < deadline, \
            (f"sessions not cleaned up: connects/disconnects {conns}/{gone}"
             f", descriptors {nfd} (before: {fds})")
        time.sleep(0.1)


def trickle(c, parts, reader, limit, stop_on_reply=False):
    """Send (bytes, pause) parts until the server closes (or answers,
    with stop_on_reply) or limit seconds have passed."""
    t0 = time.monotonic()
    for data, pause in parts:
        if reader.closed() or time.monotonic() - t0 > limit or \
                (stop_on_reply and reader.got):
            return
        try:
            c.send(data)
        except OSError:
            return
        end = time.monotonic() + pause
        while time.monotonic() < end and not reader.closed():
            time.sleep(0.02)


# ---- command_timeout ----------------------------------------------------

@pytest.mark.parametrize("line", [b"NOOP\r\n" * 8,
                                  b"NOOP " + b"x" * 40 + b"\r\n"],
                         ids=["NOOP-CRLF-repeated", "one-long-NOOP"])
def test_slowloris_byte_every_half_second(quick, line):
    """One byte every 0.5 s: no line is finished within command_timeout
    (2 s) although bytes keep coming; 421 4.4.2 after about 2 s, nothing
    else (a 6-octet NOOP line takes 2.5 s: too long to be answered), then
    the close."""
    probe = Prober(quick)
    with Client(quick) as c:
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        t0 = time.monotonic()
        rd = TimedReader(c, t0)
        trickle(c, [(bytes([b]), 0.5) for b in line], rd, limit=10)
        rd.join(10)
    assert codes(r for _, r in rd.got) == [(421, "4.4.2")], rd.summary()
    at, r = rd.got[0]
    check_greeting_type(r, 421, "4.4.2")
    assert "timeout exceeded" in r.text
    assert TIMEOUT - 0.3 <= at <= TIMEOUT + 2.5, rd.summary()
    assert rd.closed() and rd.closed_at - at < 2
    probe.finish()
    wait_log(quick, r"ev=timeout client=127\.0\.0\.1 slow-command")


def test_slowloris_lines_each_longer_than_command_timeout(quick):
    """'NOOP', 1.2 s, CR, 1.2 s, LF: no gap reaches command_timeout (2 s)
    but every line takes 2.4 s. command_timeout bounds a whole command
    line, so the first line is never answered: 421 4.4.2 instead, and the
    client cannot hold the session by repeating the pattern."""
    with Client(quick) as c:
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        t0 = time.monotonic()
        rd = TimedReader(c, t0)
        trickle(c, [(b"NOOP", 1.2), (b"\r", 1.2), (b"\n", 0.3)] * 3, rd,
                limit=9, stop_on_reply=True)
        rd.join(TIMEOUT + 5)
    assert codes(r for _, r in rd.got) == [(421, "4.4.2")], \
        "a client whose every command line took 2.4 s (command_timeout " \
        f"2 s) was answered: {rd.summary()}"
    assert rd.got[0][0] <= TIMEOUT + 1.5, rd.summary()


def test_active_client_with_reads_ending_mid_line_not_timed_out(quick):
    """A busy client whose every write ends in the middle of a command
    line ('OP<CR><LF>NO' every 0.3 s): each line takes 0.3 s, far below
    command_timeout, so it must never get 421 4.4.2, however long the
    session goes on."""
    n = 14                     # about 4.2 s: twice command_timeout
    with Client(quick) as c:
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        t0 = time.monotonic()
        rd = TimedReader(c, t0)
        trickle(c, [(b"NO", 0.3)] + [(b"OP\r\nNO", 0.3)] * n
                + [(b"OP\r\nQUIT\r\n", 0)], rd, limit=15)
        rd.join(10)
    want = [(250, "2.0.0")] * (n + 1) + [(221, "2.0.0")]
    assert codes(r for _, r in rd.got) == want, "\n".join(rd.summary())


# ---- data_timeout -------------------------------------------------------

def test_data_timeout_silence_mid_data_and_mid_bdat(quick):
    """Silence inside DATA and inside a BDAT chunk: 421 4.4.2 after
    data_timeout, nothing stored, nothing left in tmp/."""
    before = set(all_stored(quick))
    sessions = []
    for kind in ("DATA", "BDAT"):
        c = Client(quick)
        c.ehlo()
        c.mail()
        c.rcpt()
        if kind == "DATA":
            check(c.cmd("DATA"), 354, None)
            c.send(b"Subject: half a message\r\n\r\nsome text")
        else:
            c.send(b"BDAT 1000 LAST\r\nSubject: half a chunk\r\n")
        sessions.append((kind, c, time.monotonic()))
    for kind, c, t0 in sessions:
        rs = read_until_close(c, timeout=15)
        took = time.monotonic() - t0
        c.close()
        assert codes(rs) == [(421, "4.4.2")], (kind, [str(r) for r in rs])
        check_greeting_type(rs[0], 421, "4.4.2")
        assert TIMEOUT - 0.5 <= took <= TIMEOUT + 4, (kind, took)
    assert new_files(quick, before) == {}
    no_tmp_left(quick)


def test_data_trickle_within_data_timeout_is_delivered(quick):
    """data_timeout is the silence allowed: a message whose parts arrive
    every 0.7 s for 4 s (longer than data_timeout in all) is fine."""
    parts = [b"Subject: trickle\r\n", b"\r\n", b"part one\r\n", b"part ",
             b"two\r\n", b"part three\r\n"]
    msg = b"".join(parts)
    before = set(all_stored(quick))
    with Client(quick) as c:
        c.ehlo()
        c.mail()
        c.rcpt()
        check(c.cmd("DATA"), 354, None)
        for p in parts:
            c.send(p)
            time.sleep(0.7)
        c.send(b".\r\n")
        qid = queued(c.reply())
        c.quit()
    [data] = new_files(quick, before).values()
    st = parse_stored(data)
    assert (st.qid, st.body) == (qid, msg)


# ---- clients that do not read ------------------------------------------

def test_client_that_never_reads(quick):
    """20,000 pipelined HELPs (about 6 MB of replies) and never a read:
    the server stops reading and buffers a bounded amount, others are
    served at once, and the stuck client is dropped once its output has
    made no progress for command_timeout."""
    n = 20_000
    mem = MemWatch(quick)
    probe = Prober(quick)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(20)
    s.connect((quick.host, quick.port))
    try:
        sender = Sender(s, b"HELP\r\n" * n)
        # meanwhile: others are served at once, more than once
        for i in range(3):
            t0 = time.monotonic()
            deliver_ok(quick, subject=f"while one client does not read {i}")
            assert time.monotonic() - t0 < 5
        wait_log(quick, r"ev=timeout-write client=127\.0\.0\.1",
                 timeout=TIMEOUT + 15)
        sender.join(20)
        got = b""
        try:
            while True:
                chunk = s.recv(1 << 20)
                if not chunk:
                    break
                got += chunk
        except (ConnectionResetError, socket.timeout):
            pass
        # far fewer than all the replies: the server did not buffer them
        helps = got.count(b"214 2.0.0 End of HELP info\r\n")
        assert helps < n, f"all {helps} replies were buffered for a " \
                          f"client that never read"
    finally:
        s.close()
    probe.finish()
    mem.check()


# ---- clients that vanish ------------------------------------------------

def test_disconnect_mid_data_and_mid_bdat(quick):
    """The client vanishes (FIN or RST) inside DATA, inside a BDAT chunk,
    and between two BDAT chunks: nothing stored, nothing left in tmp/,
    the log says a message was lost in transfer."""
    before = set(all_stored(quick))
    lost_before = quick.log_text().count("lost=message-in-transfer")
    for how in ("DATA-fin", "DATA-rst", "BDAT-fin", "BDAT-rst",
                "between-chunks"):
        c = Client(quick)
        c.ehlo()
        c.mail()
        c.rcpt("team@example.test")
        if how.startswith("DATA"):
            check(c.cmd("DATA"), 354, None)
            c.send(b"Subject: cut off\r\n\r\n" + b"some text\r\n" * 1000)
        elif how.startswith("BDAT"):
            c.send(b"BDAT 100000 LAST\r\nSubject: cut off\r\n\r\n"
                   + b"x" * 5000)
        else:
            c.send(b"BDAT 20\r\nSubject: cut off\r\n\r\n")
            check(c.reply(), 250, "2.0.0")
        time.sleep(0.1)
        if how.endswith("rst"):
            set_linger0(c.sock)
        c.close()
    wait_log(quick, r"lost=message-in-transfer", count=lost_before + 4)
    time.sleep(0.3)
    assert new_files(quick, before) == {}
    no_tmp_left(quick)
    deliver_ok(quick, subject="after the vanished ones")


def test_disconnect_while_commit_in_flight(quick):
    """The final dot and an immediate close (with QUIT and without): the
    message was complete, so it is committed and logged as accepted, and
    stored exactly once; no crash, nothing in tmp/. With an RST the
    server may see the reset before the data: then nothing is stored,
    but never half a message."""
    before = set(all_stored(quick))
    msgs = {}
    for i, how in enumerate(("dot-fin", "dot-quit-fin", "dot-rst")):
        m = simple_message(subject=f"commit in flight {how}",
                           body=f"number {i}\r\n" + "z" * 200_000)
        msgs[how] = m
        c = Client(quick)
        c.ehlo()
        c.mail(f"inflight{i}@remote.example")
        c.rcpt()
        check(c.cmd("DATA"), 354, None)
        tail = b".\r\nQUIT\r\n" if how == "dot-quit-fin" else b".\r\n"
        c.send(m + tail)
        if how.endswith("rst"):
            set_linger0(c.sock)
        c.close()
    for i in range(2):
        wait_log(quick, rf"ev=accept qid=\S+ client=127\.0\.0\.1 "
                 rf"from=<inflight{i}@remote\.example>")
    wait_all_disconnected(quick)    # every commit has reported by now
    stored = [parse_stored(d) for d in new_files(quick, before).values()]
    by_sender = {}
    for st in stored:
        by_sender.setdefault(st.return_path, []).append(st)
    for i, how in enumerate(("dot-fin", "dot-quit-fin", "dot-rst")):
        got = by_sender.get(f"inflight{i}@remote.example", [])
        accepted = f"from=<inflight{i}@remote.example>" in quick.log_text()
        assert len(got) == (1 if accepted else 0), (how, len(got), accepted)
        if got:
            assert got[0].body == msgs[how], how
    assert all(s.startswith("inflight") for s in by_sender), by_sender
    no_tmp_left(quick)
    assert_alive(quick)
    deliver_ok(quick, subject="after the commits in flight")


def test_two_hundred_connections_dropped_abruptly(quick):
    """200 connections at once in every state (before the greeting,
    idle, mid-command, mid-DATA, mid-BDAT), then all dropped, half with
    RST: every session is cleaned up (as many disconnects as connects,
    descriptors back to where they were), others are served throughout
    and a new client delivers mail."""
    pid = quick.proc.pid
    fds_before = fd_count(pid)
    before = set(all_stored(quick))
    probe = Prober(quick)
    mem = MemWatch(quick)
    socks = []
    try:
        for i in range(200):
            s = socket.create_connection((quick.host, quick.port), 10)
            s.settimeout(10)
            socks.append(s)
        for i, s in enumerate(socks):
            kind = i % 5
            if kind == 0:
                continue                    # never even read the 220
            if kind == 2:
                s.sendall(b"EHLO half")     # mid-command
            elif kind == 3:
                s.sendall(b"EHLO x.example\r\nMAIL FROM:<a@remote.example>"
                          b"\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n"
                          b"Subject: never finished\r\n\r\ntext")
            elif kind == 4:
                s.sendall(b"EHLO x.example\r\nMAIL FROM:<a@remote.example>"
                          b"\r\nRCPT TO:<alice@example.test>\r\n"
                          b"BDAT 9999 LAST\r\nSubject: never\r\n")
        time.sleep(0.3)
    finally:
        for i, s in enumerate(socks):
            if i % 2:
                set_linger0(s)
            s.close()
    probe.finish()
    wait_all_disconnected(quick, fds=fds_before)
    mem.check()
    assert new_files(quick, before) == {}
    no_tmp_left(quick)
    deliver_ok(quick, subject="after 200 dropped connections")


# ---- pregreet -----------------------------------------------------------

def test_pregreet(ternd_factory):
    """pregreet_delay = 1s: a client that talks before the greeting gets
    521 5.5.1 and the close (no 220), whatever it sent and whenever in
    the delay; one that waits gets 220 after the delay and delivers
    mail; clients that vanish during the delay leave nothing behind."""
    t = ternd_factory(args=("-o", "pregreet_delay=1s"))
    t0 = time.monotonic()
    waiter = Client(t, greet=False)
    early = Client(t, greet=False)
    early.send(b"EHLO early.example\r\n")
    bot = Client(t, greet=False)
    bot.send(b"EHLO bot.example\r\nMAIL FROM:<spam@bot.example>\r\n"
             b"RCPT TO:<alice@example.test>\r\nDATA\r\n"
             b"Subject: spam\r\n\r\nbuy\r\n.\r\nQUIT\r\n")
    vanish = []
    for i in range(20):
        s = socket.create_connection((t.host, t.port), 10)
        if i % 3 == 0:
            s.sendall(b"EHLO gone.example\r\n")
        if i % 2:
            set_linger0(s)
        vanish.append(s)
    for s in vanish:
        s.close()
    time.sleep(0.5)
    late = Client(t, greet=False)       # talks 0.5 s into its delay
    late.send(b"NOOP\r\n")
    for name, c in (("early", early), ("bot", bot), ("late", late)):
        rs = read_until_close(c, timeout=10)
        c.close()
        assert codes(rs) == [(521, "5.5.1")], (name, [str(r) for r in rs])
        assert rs[0].text == "Protocol error: you talked before the greeting"
    assert time.monotonic() - t0 < 1.5, "the 521 waited for the delay"
    greeting = waiter.reply()
    waited = time.monotonic() - t0
    check_greeting_type(greeting, 220, None)
    assert waited >= 0.9, f"220 after {waited:.2f} s, before the delay"
    waiter.ehlo()
    waiter.mail()
    waiter.rcpt()
    qid = waiter.data(simple_message(subject="patient"))
    waiter.quit()
    waiter.close()
    [data] = all_stored(t).values()
    assert parse_stored(data).qid == qid
    assert t.messages("alice") and not [
        m for m in t.messages("alice") if b"buy" in m]
    wait_log(t, r"ev=pregreet client=127\.0\.0\.1", count=3)
    no_tmp_left(t)
    time.sleep(0.3)     # the vanished ones' greeting timers would fire now
    assert_alive(t)


# ---- connection caps ----------------------------------------------------

def connect_admitted(t, source=None, timeout=10.0):
    """A connection that got 220; retries while the server may still
    count one the client just closed."""
    deadline = time.monotonic() + timeout
    while True:
        c = Client(t, source=source, greet=False)
        r = c.reply()
        if r.code == 220:
            c.greeting = r
            return c
        c.close()
        assert r.code == 421 and time.monotonic() < deadline, str(r)
        time.sleep(0.05)


def refused(t, source=None, read=True):
    """Connect: 421 4.7.0 at once, then the close; returns the reply."""
    t0 = time.monotonic()
    c = Client(t, source=source, greet=False, timeout=10)
    try:
        if not read:
            return None
        rs = read_until_close(c, timeout=10)
        assert len(rs) == 1, [str(r) for r in rs]
        check_greeting_type(rs[0], 421, "4.7.0")
        assert time.monotonic() - t0 < 3, "refusal took long"
        return rs[0]
    finally:
        c.close()


def test_connection_caps(ternd_factory):
    """max_connections = 3, max_connections_per_ip = 2: the third from
    one address and the fourth in all get 421 4.7.0 and the close at
    once; a burst of refused (and never-reading) clients does not stall
    the accept loop or the admitted sessions; a freed slot is usable."""
    t = ternd_factory(args=("-o", "max_connections=3",
                            "-o", "max_connections_per_ip=2"))
    a1 = connect_admitted(t)
    a2 = connect_admitted(t)
    r = refused(t)
    assert "from your address" in r.text
    b1 = connect_admitted(t, source="127.0.0.2")
    r = refused(t, source="127.0.0.3")
    assert "Too many connections, try again later" in r.text
    # a burst: 60 refused clients at once, a third never read the 421
    errors = []

    def burst(i):
        try:
            refused(t, source=f"127.0.0.{2 + i % 3}", read=i % 3 != 0)
        except Exception as e:      # collected, asserted below
            errors.append(e)
    t0 = time.monotonic()
    threads = [threading.Thread(target=burst, args=(i,)) for i in range(60)]
    for th in threads:
        th.start()
    # the admitted sessions are answered promptly during the burst
    for c in (a1, a2, b1):
        t1 = time.monotonic()
        check(c.cmd("NOOP"), 250, "2.0.0")
        assert time.monotonic() - t1 < 3
    for th in threads:
        th.join(30)
    assert not errors, errors[:3]
    assert time.monotonic() - t0 < 20
    refused(t)
    # one leaves: its slot (and its address's slot) is free again
    a1.quit()
    a1.close()
    c = connect_admitted(t)
    c.ehlo()
    c.mail()
    c.rcpt()
    qid = c.data(simple_message(subject="freed slot"))
    refused(t, source="127.0.0.3")      # full again: a2, b1 and c
    for c in (c, a2, b1):
        c.quit()
        c.close()
    assert parse_stored(t.messages("alice")[0]).qid == qid
    wait_log(t, r"ev=refuse client=127\.0\.0\.1 code=421 esc=4\.7\.0 "
             r"reason=R_CONN_LIMIT_IP")
    wait_log(t, r"ev=refuse client=127\.0\.0\.3 code=421 esc=4\.7\.0 "
             r"reason=R_CONN_LIMIT")
    assert_alive(t)
