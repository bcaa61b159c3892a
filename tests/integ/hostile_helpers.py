"""Helpers for the hostile-input and slow-client tests
(test_hostile.py, test_slow_clients.py).

- a reference model of what ternd must store for given DATA / BDAT
  octets (line endings normalised to CRLF, dot-unstuffing, lone-dot
  lines that do not end the data kept as ".")
- reading every reply until the server closes the connection
- the daemon's memory (VmRSS / VmHWM from /proc) and whether it is an
  ASan build
- a second client that keeps doing NOOP round trips while a test
  attacks the server, to prove others are served throughout
- a background sender, so a test can read replies while a big pipelined
  write is still going out (no deadlock on full socket buffers)
- a real TLS ClientHello made with Python's ssl module
- module-scoped ternd instances (starting an ASan ternd costs about a
  second on a loaded machine; many small cases share one)
"""
import re
import socket
import ssl
import threading
import time

from conftest import Ternd
from smtp_helpers import (Client, Closed, check, parse_stored,
                          simple_message, send_message, all_stored,
                          tmp_files)

LINE_END = re.compile(rb"\r\n|\r|\n")
BARE = re.compile(rb"\r(?!\n)|(?<!\r)\n")

# The second transaction an attacker hides inside the first message.
SMUGGLED = (b"MAIL FROM:<evil@attacker.example>\r\n"
            b"RCPT TO:<bob@example.test>\r\n"
            b"DATA\r\n"
            b"From: <ceo@example.test>\r\n"
            b"Subject: smuggled\r\n"
            b"\r\n"
            b"wire the money\r\n")


# ---- what must be stored ------------------------------------------------

def expected_data_store(content: bytes) -> bytes:
    """What ternd must store for DATA content: the octets after the 354
    up to, not including, the final ".<CR><LF>" (so content ends with
    the CRLF that starts the terminator, or is empty).

    Every line ending (CRLF, bare CR, bare LF; CR CR LF is a bare CR and
    a CRLF) becomes CRLF; a line that starts with a dot and has more
    after it loses that dot (RFC 5321 4.5.2); a lone "." line that does
    not end the data is content and is stored as ".".
    """
    assert content == b"" or content.endswith(b"\r\n"), content[-20:]
    # the data starts at the beginning of a line (after DATA's CRLF)
    assert b"\r\n.\r\n" not in b"\r\n" + content, \
        "test bug: the content holds a real end of data"
    parts = LINE_END.split(content)
    out = []
    for ln in parts[:-1]:
        if ln.startswith(b".") and ln != b".":
            ln = ln[1:]
        out.append(ln + b"\r\n")
    assert parts[-1] == b""
    return b"".join(out)


def expected_bdat_store(content: bytes) -> bytes:
    """BDAT: octets are counted, dots mean nothing; only line endings
    are normalised."""
    return LINE_END.sub(b"\r\n", content)


def bare_endings(data: bytes):
    """Offsets of every bare CR or bare LF in data."""
    return [m.start() for m in BARE.finditer(data)]


def assert_no_bare(data: bytes):
    bad = bare_endings(data)
    assert not bad, (f"stored file has {len(bad)} bare CR/LF, first at "
                     f"{bad[0]}: {data[max(0, bad[0] - 30):bad[0] + 30]!r}")


# ---- replies ------------------------------------------------------------

def read_until_close(c: Client, timeout=20.0, limit=100_000):
    """Every reply until the server closes the connection; asserts that
    no partial reply is left over."""
    c.sock.settimeout(timeout)
    out = []
    while len(out) < limit:
        try:
            out.append(c.reply())
        except Closed:
            break
        except ConnectionResetError:
            break
    assert c.buf == b"", f"partial reply before the close: {c.buf[:200]!r}"
    return out


def codes(replies):
    """[(code, esc), ...] of a list of replies: easy to compare whole."""
    return [(r.code, r.esc) for r in replies]


# ---- the daemon's memory ----------------------------------------------

def proc_status(pid, key):
    """A kB value from /proc/PID/status (VmRSS, VmHWM)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def rss_mb(pid):
    return proc_status(pid, "VmRSS") / 1024


def is_asan(pid):
    """Is the running ternd a sanitizer build (libasan mapped, or linked
    in statically)?"""
    with open(f"/proc/{pid}/maps") as f:
        maps = f.read()
    if "libasan" in maps:
        return True
    exe = open(f"/proc/{pid}/exe", "rb").read()
    return b"__asan_init" in exe


class MemWatch:
    """Sample ternd's VmRSS every few milliseconds while a test runs;
    .check() asserts the peak stayed bounded: at most grow_mb above the
    start for a normal build, under asan_mb in all for an ASan build
    (ASan keeps freed memory in quarantine and has big shadow pages, so
    only an absolute bound makes sense there)."""

    def __init__(self, ternd, grow_mb=60, asan_mb=300):
        self.pid = ternd.proc.pid
        self.asan = is_asan(self.pid)
        self.grow_mb = grow_mb
        self.asan_mb = asan_mb
        self.start_mb = rss_mb(self.pid)
        self.peak_mb = self.start_mb
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                self.peak_mb = max(self.peak_mb, rss_mb(self.pid))
            except (OSError, KeyError):
                return
            self._stop.wait(0.005)

    def check(self):
        self._stop.set()
        self._t.join(5)
        try:
            self.peak_mb = max(self.peak_mb, rss_mb(self.pid))
        except (OSError, KeyError):
            pass
        print(f"ternd RSS: start {self.start_mb:.0f} MB, peak "
              f"{self.peak_mb:.0f} MB{' (ASan)' if self.asan else ''}")
        if self.asan:
            assert self.peak_mb < self.asan_mb, \
                (f"ternd (ASan) RSS peaked at {self.peak_mb:.0f} MB "
                 f"(start {self.start_mb:.0f} MB), want < {self.asan_mb} MB")
        else:
            assert self.peak_mb - self.start_mb < self.grow_mb, \
                (f"ternd RSS grew from {self.start_mb:.0f} MB to "
                 f"{self.peak_mb:.0f} MB, want < +{self.grow_mb} MB")
        return self.peak_mb


# ---- others are served ------------------------------------------------

class Prober(threading.Thread):
    """A well-behaved client that does NOOP round trips on its own
    session while something else hammers the server; .finish() asserts
    it was answered every time, never slower than max_latency seconds."""

    def __init__(self, ternd, interval=0.05, source=None):
        super().__init__(daemon=True)
        self.c = Client(ternd, timeout=30, source=source)
        check(self.c.cmd("EHLO prober.example"), 250, None)
        self.interval = interval
        self.stop_ev = threading.Event()
        self.latencies = []
        self.error = None
        self.start()

    def run(self):
        try:
            while not self.stop_ev.is_set():
                t0 = time.monotonic()
                check(self.c.cmd("NOOP"), 250, "2.0.0")
                self.latencies.append(time.monotonic() - t0)
                self.stop_ev.wait(self.interval)
        except Exception as e:          # reported by finish()
            self.error = e

    def finish(self, max_latency=5.0, min_rounds=1):
        self.stop_ev.set()
        self.join(40)
        assert not self.is_alive(), "the prober's NOOP never came back"
        assert self.error is None, f"the other client failed: {self.error!r}"
        try:
            self.c.quit()
        finally:
            self.c.close()
        assert len(self.latencies) >= min_rounds, \
            f"the other client got only {len(self.latencies)} replies"
        worst = max(self.latencies)
        assert worst < max_latency, \
            f"the other client waited {worst:.2f} s for a NOOP reply"
        return worst


class Sender(threading.Thread):
    """sendall() in the background (the server may close the connection
    on us: that is recorded, not raised)."""

    def __init__(self, sock, data, chunk=None):
        super().__init__(daemon=True)
        self.sock, self.data, self.chunk = sock, data, chunk
        self.error = None
        self.sent = 0
        self.start()

    def run(self):
        try:
            if self.chunk is None:
                self.sock.sendall(self.data)
                self.sent = len(self.data)
            else:
                for i in range(0, len(self.data), self.chunk):
                    part = self.data[i:i + self.chunk]
                    self.sock.sendall(part)
                    self.sent += len(part)
        except OSError as e:
            self.error = e

    def wait(self, timeout=60):
        self.join(timeout)
        assert not self.is_alive(), "sending did not finish"


def deliver_ok(ternd, subject="after the attack"):
    """A new client gets 220 and delivers a message that is stored."""
    before = set(all_stored(ternd))
    msg = simple_message(subject=subject)
    qid = send_message(ternd, msg)
    new = {p: d for p, d in all_stored(ternd).items() if p not in before}
    assert len(new) == 1, f"want one new message, got {sorted(new)}"
    st = parse_stored(next(iter(new.values())))
    assert (st.qid, st.body) == (qid, msg)


def assert_alive(ternd):
    assert ternd.proc.poll() is None, \
        f"ternd exited ({ternd.proc.returncode}):\n{ternd.log_text()[-3000:]}"
    report = ternd.sanitizer_report()
    assert not report, "sanitizer report:\n" + ternd.log_text()[-6000:]


def wait_log(ternd, pattern, timeout=20.0, count=1):
    """Wait until pattern (a regex) matches count lines of the log."""
    rx = re.compile(pattern)
    deadline = time.monotonic() + timeout
    while True:
        n = sum(1 for ln in ternd.log_text().splitlines() if rx.search(ln))
        if n >= count:
            return n
        if time.monotonic() > deadline:
            raise AssertionError(
                f"log has {n} lines matching {pattern!r}, want {count}:\n"
                + ternd.log_text()[-3000:])
        time.sleep(0.05)


def new_files(ternd, before):
    """{path: bytes} stored since the snapshot before (a dict/set)."""
    return {p: d for p, d in all_stored(ternd).items() if p not in before}


def no_tmp_left(ternd):
    assert tmp_files(ternd) == [], f"tmp/ not empty: {tmp_files(ternd)}"


# ---- TLS ----------------------------------------------------------------

def tls_client_hello(server_name="mx.test.example"):
    """The first flight of a real TLS client: a ClientHello record."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname=server_name)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = outgoing.read()
    assert hello[:1] == b"\x16" and hello[5:6] == b"\x01", hello[:8]
    return hello


# ---- shared daemons -----------------------------------------------------

class SharedTernd:
    """ternd instances shared by the tests of one module, keyed by their
    extra configuration and -o arguments. Each test still checks that
    the daemon is alive and free of sanitizer reports when it ends, and
    the module's end stops them and checks LeakSanitizer."""

    def __init__(self, tmp_path_factory):
        self.factory = tmp_path_factory
        self.started = {}

    def get(self, extra="", args=()):
        key = (extra, tuple(args))
        t = self.started.get(key)
        if t is None or t.proc.poll() is not None:
            d = self.factory.mktemp("ternd")
            t = Ternd(d, extra)
            t.start(*args)
            self.started[key] = t
        return t

    def close(self):
        problems = []
        for t in self.started.values():
            t.stop()
            report = t.sanitizer_report()
            if report:
                problems.append(t.log_text())
        assert not problems, "sanitizer report:\n" + "\n".join(problems)


def raw_connect(ternd, timeout=10.0):
    s = socket.create_connection((ternd.host, ternd.port), timeout)
    s.settimeout(timeout)
    return s


def set_linger0(sock):
    """close() then sends RST instead of FIN."""
    import struct
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                    struct.pack("ii", 1, 0))
