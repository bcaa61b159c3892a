"""End-to-end tests of relaying through the real daemon.

A real ternd (conftest.py) takes mail over SMTP and relays it to next
hops on loopback: scripted aiosmtpd servers (relay_peers.Sink) that
answer each reply code in turn, drop connections or stall, and record
every connection, command and message. MX lookups go to dnsmasq on
127.0.0.1 (dns_helper.py). Bounces and delay warnings go to the local
sender alice@example.test and are read back from her Maildir and parsed
as RFC 3464 reports. `tern queue` is run against the running daemon.

Time-based behaviour runs with short configured intervals (retry_first
1s, max_queue_lifetime a few seconds), never by waiting for defaults.
"""
import email
import email.policy
import json
import os
import re
import smtplib
import subprocess
import time

import pytest

from conftest import TERND
from dns_helper import DnsServer
from conftest import shared_free_port
from relay_peers import DROP, Call, Delay, Sink

TERN = os.environ.get("TERN_BIN", os.path.join(os.path.dirname(TERND),
                                               "tern"))
RELAY = ("-o", "relay_networks=127.0.0.0/8")
ALICE = "alice@example.test"


# ------------------------------------------------------------ helpers

def relay_conf(sink=None, routes=None, **keys):
    """Extra configuration: a route for remote.example to sink (and for
    each domain of routes to its sink, or port on 127.0.0.1), short
    intervals; keys override (retry_first="2s", ...)."""
    conf = {"relay_tls": "none", "retry_first": "1s", "retry_max": "2s",
            "relay_connect_timeout": "3s", "relay_command_timeout": "5s",
            "relay_data_timeout": "5s"}
    routes = dict(routes or {})
    if sink is not None:
        routes["remote.example"] = sink
    if routes:
        conf["routes"] = "; ".join(
            "%s: 127.0.0.1:%d" % (d, s if isinstance(s, int) else s.port)
            for d, s in routes.items())
    conf.update({k: v for k, v in keys.items() if v is not None})
    return "".join("%s = %s\n" % kv for kv in conf.items())


def start(ternd_factory, sink=None, **keys):
    return ternd_factory(relay_conf(sink, **keys), args=RELAY)


class Cases:
    """Several scripted next hops behind one ternd, one domain each, so
    that cases that wait for a retry wait together: case name -> Sink
    for the domain <name>.remote.example."""

    def __init__(self, names, **sink_kw):
        self.sinks = {}
        try:
            for n in names:
                self.sinks[n] = Sink(name="mx.%s.remote.example" % n,
                                     **sink_kw)
        except BaseException:
            self.stop()
            raise

    def domain(self, name):
        return "%s.remote.example" % name

    def routes(self):
        return {self.domain(n): s for n, s in self.sinks.items()}

    def items(self):
        return self.sinks.items()

    def stop(self):
        for s in self.sinks.values():
            s.stop()


@pytest.fixture
def cases():
    made = []

    def make(names, **kw):
        c = Cases(names, **kw)
        made.append(c)
        return c
    yield make
    for c in made:
        c.stop()


def case_id(point, reply):
    return re.sub(r"\W", "", point + (reply or "")[:3]).lower()


def message(subject="relay test", extra=b"", size=0):
    """A message with lines that need dot-stuffing; padded to size."""
    msg = (b"From: Alice <alice@example.test>\r\n"
           b"To: Bob <bob@remote.example>\r\n"
           b"Message-ID: <" + subject.replace(" ", ".").encode() +
           b"@example.test>\r\n"
           b"Subject: " + subject.encode() + b"\r\n" + extra +
           b"\r\nHello.\r\n.leading dot\r\n..two dots\r\n.\r\nlast line\r\n")
    while len(msg) < size:
        msg += b"padding " * 9 + b"\r\n"
    return msg


def send(t, rcpts, msg=None, sender=ALICE, mail_options=(), source=None):
    """Send one message to ternd; returns its queue id."""
    msg = msg if msg is not None else message()
    with smtplib.SMTP(t.host, t.port, timeout=20,
                      source_address=source) as s:
        s.ehlo("client.test")
        code, resp = s.mail(sender, list(mail_options))
        assert code == 250, (code, resp)
        for r in rcpts:
            code, resp = s.rcpt(r)
            assert code == 250, (r, code, resp)
        code, resp = s.data(msg)
        assert code == 250, (code, resp)
    m = re.search(rb"queued as (\w+)", resp)
    assert m, resp
    return m.group(1).decode()


def tern(t, *args):
    r = subprocess.run([TERN, "queue", "-c", str(t.conf), *args],
                       capture_output=True, timeout=30)
    return r


def queue(t):
    """tern queue --json: {qid: message} of the running daemon's spool."""
    r = tern(t, "--json")
    assert r.returncode == 0, r.stderr
    return {m["id"]: m for m in json.loads(r.stdout)["messages"]}


def rcpt_state(t, qid, addr):
    m = queue(t).get(qid)
    if m is None:
        return None
    for r in m["recipients"]:
        if r["address"] == addr:
            return r
    return None


def wait_for(cond, timeout=20, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def wait_deferred(t, qid, addr, timeout=15):
    """Wait until addr of qid is pending after a failed attempt; returns
    its recipient entry from tern queue --json."""
    def deferred():
        r = rcpt_state(t, qid, addr)
        if r and r["state"] == "pending" and r["attempts"] >= 1 and \
                r["last_reply"] is not None:
            return r
        return None
    r = wait_for(deferred, timeout, 0.05)
    assert r, "never deferred: %s\n%s" % (queue(t), t.log_text()[-3000:])
    return r


def watch_deferred(t, targets, timeout=15):
    """Like wait_deferred for several (qid, addr) at once, with one
    `tern queue` per round, so that none is missed between its failed
    attempt and its retry. Returns {(qid, addr): recipient entry}."""
    seen = {}
    deadline = time.monotonic() + timeout
    while len(seen) < len(targets) and time.monotonic() < deadline:
        q = queue(t)
        for qid, addr in targets:
            if (qid, addr) in seen or qid not in q:
                continue
            for r in q[qid]["recipients"]:
                if r["address"] == addr and r["state"] == "pending" and \
                        r["attempts"] >= 1 and r["last_reply"] is not None:
                    seen[(qid, addr)] = r
        time.sleep(0.05)
    missed = [x for x in targets if x not in seen]
    assert not missed, "never seen deferred: %s\n%s" % (
        missed, t.log_text()[-3000:])
    return seen


def wait_queue_empty(t, timeout=15):
    assert wait_for(lambda: queue(t) == {}, timeout, 0.1), \
        "queue not empty: %s" % queue(t)


class Dsn:
    """A delivery status notification read from a Maildir file."""

    def __init__(self, raw):
        self.raw = raw
        self.msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        head, _, body = raw.partition(b"\r\n\r\n")
        self.head = head.decode("utf-8", "replace")
        boundary = self.msg.get_param("boundary")
        assert boundary, self.head
        chunks = body.split(b"\r\n--" + boundary.encode())
        assert chunks[-1].startswith(b"--"), "no closing boundary"
        self.parts = []
        for chunk in chunks[1:-1]:
            part = email.message_from_bytes(chunk.lstrip(b"\r\n"),
                                            policy=email.policy.compat32)
            _, _, pbody = chunk.lstrip(b"\r\n").partition(b"\r\n\r\n")
            if part.get_content_maintype() == "text":
                pbody = part.get_payload(decode=True)
            self.parts.append((part.get_content_type(), part,
                               pbody.decode("utf-8", "replace")))
        self.types = [p[0] for p in self.parts]
        self.human = self.parts[0][2]
        status = self.parts[1][2].replace("\r\n", "\n")
        status = re.sub(r"\n[ \t]+", " ", status)        # unfold
        blocks = [b for b in status.split("\n\n") if b.strip()]
        self.fields = [self._block(b) for b in blocks]
        self.per_message = self.fields[0]
        self.recipients = {}
        for f in self.fields[1:]:
            addr = f["final-recipient"].split(";", 1)[1].strip()
            assert addr not in self.recipients, "reported twice: " + addr
            self.recipients[addr] = f
        self.headers = self.parts[2][2] if len(self.parts) > 2 else ""

    @staticmethod
    def _block(text):
        out = {}
        for line in text.split("\n"):
            if line.strip():
                k, _, v = line.partition(":")
                out[k.strip().lower()] = v.strip()
        return out

    @property
    def action(self):
        acts = {f["action"] for f in self.recipients.values()}
        assert len(acts) == 1, acts
        return acts.pop()


def reports(t, user="alice"):
    """Every DSN (null sender) in user's Maildir, oldest first."""
    out = []
    for raw in t.messages(user):
        if raw.startswith(b"Return-Path: <>\r\n"):
            out.append(Dsn(raw))
    return out


def wait_reports(t, n, user="alice", timeout=15):
    got = wait_for(lambda: len(reports(t, user)) >= n, timeout, 0.1)
    assert got, "expected %d reports for %s, got %d\n%s" % (
        n, user, len(reports(t, user)), t.log_text()[-4000:])
    return reports(t, user)


def check_report_frame(d, t, action):
    """What every report has: headers, structure, per-message fields."""
    assert d.msg["Return-Path"] == "<>"
    assert re.search(r"<MAILER-DAEMON@mx\.test\.example>", d.msg["From"]), \
        d.msg["From"]
    assert d.msg["To"].strip() in ("<%s>" % ALICE, ALICE)
    assert d.msg.get_content_type() == "multipart/report"
    assert d.msg.get_param("report-type") == "delivery-status"
    assert d.msg["Auto-Submitted"] is not None
    assert d.types[0] == "text/plain"
    assert d.types[1] in ("message/delivery-status",
                          "message/global-delivery-status")
    assert d.types[2] in ("text/rfc822-headers", "message/global-headers")
    assert d.per_message["reporting-mta"] == "dns; mx.test.example"
    for f in d.recipients.values():
        assert f["action"] == action, f


def check_rcpt(d, addr, status, diagnostic=None, remote=True, quoted=True):
    """addr is reported with status (a regex) and the exact diagnostic."""
    assert addr in d.recipients, (addr, list(d.recipients))
    f = d.recipients[addr]
    assert re.fullmatch(status, f["status"]), f
    if diagnostic is not None:
        assert f["diagnostic-code"] == "smtp; " + diagnostic, f
        if quoted:
            # the part for people quotes the reply too
            assert diagnostic in " ".join(d.human.split()), d.human
    if remote:
        assert f["remote-mta"] == "dns; 127.0.0.1", f
    assert "<%s>" % addr in d.human, d.human


# ------------------------------------------------------------ fixtures

@pytest.fixture
def sink():
    s = Sink(name="mx.remote.example")
    yield s
    s.stop()


# ------------------------------------------------------------ delivered

def test_delivered_250_and_251(ternd_factory, sink):
    sink.on("RCPT", "251 2.1.5 User not local; will forward to "
            "<carol@elsewhere.example>", rcpt="carol")
    t = start(ternd_factory, sink)
    msg = message("delivered")
    qid = send(t, ["bob@remote.example", "carol@remote.example"], msg)
    assert sink.wait(lambda: sink.delivered(), 15), t.log_text()
    wait_queue_empty(t)
    (txn,) = sink.delivered()
    assert txn.mail_from == ALICE
    assert sorted(txn.rcpts) == ["bob@remote.example", "carol@remote.example"]
    # the message as sent, under ternd's Received: (no Return-Path: on
    # the way: only the final delivery adds one), dots unstuffed intact
    assert txn.data.endswith(msg), txn.data
    assert txn.data.startswith(b"Received: from "), txn.data[:200]
    assert b"Return-Path:" not in txn.data
    assert ("id %s" % qid).encode() in txn.data
    assert sink.connections == 1
    # nothing went back to the sender
    time.sleep(0.3)
    assert t.messages("alice") == []


# ------------------------------------------------------------ deferrals

DEFERRALS = [
    ("RCPT", "450 4.2.1 Mailbox busy, try again later"),
    ("MAIL", "451 4.3.0 Temporary local problem"),
    ("DATA", "451 4.3.0 Try later"),
    ("DOT", "451 4.3.0 Queue file write error"),     # 4xx to the dot
]


def test_deferred_then_delivered(ternd_factory, cases):
    """A 4xx once, then 250: deferred with the reply, delivered on the
    retry, exactly once."""
    c = cases([case_id(p, r) for p, r in DEFERRALS])
    for (point, reply), (name, sink) in zip(DEFERRALS, c.items()):
        sink.on(point, reply, times=1)
    t = ternd_factory(relay_conf(routes=c.routes(), retry_first="2s",
                                 retry_max="2s"), args=RELAY)
    qids = {name: send(t, ["bob@" + c.domain(name)]) for name, _ in c.items()}
    seen = watch_deferred(t, [(qids[n], "bob@" + c.domain(n))
                              for n, _ in c.items()])
    for (point, reply), (name, sink) in zip(DEFERRALS, c.items()):
        r = seen[(qids[name], "bob@" + c.domain(name))]
        code, esc, text = reply.split(" ", 2)
        assert r["last_reply"] == {"code": int(code), "esc": esc,
                                   "text": text, "synthetic": False,
                                   "remote": r["last_reply"]["remote"]}, \
            (point, r)
        assert r["attempts"] == 1, (point, r)
    for (point, reply), (name, sink) in zip(DEFERRALS, c.items()):
        assert sink.wait(lambda: sink.delivered(), 15), (point, t.log_text())
    wait_queue_empty(t)
    for (point, reply), (name, sink) in zip(DEFERRALS, c.items()):
        assert len(sink.delivered()) == 1, point
        assert len(sink.command_lines("MAIL")) == 2, point
        if point == "DOT":
            # the refused transaction went through the data too, and was
            # not counted as delivered
            assert [x.reply for x in sink.transactions] == [
                reply, sink.delivered()[0].reply]
    assert t.messages("alice") == []


@pytest.mark.parametrize("limit_reply", [
    "452 4.5.3 Too many recipients",
    "552 5.5.3 Too many recipients",    # RFC 5321 4.5.3.1.10: as 452
])
def test_recipient_limit_splits(ternd_factory, limit_reply):
    sink = Sink(name="mx.remote.example", rcpt_limit=2,
                limit_reply=limit_reply)
    try:
        # retry_first is long: everything must go in this attempt, the
        # rest in new transactions, not after a retry
        t = start(ternd_factory, sink, retry_first="1m", retry_max="1m")
        rcpts = ["r%d@remote.example" % i for i in range(5)]
        send(t, rcpts)
        assert sink.wait(
            lambda: sum(len(x.rcpts) for x in sink.delivered()) >= 5, 15), \
            (sink.transactions, t.log_text())
        wait_queue_empty(t)
        got = [r for x in sink.delivered() for r in x.rcpts]
        assert sorted(got) == rcpts     # each exactly once
        assert all(len(x.rcpts) <= 2 for x in sink.delivered())
        assert len(sink.delivered()) == 3
        assert all(x.data == sink.delivered()[0].data
                   for x in sink.delivered())
        time.sleep(0.3)
        assert t.messages("alice") == []    # a limit is not a failure
    finally:
        sink.stop()


CLOSINGS = [
    ("greeting", "421 4.3.2 Service not available, closing channel"),
    ("MAIL", "421 4.7.0 Too many connections, closing"),
    ("RCPT", "421 4.4.5 System overloaded, closing"),
    ("DOT", "421 4.3.0 Shutting down"),
    ("greeting", DROP),
    ("MAIL", DROP),
    ("RCPT", DROP),
    ("DOT", DROP),                   # the data went, no reply came
]


def test_421_or_dropped_connection_defers(ternd_factory, cases):
    """421 at any point, or the connection dropped: every recipient is
    deferred, and delivered on the retry over a new connection."""
    names = [case_id(p, "drop" if r is DROP else r) for p, r in CLOSINGS]
    c = cases(names)
    for (point, reply), (name, sink) in zip(CLOSINGS, c.items()):
        sink.on(point, reply, times=1)
    t = ternd_factory(relay_conf(routes=c.routes(), retry_first="2s",
                                 retry_max="2s"), args=RELAY)
    qids = {name: send(t, ["bob@" + c.domain(name),
                           "carol@" + c.domain(name)])
            for name, _ in c.items()}
    seen = watch_deferred(t, [(qids[n], who + "@" + c.domain(n))
                              for n, _ in c.items()
                              for who in ("bob", "carol")])
    for (point, reply), (name, sink) in zip(CLOSINGS, c.items()):
        for who in ("bob", "carol"):
            r = seen[(qids[name], who + "@" + c.domain(name))]
            last = r["last_reply"]
            if reply is DROP:
                assert 400 <= last["code"] < 500, (point, r)
                assert last["synthetic"] is True, (point, r)
            else:
                assert last["code"] == 421, (point, r)
    for (point, reply), (name, sink) in zip(CLOSINGS, c.items()):
        assert sink.wait(lambda: sink.delivered(), 15), (point, t.log_text())
    wait_queue_empty(t)
    for (point, reply), (name, sink) in zip(CLOSINGS, c.items()):
        (txn,) = sink.delivered()
        assert sorted(txn.rcpts) == ["bob@" + c.domain(name),
                                     "carol@" + c.domain(name)], point
        # the session ended: the delivery came on a new connection
        assert txn.conn == 2, (point, reply)
    assert t.messages("alice") == []


STALLS = [
    ("greeting", "relay_connect_timeout", 1),
    ("MAIL", "relay_command_timeout", 2),
    ("DOT", "relay_data_timeout", 3),
]


def test_slow_server_times_out(ternd_factory, cases):
    """A server that stalls is given up after the timeout for that point
    of the dialogue (each set differently here), deferred with a reason
    that says so, and delivered on the retry."""
    c = cases([p.lower() for p, _, _ in STALLS])
    for (point, _, _), (name, sink) in zip(STALLS, c.items()):
        sink.on(point, Delay(8), times=1)
    t = ternd_factory(relay_conf(
        routes=c.routes(), retry_first="2s", retry_max="2s",
        **{key: "%ds" % secs for _, key, secs in STALLS}), args=RELAY)
    qids = {name: send(t, ["bob@" + c.domain(name)]) for name, _ in c.items()}
    seen = watch_deferred(t, [(qids[n], "bob@" + c.domain(n))
                              for n, _ in c.items()])
    for (point, key, secs), (name, sink) in zip(STALLS, c.items()):
        r = seen[(qids[name], "bob@" + c.domain(name))]
        last = r["last_reply"]
        assert 400 <= last["code"] < 500, (point, r)
        assert last["synthetic"] is True, (point, r)
        assert re.search(r"time(d)? ?out", last["text"], re.I), (point, r)
    for (point, key, secs), (name, sink) in zip(STALLS, c.items()):
        assert sink.wait(lambda: sink.delivered(), 15), (point, t.log_text())
        # ternd waited as long as that timeout says, not another one
        (waited,) = sink.stalls
        assert secs - 0.2 <= waited < secs + 0.9, \
            "%s: waited %.1fs, %s is %ds" % (point, waited, key, secs)
        # the stalled attempt never got its 250: one delivery
        assert len(sink.delivered()) == 1, point
    wait_queue_empty(t)


# ------------------------------------------------------------ bounces

def test_rcpt_5xx_bounces_that_recipient_only(ternd_factory, sink):
    replies = {
        "bob": "550 5.1.1 The email account that you tried to reach does "
               "not exist.\nPlease check the address and try again",
        "dave": "553 5.1.3 Bad recipient address syntax",
        "erin": "554 5.7.1 Recipient address rejected: Access denied",
    }
    for who, reply in replies.items():
        sink.on("RCPT", reply, rcpt=who)
    t = start(ternd_factory, sink)
    rcpts = ["bob@remote.example", "carol@remote.example",
             "dave@remote.example", "erin@remote.example"]
    msg = message("five codes")
    qid = send(t, rcpts, msg)
    (d,) = wait_reports(t, 1)
    wait_queue_empty(t)
    # carol got it; the others were never retried
    (txn,) = sink.delivered()
    assert txn.rcpts == ["carol@remote.example"]
    time.sleep(0.3)   # (the queue is empty: nothing left to retry)
    assert len([l for l in sink.command_lines("RCPT")
                if "bob@remote.example" in l]) == 1
    assert len(reports(t)) == 1

    check_report_frame(d, t, "failed")
    assert set(d.recipients) == {"bob@remote.example", "dave@remote.example",
                                 "erin@remote.example"}
    check_rcpt(d, "bob@remote.example", r"5\.1\.1",
               "550 5.1.1 The email account that you tried to reach does "
               "not exist. Please check the address and try again",
               quoted=False)    # two lines: checked below
    check_rcpt(d, "dave@remote.example", r"5\.1\.3",
               "553 5.1.3 Bad recipient address syntax")
    check_rcpt(d, "erin@remote.example", r"5\.7\.1",
               "554 5.7.1 Recipient address rejected: Access denied")
    for f in d.recipients.values():
        assert f["final-recipient"].startswith("rfc822;")
        assert "last-attempt-date" in f
    assert "carol" not in d.human
    assert "carol@remote.example" not in d.parts[1][2]
    # the human part quotes each reply as it came (both lines of bob's)
    assert "550-5.1.1 The email account that you tried to reach does not " \
        "exist." in d.human
    assert "550 5.1.1 Please check the address and try again" in d.human
    assert "553 5.1.3 Bad recipient address syntax" in d.human
    assert "127.0.0.1" in d.human
    # and the original headers, not the body
    assert "Message-ID: <five.codes@example.test>" in d.headers
    assert "Subject: five codes" in d.headers
    assert "From: Alice <alice@example.test>" in d.headers
    assert "last line" not in d.headers
    assert qid in d.headers or qid in d.human
    assert d.msg["Subject"]


def test_551_bounces_with_forward_path(ternd_factory, sink):
    sink.on("RCPT", "551 5.1.6 User not local; please try "
            "<bob@new.example>", rcpt="bob")
    t = start(ternd_factory, sink)
    send(t, ["bob@remote.example"])
    (d,) = wait_reports(t, 1)
    check_report_frame(d, t, "failed")
    check_rcpt(d, "bob@remote.example", r"5\.1\.6",
               "551 5.1.6 User not local; please try <bob@new.example>")
    # the human part points to the new path; no mail went to it
    m = re.search(r"^.*<bob@new\.example>.*$", d.human.split(
        "551 5.1.6 User not local")[1], re.M)
    assert m, d.human
    assert sink.delivered() == []
    wait_queue_empty(t)


REFUSALS = [
    ("MAIL", "553 5.1.8 Sender address rejected: Domain not found"),
    ("DATA", "554 5.5.1 Error: no valid recipients"),
    ("DOT", "552 5.3.4 Message size exceeds fixed limit"),
    ("DOT", "554 5.7.1 Message rejected as spam"),
]


def test_5xx_to_mail_or_data_bounces_all(ternd_factory, cases):
    """5xx to MAIL, DATA or the final dot: every recipient of the
    transaction bounces with that reply, and it is not tried again."""
    names = ["%s%d" % (p.lower(), i) for i, (p, _) in enumerate(REFUSALS)]
    c = cases(names)
    for (point, reply), (name, sink) in zip(REFUSALS, c.items()):
        sink.on(point, reply)
    t = ternd_factory(relay_conf(routes=c.routes()), args=RELAY)
    for name, _ in c.items():
        send(t, ["bob@" + c.domain(name), "carol@" + c.domain(name)],
             message("refused " + name))
    got = wait_reports(t, len(REFUSALS))
    wait_queue_empty(t)
    for (point, reply), (name, sink) in zip(REFUSALS, c.items()):
        (d,) = [d for d in got if "Subject: refused %s\r\n" % name
                in d.headers.replace("\r\n", "\n").replace("\n", "\r\n")]
        check_report_frame(d, t, "failed")
        code, esc, _ = reply.split(" ", 2)
        assert set(d.recipients) == {"bob@" + c.domain(name),
                                     "carol@" + c.domain(name)}
        for addr in d.recipients:
            check_rcpt(d, addr, re.escape(esc), reply)
        # never tried again (RFC 5321 4.2.5)
        assert len(sink.command_lines("MAIL")) == 1, point
        assert sink.delivered() == [], point
    assert len(reports(t)) == len(REFUSALS)


def test_expiry_bounces_with_delay_warning_once(ternd_factory, sink):
    sink.on("RCPT", "451 4.7.1 Greylisted, please try again later")
    t = start(ternd_factory, sink, retry_first="1s", retry_max="1s",
              delay_warning_time="2s", max_queue_lifetime="5s")
    t0 = time.monotonic()
    send(t, ["bob@remote.example"], message("expiry"))
    # the warning, then the bounce
    warn, bounce = wait_reports(t, 2, timeout=20)
    elapsed = time.monotonic() - t0
    # (arrival is kept in whole seconds)
    assert elapsed >= 3.9, "bounced before max_queue_lifetime"
    check_report_frame(warn, t, "delayed")
    check_rcpt(warn, "bob@remote.example", r"4\.7\.1",
               "451 4.7.1 Greylisted, please try again later")
    assert "will-retry-until" in warn.recipients["bob@remote.example"]
    assert "Subject: expiry" in warn.headers
    check_report_frame(bounce, t, "failed")
    # given up after a temporary failure: the status stays 4.x.x
    check_rcpt(bounce, "bob@remote.example", r"4\.\d{1,3}\.\d{1,3}",
               "451 4.7.1 Greylisted, please try again later")
    assert "Subject: expiry" in bounce.headers
    wait_queue_empty(t)
    attempts = len(sink.command_lines("RCPT"))
    assert attempts >= 3, "not retried"
    # the warning went out once; nothing more comes
    time.sleep(1.3)
    assert len(reports(t)) == 2
    assert len(sink.command_lines("RCPT")) == attempts


def test_null_sender_is_never_bounced(ternd_factory, sink):
    sink.on("RCPT", "550 5.1.1 No such user", rcpt="bob")
    t = start(ternd_factory, sink)
    send(t, ["bob@remote.example", "carol@remote.example"], sender="")
    assert sink.wait(lambda: sink.delivered(), 15)
    assert sink.delivered()[0].mail_from in ("", "<>")
    wait_queue_empty(t)
    time.sleep(0.5)
    for user in ("alice", "bob", "postmaster"):
        assert t.messages(user) == [], user
    # the failure is in the log
    lines = [l for l in t.log_text().splitlines()
             if "bob@remote.example" in l and "550" in l]
    assert lines, t.log_text()


def test_size_too_big_bounces_without_sending(ternd_factory):
    sink = Sink(name="mx.remote.example", size=1000)
    try:
        t = start(ternd_factory, sink)
        send(t, ["bob@remote.example"], message("too big", size=3000))
        (d,) = wait_reports(t, 1)
        check_report_frame(d, t, "failed")
        check_rcpt(d, "bob@remote.example", r"5\.3\.4")
        assert "1000" in d.recipients["bob@remote.example"].get(
            "diagnostic-code", "") + d.human
        assert sink.command_lines("MAIL") == []
        assert sink.transactions == []
        wait_queue_empty(t)
    finally:
        sink.stop()


def test_smtputf8_to_server_without_it_bounces(ternd_factory):
    sink = Sink(name="mx.remote.example", smtputf8=False)
    try:
        t = start(ternd_factory, sink)
        msg = message("utf8", extra="X-Note: gr\u00fc\u00dfe\r\n".encode())
        send(t, ["j\u00f6rg@remote.example"], msg,
             mail_options=["SMTPUTF8", "BODY=8BITMIME"])
        (d,) = wait_reports(t, 1)
        check_report_frame(d, t, "failed")
        assert d.types[1] == "message/global-delivery-status"
        check_rcpt(d, "j\u00f6rg@remote.example", r"5\.6\.7")
        assert sink.command_lines("MAIL") == []
        wait_queue_empty(t)
    finally:
        sink.stop()


# ------------------------------------------------------------ routing, DNS

@pytest.fixture(scope="module")
def dns(tmp_path_factory):
    """dnsmasq with the zones of the MX tests (all under .test)."""
    d = DnsServer(tmp_path_factory.mktemp("dns"), zones=["test"])
    d.mx("pref.test", "mx1.pref.test", 10)
    d.mx("pref.test", "mx2.pref.test", 20)
    d.host("mx1.pref.test", "127.0.0.2")
    d.host("mx2.pref.test", "127.0.0.3")
    d.host("amx.test", "127.0.0.4")          # no MX: the A record
    d.null_mx("nullmx.test")
    d.host("nullmx.test", "127.0.0.5")       # must not be used
    d.start()
    yield d
    d.stop()


def dns_conf(dns, port, **keys):
    return relay_conf(None, dns_resolver="127.0.0.1:%d" % dns.port,
                      relay_port=str(port), **keys)


@pytest.mark.parametrize("mx1_state", ["up", "refused", "421", "554"])
def test_mx_preference_and_fallback(ternd_factory, dns, mx1_state):
    """Lower preference first; when that host refuses the connection or
    greets with 421 or 554, the next one, in the same attempt."""
    port = shared_free_port(["127.0.0.2", "127.0.0.3"])
    mx1 = Sink(host="127.0.0.2", port=port, name="mx1.pref.test")
    mx2 = Sink(host="127.0.0.3", port=port, name="mx2.pref.test")
    try:
        if mx1_state == "refused":
            mx1.stop()
        elif mx1_state == "421":
            mx1.on("greeting", "421 4.3.2 Not now")
        elif mx1_state == "554":
            mx1.on("greeting", "554 5.3.2 No SMTP service here")
        # retry_first is long: the fallback must happen in one attempt
        t = ternd_factory(dns_conf(dns, port, retry_first="1m",
                                   retry_max="1m"), args=RELAY)
        send(t, ["bob@pref.test"])
        used, other = (mx1, mx2) if mx1_state == "up" else (mx2, mx1)
        assert used.wait(lambda: used.delivered(), 15), t.log_text()
        wait_queue_empty(t)
        assert used.delivered()[0].rcpts == ["bob@pref.test"]
        assert other.delivered() == []
        if mx1_state == "up":
            assert mx2.connections == 0
        elif mx1_state != "refused":
            assert mx1.connections == 1
        assert t.messages("alice") == []
    finally:
        mx2.stop()
        if mx1_state != "refused":
            mx1.stop()


def test_a_record_when_no_mx(ternd_factory, dns):
    port = shared_free_port(["127.0.0.4"])
    host = Sink(host="127.0.0.4", port=port, name="amx.test")
    try:
        t = ternd_factory(dns_conf(dns, port), args=RELAY)
        send(t, ["bob@amx.test"])
        assert host.wait(lambda: host.delivered(), 15), t.log_text()
        assert host.delivered()[0].rcpts == ["bob@amx.test"]
        wait_queue_empty(t)
    finally:
        host.stop()


def test_null_mx_bounces_without_connecting(ternd_factory, dns):
    port = shared_free_port(["127.0.0.5"])
    host = Sink(host="127.0.0.5", port=port, name="nullmx.test")
    try:
        t = ternd_factory(dns_conf(dns, port), args=RELAY)
        send(t, ["bob@nullmx.test"])
        (d,) = wait_reports(t, 1)
        check_report_frame(d, t, "failed")
        check_rcpt(d, "bob@nullmx.test", r"5\.1\.10", remote=False)
        wait_queue_empty(t)
        assert host.connections == 0
    finally:
        host.stop()


def test_nxdomain_bounces(ternd_factory, dns):
    t = ternd_factory(dns_conf(dns, 25, retry_first="1m", retry_max="1m"),
                      args=RELAY)
    send(t, ["bob@no-such-domain.test"])
    (d,) = wait_reports(t, 1)
    check_report_frame(d, t, "failed")
    check_rcpt(d, "bob@no-such-domain.test", r"5\.1\.2", remote=False)
    wait_queue_empty(t)


def test_route_wins_over_smarthost(ternd_factory, sink):
    smart = Sink(name="smarthost.test")
    try:
        t = start(ternd_factory, sink,
                  smarthost="127.0.0.1:%d" % smart.port)
        send(t, ["bob@remote.example"], message("routed"))
        send(t, ["bob@elsewhere.example"], message("smarthosted"))
        assert sink.wait(lambda: sink.delivered(), 15)
        assert smart.wait(lambda: smart.delivered(), 15)
        wait_queue_empty(t)
        assert [x.rcpts for x in sink.delivered()] == [["bob@remote.example"]]
        assert [x.rcpts for x in smart.delivered()] == [
            ["bob@elsewhere.example"]]
    finally:
        smart.stop()


# ------------------------------------------------------------ connections

def test_connection_reuse(ternd_factory, sink):
    t = start(ternd_factory, sink)
    send(t, ["bob@remote.example"], message("one"))
    assert sink.wait(lambda: len(sink.delivered()) == 1, 15)
    wait_queue_empty(t)
    send(t, ["carol@remote.example"], message("two"))
    assert sink.wait(lambda: len(sink.delivered()) == 2, 15)
    assert sink.connections == 1, sink.commands
    assert [x.conn for x in sink.delivered()] == [1, 1]
    assert len(sink.command_lines("EHLO")) == 1


def test_connection_closed_by_server_while_idle(ternd_factory, sink):
    """A kept connection the server has closed is not a failure: the next
    message goes on a new connection in the same attempt."""
    t = start(ternd_factory, sink, retry_first="1m", retry_max="1m")
    send(t, ["bob@remote.example"], message("one"))
    assert sink.wait(lambda: len(sink.delivered()) == 1, 15)
    wait_queue_empty(t)
    sink.close_all()
    time.sleep(0.3)
    send(t, ["carol@remote.example"], message("two"))
    assert sink.wait(lambda: len(sink.delivered()) == 2, 10), t.log_text()
    wait_queue_empty(t)
    assert sink.connections == 2


def test_destination_concurrency_limit(ternd_factory, sink):
    sink.on("DOT", Delay(0.7))
    t = start(ternd_factory, sink, relay_destination_concurrency="2")
    n = 6
    for i in range(n):
        send(t, ["r%d@remote.example" % i], message("c%d" % i))
    assert sink.wait(lambda: len(sink.delivered()) == n, 30), t.log_text()
    wait_queue_empty(t)
    # the limit is used (six messages wait for a slow server) and never
    # exceeded
    assert sink.max_open == 2, sink.max_open
    assert sorted(r for x in sink.delivered() for r in x.rcpts) == sorted(
        "r%d@remote.example" % i for i in range(n))


# ------------------------------------------------------------ kill -9

def test_kill9_during_slow_delivery_loses_nothing(ternd_factory, sink):
    sink.on("DOT", Delay(8), times=1)
    t = start(ternd_factory, sink, relay_data_timeout="20s")
    msg = message("killed")
    send(t, ["bob@remote.example"], msg)
    assert sink.wait(lambda: sink.data_received == 1, 15)
    t.kill9()
    t.start()
    assert sink.wait(lambda: sink.delivered(), 15), t.log_text()
    wait_queue_empty(t)
    # the interrupted transaction never got its 250: exactly one copy
    (txn,) = sink.delivered()
    assert txn.data.endswith(msg)
    time.sleep(0.3)
    assert len(sink.delivered()) == 1


def test_kill9_in_duplicate_window(ternd_factory, sink):
    """Killed between the remote 250 and the envelope update: sent again
    after the restart (the documented window), exactly once more."""
    t = start(ternd_factory, sink)
    sink.on("DOT", Call(t.kill9), times=1)
    msg = message("window")
    send(t, ["bob@remote.example"], msg)
    assert sink.wait(lambda: sink.delivered(), 15)
    assert t.proc.poll() is not None
    t.start()
    assert sink.wait(lambda: len(sink.delivered()) == 2, 15), t.log_text()
    wait_queue_empty(t)
    first, second = sink.delivered()
    assert first.data == second.data and first.data.endswith(msg)
    time.sleep(0.3)
    assert len(sink.delivered()) == 2


# ------------------------------------------------------------ tern queue

def test_queue_flush_delete_bounce(ternd_factory, sink):
    sink.on("RCPT", "450 4.2.1 Busy", rcpt="bob", times=1)
    sink.on("RCPT", "452 4.2.2 Mailbox full", rcpt="carol")
    sink.on("RCPT", "451 4.3.0 Try later", rcpt="dave")
    # nothing is retried by itself during the test
    t = start(ternd_factory, sink, retry_first="10m", retry_max="10m")
    q1 = send(t, ["bob@remote.example"], message("flushed"))
    q2 = send(t, ["carol@remote.example"], message("deleted"))
    q3 = send(t, ["dave@remote.example"], message("bounced"))
    for qid, addr in ((q1, "bob"), (q2, "carol"), (q3, "dave")):
        wait_deferred(t, qid, addr + "@remote.example")

    r = tern(t, "flush", q1)
    assert r.returncode == 0, r.stderr
    assert sink.wait(lambda: sink.delivered(), 10), t.log_text()
    assert sink.delivered()[0].rcpts == ["bob@remote.example"]
    assert wait_for(lambda: q1 not in queue(t), 10)

    r = tern(t, "delete", q2)
    assert r.returncode == 0, r.stderr
    assert q2 not in queue(t)
    assert not (t.root / "spool" / "env" / q2).exists()
    assert not (t.root / "spool" / "msg" / q2).exists()

    r = tern(t, "bounce", q3)
    assert r.returncode == 0, r.stderr
    (d,) = wait_reports(t, 1)
    check_report_frame(d, t, "failed")
    check_rcpt(d, "dave@remote.example", r"5\.\d+\.\d+", remote=False)
    assert "Subject: bounced" in d.headers
    assert "451 4.3.0 Try later" in d.human
    wait_queue_empty(t)

    # with the sink healthy again nothing of the deleted or bounced
    # messages goes out
    sink.clear()
    r = tern(t, "flush")
    assert r.returncode == 0, r.stderr
    time.sleep(1.0)
    assert len(sink.delivered()) == 1
    assert len(reports(t)) == 1


# ------------------------------------------------------------ relay access

def test_relay_denied_outside_relay_networks(ternd_factory, sink):
    t = ternd_factory(relay_conf(sink),
                      args=("-o", "relay_networks=127.0.0.2/32"))
    with smtplib.SMTP(t.host, t.port, timeout=10,
                      source_address=("127.0.0.1", 0)) as s:
        s.ehlo("outside.test")
        assert s.mail(ALICE)[0] == 250
        code, resp = s.rcpt("bob@remote.example")
        assert code == 550, resp
        assert resp.startswith(b"5.7.1 "), resp
        assert b"relay" in resp.lower(), resp
        # local mail is still accepted from anyone
        assert s.rcpt("bob@example.test")[0] == 250
    send(t, ["bob@remote.example"], message("inside"),
         source=("127.0.0.2", 0))
    assert sink.wait(lambda: sink.delivered(), 15), t.log_text()
    (txn,) = sink.delivered()
    assert txn.rcpts == ["bob@remote.example"]
    wait_queue_empty(t)
