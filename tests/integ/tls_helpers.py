"""Helpers for tests/integ/test_tls_auth.py (STARTTLS, implicit TLS, AUTH).

Certificates are made with the openssl command line in the test session
(self-signed, with subjectAltName; `openssl ca -selfsign` for validity
periods in the past or the future), users files with `tern passwd`, and
configurations with three listeners: smtp ({port}, the one the fixtures
wait on), submission and submissions. The clients are raw sockets
(smtp_helpers.Client) wrapped in TLS by Python's ssl module, so every
byte before and after the handshake is under the test's control.
Everything talks to 127.0.0.1 (or another 127/8 source address).
"""
import base64
import os
import re
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from conftest import ROOT, free_port
from smtp_helpers import HOST, IO_TIMEOUT, Client, check, wait_for

TERN_BIN = os.environ.get("TERN_BIN", str(ROOT / "build" / "tern"))

# what EHLO lists after the greeting line, without STARTTLS and AUTH
PLAIN_KEYWORDS = ["PIPELINING", "SIZE 1048576", "8BITMIME",
                  "ENHANCEDSTATUSCODES", "SMTPUTF8", "CHUNKING"]
AUTH_KEYWORD = "AUTH PLAIN LOGIN"

USERS = {"alice": "secret", "bob": "hunter2 with spaces"}


# ---- certificates -----------------------------------------------------

@dataclass
class Pair:
    cert: Path
    key: Path
    subject: str        # RFC 2253 form, e.g. "O=tern tests,CN=mx.test.example"


def openssl(*args, cwd=None):
    p = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True,
                       timeout=60)
    assert p.returncode == 0, \
        f"openssl {' '.join(map(str, args))} failed:\n" + \
        (p.stdout + p.stderr).decode("utf-8", "replace")
    return p.stdout


CA_CNF = """\
[ca]
default_ca = tern_ca
[tern_ca]
dir = .
database = ./index.txt
new_certs_dir = .
serial = ./serial
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = copy
email_in_dn = no
[anything]
commonName = supplied
organizationName = optional
"""


def make_pair(d: Path, stem, cn, org="tern tests", sans=None,
              not_before=None, not_after=None, key="ec"):
    """A self-signed certificate and its key in d/STEM.pem, d/STEM.key.
    sans defaults to [cn]. not_before/not_after ("YYYYMMDDHHMMSSZ") make
    a certificate with that validity period (openssl ca -selfsign, since
    openssl 3.0's req/x509 cannot set dates in the past)."""
    d.mkdir(parents=True, exist_ok=True)
    cert, keyf = d / f"{stem}.pem", d / f"{stem}.key"
    sans = sans if sans is not None else [cn]
    subj = f"/O={org}/CN={cn}"
    newkey = (["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
              if key == "ec" else ["-newkey", "rsa:2048"])
    ext = ["-addext", "subjectAltName=" + ",".join(f"DNS:{n}" for n in sans)]
    if not_before is None and not_after is None:
        openssl("req", "-x509", *newkey, "-nodes", "-keyout", keyf,
                "-out", cert, "-days", "30", "-subj", subj, *ext)
    else:
        ca = d / f"{stem}.ca"
        ca.mkdir()
        (ca / "index.txt").write_text("")
        (ca / "serial").write_text("01\n")
        (ca / "ca.cnf").write_text(CA_CNF)
        openssl("req", "-new", *newkey, "-nodes", "-keyout", keyf,
                "-out", ca / "req.csr", "-subj", subj, *ext)
        openssl("ca", "-batch", "-config", "ca.cnf", "-selfsign",
                "-keyfile", keyf, "-in", "req.csr", "-out", cert, "-notext",
                "-startdate", not_before or "20200101000000Z",
                "-enddate", not_after or "20991231000000Z", cwd=ca)
    return Pair(cert, keyf, subject_of_pem(cert))


def subject_of_pem(path):
    out = openssl("x509", "-in", path, "-noout", "-subject", "-nameopt",
                  "RFC2253").decode().strip()
    return out.removeprefix("subject=")


def subject_of_der(der: bytes):
    p = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout",
                        "-subject", "-nameopt", "RFC2253"], input=der,
                       capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return p.stdout.decode().strip().removeprefix("subject=")


def peer_subject(sock):
    """The subject of the certificate the server sent on this TLS socket."""
    der = sock.getpeercert(binary_form=True)
    assert der, "the server sent no certificate"
    return subject_of_der(der)


def copy_pair(src: Pair, dst: Pair):
    """Overwrite dst's files with src's (for reload tests)."""
    dst.cert.write_bytes(src.cert.read_bytes())
    dst.key.write_bytes(src.key.read_bytes())


# ---- users --------------------------------------------------------------

def hash_password(name, password):
    """`tern passwd NAME` with the password on stdin: returns NAME:HASH."""
    p = subprocess.run([TERN_BIN, "passwd", name],
                       input=(password + "\n").encode(), capture_output=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr.decode("utf-8", "replace")
    line = p.stdout.decode().strip()
    assert line.startswith(name + ":$"), line
    return line


def write_users(path: Path, users: dict):
    path.write_text("".join(hash_password(n, pw) + "\n"
                            for n, pw in users.items()))
    return path


# ---- configuration ------------------------------------------------------

class Ports:
    """The three listeners of a TLS configuration."""

    def __init__(self):
        self.sub = free_port()
        self.subs = free_port()
        while self.subs == self.sub:
            self.subs = free_port()


def tls_config(ports: Ports, pairs=(), users=None, extra="",
               submission=True, command_timeout="30s"):
    """A whole configuration (with {port}/{root} placeholders for Ternd):
    the base test settings, smtp on {port}, and unless submission=False
    submission and submissions listeners."""
    listen = "127.0.0.1:{port}"
    if submission:
        listen += (f", 127.0.0.1:{ports.sub}/submission"
                   f", 127.0.0.1:{ports.subs}/submissions")
    lines = [
        "hostname = mx.test.example",
        f"listen = {listen}",
        "domains = example.test, localhost",
        "mailboxes = alice, bob, postmaster",
        "maildir_root = {root}/mail",
        "spool_dir = {root}/spool",
        "max_message_size = 1M",
        f"command_timeout = {command_timeout}",
        "data_timeout = 30s",
        "relay_networks =",
    ]
    if pairs:
        lines.append("tls_cert = " + ", ".join(str(p.cert) for p in pairs))
        lines.append("tls_key = " + ", ".join(str(p.key) for p in pairs))
    if users is not None:
        lines.append(f"users = {users}")
    text = "\n".join(lines) + "\n" + extra
    # paths may not contain braces: they would break str.format
    assert "{" not in text.replace("{port}", "").replace("{root}", "")
    return text


# ---- TLS clients ----------------------------------------------------------

def client_context(minimum=None, maximum=None, strict_eof=False):
    """A client context that accepts any certificate (the tests look at
    the certificate themselves). strict_eof: a TCP close without a TLS
    close_notify is an error (SSLEOFError), not a clean end; Python
    ignores it by default (OP_IGNORE_UNEXPECTED_EOF)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if strict_eof:
        ctx.options &= ~ssl.OP_IGNORE_UNEXPECTED_EOF
    if minimum is not None:
        ctx.minimum_version = minimum
    if maximum is not None:
        ctx.maximum_version = maximum
    return ctx


class TLSClient(Client):
    """smtp_helpers.Client that can switch to TLS (STARTTLS) or start in
    it (implicit TLS, RFC 8314)."""

    @classmethod
    def implicit(cls, port, ctx=None, sni=None, source=None,
                 timeout=IO_TIMEOUT, ragged_ok=True):
        c = cls(port=port, source=source, timeout=timeout, greet=False)
        c.sock = (ctx or client_context()).wrap_socket(
            c.sock, server_hostname=sni, suppress_ragged_eofs=ragged_ok)
        c.greeting = c.reply()
        return c

    def starttls(self, ctx=None, sni=None, ragged_ok=True):
        """STARTTLS, 220 2.0.0, then the handshake on the same socket.
        ragged_ok=False: a close without close_notify raises SSLEOFError
        instead of looking like a clean end."""
        r = self.cmd("STARTTLS")
        check(r, 220, "2.0.0", "Ready to start TLS")
        assert self.buf == b"", \
            f"bytes after the 220 to STARTTLS: {self.buf!r}"
        self.sock = (ctx or client_context()).wrap_socket(
            self.sock, server_hostname=sni, suppress_ragged_eofs=ragged_ok)
        return r

    def ehlo_keywords(self, name="client.example"):
        r = self.ehlo(name)
        assert r.texts[0] == f"{HOST} Hello {name}", r
        return r.texts[1:]

    def auth_plain(self, user, password, authzid=""):
        return self.cmd("AUTH PLAIN " + plain_b64(user, password, authzid))

    def login(self, user="alice", password=None):
        r = self.auth_plain(user, USERS[user] if password is None
                            else password)
        check(r, 235, "2.7.0", "Authentication successful")
        return r

    def no_more_replies(self, wait=0.5):
        """Nothing else arrives within wait seconds."""
        assert self.buf == b"", f"unexpected bytes: {self.buf!r}"
        old = self.sock.gettimeout()
        self.sock.settimeout(wait)
        try:
            extra = self.sock.recv(4096)
        except (socket.timeout, TimeoutError):
            extra = None
        except ssl.SSLWantReadError:
            extra = None
        finally:
            self.sock.settimeout(old)
        assert extra is None, f"unexpected bytes: {extra!r}"

    def closed_by_server(self, timeout=IO_TIMEOUT):
        """The server closes the connection (any TLS alert aside);
        returns what arrived before the close."""
        self.sock.settimeout(timeout)
        got = self.buf
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                got += chunk
        except (ConnectionResetError, ssl.SSLError, BrokenPipeError):
            pass
        return got


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def plain_b64(user, password, authzid=""):
    return b64(f"{authzid}\0{user}\0{password}".encode())


def tls_session(port, *, implicit=False, sni=None, ctx=None, source=None,
                timeout=IO_TIMEOUT, ragged_ok=True):
    """A client inside TLS, after its EHLO."""
    if implicit:
        c = TLSClient.implicit(port, ctx=ctx, sni=sni, source=source,
                               timeout=timeout, ragged_ok=ragged_ok)
        check(c.greeting, 220, None)
    else:
        c = TLSClient(port=port, source=source, timeout=timeout)
        c.ehlo()
        c.starttls(ctx=ctx, sni=sni, ragged_ok=ragged_ok)
    c.ehlo()
    return c


# ---- stored messages --------------------------------------------------------

TRACE_RE = re.compile(
    rb"Return-Path: <([^\r\n>]*)>\r\n"
    rb"Received: from (\S+) \(\[([0-9.]+)\]\)\r\n"
    rb"(?:\t\(using ([^\r\n]+)\)\r\n)?"
    rb"(?:\t\(authenticated as ([^\r\n]+)\)\r\n)?"
    rb"\tby " + re.escape(HOST.encode()) +
    rb" \(tern\) with (\S+) id (\S+)"
    rb"(?:\r\n\tfor <([^\r\n>]*)>)?"
    rb"; ([^\r\n]+)\r\n")

TLS_INFO_RE = re.compile(
    r"(TLSv1\.[23]) with cipher (\S+) \((\d+)/(\d+) bits\)")


@dataclass
class Trace:
    return_path: str
    helo: str
    ip: str
    tls: str | None       # "TLSv1.3 with cipher ... (256/256 bits)"
    auth: str | None
    proto: str
    qid: str
    for_rcpt: str | None
    body: bytes


def parse_trace(data: bytes) -> Trace:
    """Our Return-Path: and Received: (with the TLS and AUTH comments)."""
    m = TRACE_RE.match(data)
    assert m, f"stored file does not start with our trace headers: " \
              f"{data[:400]!r}"
    g = [x.decode("utf-8") if x is not None else None for x in m.groups()]
    t = Trace(return_path=g[0], helo=g[1], ip=g[2], tls=g[3], auth=g[4],
              proto=g[5], qid=g[6], for_rcpt=g[7], body=data[m.end():])
    if t.tls is not None:
        assert TLS_INFO_RE.fullmatch(t.tls), f"TLS comment: {t.tls!r}"
    return t


def log_count(ternd, text):
    return ternd.log_text().count(text)


def wait_log(ternd, text, n=1, timeout=20.0):
    """Wait until text occurs n times in the daemon's log."""
    try:
        wait_for(lambda: log_count(ternd, text) >= n, timeout=timeout,
                 what=f"{text!r} x{n} in the log")
    except AssertionError as e:
        raise AssertionError(f"{e}:\n{ternd.log_text()[-3000:]}") from None


def timed(fn):
    t0 = time.monotonic()
    r = fn()
    return r, time.monotonic() - t0
