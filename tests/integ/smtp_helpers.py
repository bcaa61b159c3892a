"""Helpers for the end-to-end SMTP tests (tests/integ/test_smtp_*.py).

A raw-socket client that reads whole replies and checks their form, a
parser for the files ternd stores, and a few shortcuts for a complete
transaction. Everything talks to 127.0.0.1 with generous timeouts: a
slow machine may be slow, but a test never waits on a fixed sleep except
where it tests a timeout.
"""
import contextlib
import email.utils
import os
import re
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

from conftest import BASE_CONFIG, TERND, body_of, free_port  # noqa: F401

HOST = "mx.test.example"
IO_TIMEOUT = 30.0

ESC_RE = re.compile(rb"^([245])\.(\d{1,3})\.(\d{1,3})$")
QID_RE = r"[0-9A-Za-z_-]{1,64}"

EHLO_KEYWORDS = ["PIPELINING", "SIZE 1048576", "8BITMIME",
                 "ENHANCEDSTATUSCODES", "SMTPUTF8", "CHUNKING"]


# ---- replies ----------------------------------------------------------

@dataclass
class Reply:
    code: int
    esc: str | None            # enhanced code of the last line, or None
    texts: list = field(default_factory=list)  # text after code (and esc)
    raw: bytes = b""

    @property
    def text(self):
        return self.texts[-1] if self.texts else ""

    def __str__(self):
        return self.raw.decode("utf-8", "replace").rstrip("\r\n")


class Closed(Exception):
    """The server closed the connection before a full reply."""


def parse_reply_lines(lines):
    """Turn raw reply lines (with CRLF) into a Reply, checking RFC 5321
    4.2.1 / RFC 2034 form: same code on every line, '-' on all but the
    last, the same enhanced code (or none) on every line, class digit =
    first digit of the code, at most 512 octets per line."""
    raw = b"".join(lines)
    code = None
    escs = []
    texts = []
    for i, line in enumerate(lines):
        assert line.endswith(b"\r\n"), f"reply line without CRLF: {line!r}"
        assert len(line) <= 512, f"reply line over 512 octets: {line[:80]!r}"
        body = line[:-2]
        assert re.match(rb"^[2-5]\d\d[ -]", body) or re.match(
            rb"^[2-5]\d\d$", body), f"bad reply line {line!r}"
        c = int(body[:3])
        if code is None:
            code = c
        assert c == code, f"code changes inside a multi-line reply: {raw!r}"
        last = i == len(lines) - 1
        sep = body[3:4]
        if last:
            assert sep in (b" ", b""), f"last line must be 'code SP': {raw!r}"
        else:
            assert sep == b"-", f"continuation needs 'code-': {raw!r}"
        rest = body[4:]
        first, _, after = rest.partition(b" ")
        if ESC_RE.match(first):
            assert int(first[:1]) == code // 100, \
                f"enhanced code class differs from the reply code: {raw!r}"
            escs.append(first.decode())
            texts.append(after.decode("utf-8", "replace"))
        else:
            escs.append(None)
            texts.append(rest.decode("utf-8", "replace"))
    assert len(set(escs)) == 1, f"enhanced code differs between lines: {raw!r}"
    return Reply(code, escs[-1], texts, raw)


class Client:
    """A line-oriented SMTP client on a raw socket."""

    def __init__(self, ternd=None, *, port=None, host="127.0.0.1",
                 source=None, timeout=IO_TIMEOUT, greet=True):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        if source is not None:
            self.sock.bind((source, 0))
        self.sock.connect((host, port if port is not None else ternd.port))
        self.buf = b""
        self.greeting = None
        if greet:
            self.greeting = self.reply()

    # -- io
    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise Closed(self.buf)
        self.buf += chunk

    def readline(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line + b"\r\n"

    def reply(self):
        """Read one complete (possibly multi-line) reply."""
        lines = []
        while True:
            line = self.readline()
            lines.append(line)
            if line[3:4] != b"-":
                return parse_reply_lines(lines)

    def replies(self, n):
        return [self.reply() for _ in range(n)]

    def cmd(self, line):
        """Send one command line (CRLF added) and read its reply."""
        if isinstance(line, str):
            line = line.encode()
        self.send(line + b"\r\n")
        return self.reply()

    def expect(self, line, code, esc, text=None):
        r = self.cmd(line)
        check(r, code, esc, text)
        return r

    def wait_closed(self, timeout=IO_TIMEOUT):
        """Assert that the server closes the connection (recv gives b"")
        without sending anything more."""
        self.sock.settimeout(timeout)
        extra = self.buf
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                extra += chunk
        except ConnectionResetError:
            pass
        assert extra == b"", f"unexpected bytes before close: {extra[:200]!r}"

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- shortcuts
    def ehlo(self, name="client.example"):
        r = self.cmd(f"EHLO {name}")
        check(r, 250, None)
        return r

    def helo(self, name="client.example"):
        r = self.cmd(f"HELO {name}")
        check(r, 250, None, HOST)
        return r

    def mail(self, sender="sender@remote.example", params=""):
        sp = f" {params}" if params else ""
        return self.expect(f"MAIL FROM:<{sender}>{sp}", 250, "2.1.0")

    def rcpt(self, rcpt="alice@example.test"):
        return self.expect(f"RCPT TO:<{rcpt}>", 250, "2.1.5")

    def data(self, message, stuff=True):
        """DATA, the message (dot-stuffed unless stuff=False), '.':
        returns the queue id from the 250 reply."""
        check(self.cmd("DATA"), 354, None)
        self.send((dot_stuff(message) if stuff else message) + b".\r\n")
        return queued(self.reply())

    def quit(self):
        r = self.cmd("QUIT")
        check(r, 221, "2.0.0")
        assert r.text.startswith(HOST + " "), r
        self.wait_closed()


def check(r, code, esc, text=None):
    """Assert a reply's code and enhanced code (None: must have none);
    text, if given, must occur in the last line's text."""
    assert (r.code, r.esc) == (code, esc), \
        f"got {str(r)!r}, want {code} {esc or '(no enhanced code)'}"
    if text is not None:
        assert text in r.text, f"got {str(r)!r}, want text containing {text!r}"


def queued(r):
    """Assert '250 2.0.0 Ok: queued as QID' and return QID."""
    check(r, 250, "2.0.0")
    m = re.fullmatch(r"Ok: queued as (" + QID_RE + ")", r.text)
    assert m, f"got {str(r)!r}, want '250 2.0.0 Ok: queued as <QID>'"
    return m.group(1)


def check_greeting_type(r, code, esc):
    """220/221/421: the host name is the first word of the text."""
    check(r, code, esc)
    assert r.text.split(" ")[0] == HOST, \
        f"got {str(r)!r}, want {HOST} as the first word"


# ---- messages ---------------------------------------------------------

def dot_stuff(msg: bytes) -> bytes:
    """RFC 5321 4.5.2: double a leading dot; msg must end with CRLF
    (or be empty)."""
    assert msg == b"" or msg.endswith(b"\r\n"), "message must end in CRLF"
    lines = msg.split(b"\r\n")
    return b"\r\n".join(b"." + ln if ln.startswith(b".") else ln
                        for ln in lines)


def simple_message(subject="test", body="Hello.", msgid=None, extra=""):
    msgid = msgid or email.utils.make_msgid(domain="client.example")
    return (f"From: <sender@remote.example>\r\n"
            f"To: <alice@example.test>\r\n"
            f"Subject: {subject}\r\n"
            f"Message-ID: {msgid}\r\n"
            f"{extra}"
            f"\r\n"
            f"{body}\r\n").encode()


def send_message(ternd, message, sender="sender@remote.example",
                 rcpts=("alice@example.test",), helo="client.example",
                 mail_params="", esmtp=True):
    """One complete transaction on a new connection: returns the qid."""
    with Client(ternd) as c:
        if esmtp:
            c.ehlo(helo)
        else:
            c.helo(helo)
        c.mail(sender, mail_params)
        for r in rcpts:
            c.rcpt(r)
        qid = c.data(message)
        c.quit()
    return qid


@dataclass
class Stored:
    return_path: str
    helo: str
    ip: str
    proto: str
    qid: str
    for_rcpt: str | None
    date: str
    body: bytes


RECEIVED_RE = re.compile(
    rb"Return-Path: <([^\r\n>]*)>\r\n"
    rb"Received: from (\S+) \(\[([0-9.]+)\]\)\r\n"
    rb"\tby " + re.escape(HOST.encode()) +
    rb" \(tern\) with (SMTP|ESMTP|UTF8SMTP) id (" + QID_RE.encode() + rb")"
    rb"(?:\r\n\tfor <([^\r\n>]*)>)?"
    rb"; ([^\r\n]+)\r\n", re.S)


def parse_stored(data: bytes) -> Stored:
    """Split a stored file into our trace headers and the message; assert
    the trace headers' exact form."""
    m = RECEIVED_RE.match(data)
    assert m, f"stored file does not start with our trace headers: " \
              f"{data[:300]!r}"
    date = m.group(7).decode()
    assert re.fullmatch(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d "
                        r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                        r"\d{4} \d\d:\d\d:\d\d \+0000", date), date
    when = email.utils.parsedate_to_datetime(date).timestamp()
    assert abs(when - time.time()) < 3600, f"Received date is off: {date}"
    st = Stored(return_path=m.group(1).decode("utf-8"),
                helo=m.group(2).decode(), ip=m.group(3).decode(),
                proto=m.group(4).decode(), qid=m.group(5).decode(),
                for_rcpt=(m.group(6).decode("utf-8")
                          if m.group(6) is not None else None),
                date=date, body=data[m.end():])
    assert body_of(data) == st.body
    return st


def maildir_files(ternd, user, domain="example.test", sub="new"):
    d = ternd.maildir(user, domain) / sub
    if not d.is_dir():
        return []
    return sorted(d.iterdir(), key=lambda p: p.name)


def maildir_host():
    """The host part ternd puts in Maildir names ('/' and ':' escaped)."""
    h = socket.gethostname() or "localhost"
    return h.replace("/", "\\057").replace(":", "\\072")


def check_maildir_name(path: Path, qid, pid):
    m = re.fullmatch(r"(\d+)\.M(\d{6})P(\d+)Q(" + QID_RE + r")\.(.+),S=(\d+)",
                     path.name)
    assert m, f"Maildir name {path.name!r} does not match " \
              f"<sec>.M<usec>P<pid>Q<qid>.<host>,S=<size>"
    sec, _, p, q, host, size = m.groups()
    assert abs(int(sec) - time.time()) < 3600, path.name
    assert int(p) == pid, f"pid in name {p}, ternd pid {pid}"
    assert q == qid, f"qid in name {q}, reply said {qid}"
    assert host == maildir_host(), f"host in name {host!r}"
    assert int(size) == path.stat().st_size, \
        f"S={size} but the file has {path.stat().st_size} octets"


def all_stored(ternd):
    """Every file under the Maildir root's new/ dirs: {path: bytes}."""
    root = ternd.root / "mail"
    out = {}
    if root.is_dir():
        for p in root.glob("*/*/new/*"):
            out[p] = p.read_bytes()
    return out


def tmp_files(ternd):
    root = ternd.root / "mail"
    return sorted(root.glob("*/*/tmp/*")) if root.is_dir() else []


def assert_nothing_stored(ternd):
    files = all_stored(ternd)
    assert not files, f"want nothing stored, found {sorted(files)}"
    assert not tmp_files(ternd), f"tmp/ not empty: {tmp_files(ternd)}"


def config_with(**keys):
    """BASE_CONFIG with single-line keys replaced (value None: removed);
    for keys BASE_CONFIG does not have, use the factory's extra text."""
    text = BASE_CONFIG
    for k, v in keys.items():
        pat = re.compile(rf"^{re.escape(k)} = .*\n", re.M)
        assert pat.search(text), f"{k} is not a single-line key of BASE_CONFIG"
        text = pat.sub("" if v is None else f"{k} = {v}\n", text)
    return text


def wait_for(pred, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def run_env():
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    return env


class Cases:
    """Many small cases against one ternd: each runs on its own
    connection; every failing case is reported, not just the first."""

    def __init__(self):
        self.failures = []

    @contextlib.contextmanager
    def case(self, name):
        try:
            yield
        except (AssertionError, Closed, OSError) as e:
            self.failures.append(f"[{name}] {e}")

    def done(self):
        assert not self.failures, \
            f"{len(self.failures)} case(s) failed:\n" + "\n".join(
                self.failures)
