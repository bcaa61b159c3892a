"""Encryption and authentication end to end: STARTTLS (RFC 3207),
implicit TLS on the submissions port (RFC 8314), AUTH PLAIN and LOGIN
(RFC 4954, RFC 4616), the submission rules (RFC 6409), certificates
(start-up checks, SNI, reload on SIGHUP) and real clients (smtplib,
openssl s_client, swaks, msmtp).

Every ternd here listens on three loopback ports: smtp (ternd.port),
submission (ternd.sub) and submissions (ternd.subs). Certificates and the
users file are made once per session; a test that changes them works on
its own copies. Exact reply codes and enhanced codes are asserted, and
stored messages are read back from the Maildir.
"""
import random
import re
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import time
from types import SimpleNamespace

import pytest

from conftest import TERND, free_port
from smtp_helpers import (HOST, Client, check, check_greeting_type,
                          simple_message, wait_for)
from tls_helpers import (AUTH_KEYWORD, PLAIN_KEYWORDS, USERS, Pair, Ports,
                         TLSClient, b64, client_context, copy_pair,
                         hash_password, log_count, make_pair, parse_trace,
                         peer_subject, plain_b64, timed, tls_config,
                         tls_session, wait_log, write_users)

TLS13_RE = re.compile(r"TLSv1\.3 with cipher (\S+) \((\d+)/(\d+) bits\)")


def crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode()


def run(cmd, stdin=None, env=None, timeout=60):
    p = subprocess.run(cmd, input=stdin, capture_output=True,
                       timeout=timeout, env=env)
    return p.returncode, (p.stdout + p.stderr).decode("utf-8", "replace")


needs_swaks = pytest.mark.skipif(shutil.which("swaks") is None,
                                 reason="swaks not installed")
needs_msmtp = pytest.mark.skipif(shutil.which("msmtp") is None,
                                 reason="msmtp not installed")


# ---- fixtures ---------------------------------------------------------------

@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    return SimpleNamespace(
        main=make_pair(d, "main", "mx.test.example"),
        other=make_pair(d, "other", "mail.other.test", org="other site"),
        renewed=make_pair(d, "renewed", "mx.test.example", org="renewed"),
        rsa=make_pair(d, "rsa", "mx.test.example", org="rsa", key="rsa"),
        expired=make_pair(d, "expired", "mx.test.example", org="expired",
                          not_before="20190101000000Z",
                          not_after="20200101000000Z"),
        future=make_pair(d, "future", "mx.test.example", org="future",
                         not_before="20980101000000Z",
                         not_after="20990101000000Z"),
    )


@pytest.fixture(scope="session")
def users_file(tmp_path_factory):
    return write_users(tmp_path_factory.mktemp("users") / "users", USERS)


@pytest.fixture
def tls_ternd(ternd_factory, pki, users_file):
    """make(extra="", pairs=[pki.main], users=users_file, ...): a ternd
    with smtp on .port, submission on .sub and submissions on .subs."""
    def make(extra="", pairs=None, users=users_file, start=True,
             submission=True, command_timeout="30s"):
        ports = Ports()
        text = tls_config(ports, [pki.main] if pairs is None else pairs,
                          users, extra, submission, command_timeout)
        t = ternd_factory(config=text, start=start)
        t.sub, t.subs = ports.sub, ports.subs
        return t
    return make


@pytest.fixture
def tt(tls_ternd):
    """The usual TLS ternd: one certificate, the session's users."""
    return tls_ternd()


def deliver(c, sender, rcpt, msg):
    """MAIL, RCPT, DATA on a session that is ready: returns the qid."""
    c.mail(sender)
    c.rcpt(rcpt)
    return c.data(msg)


# ---- EHLO: what is offered where ----------------------------------------

def test_ehlo_keywords_per_port_and_state(tt):
    # port 25 in plain text: STARTTLS, no AUTH
    with TLSClient(tt) as c:
        check_greeting_type(c.greeting, 220, None)
        assert c.ehlo_keywords() == PLAIN_KEYWORDS + ["STARTTLS"]
        c.starttls()
        # RFC 3207 4.2: not again inside TLS; RFC 4954: AUTH now
        assert c.ehlo_keywords() == PLAIN_KEYWORDS + [AUTH_KEYWORD]
        c.quit()
    # submission, port 587: the same, AUTH only inside TLS
    with TLSClient(port=tt.sub) as c:
        check_greeting_type(c.greeting, 220, None)
        assert c.ehlo_keywords() == PLAIN_KEYWORDS + ["STARTTLS"]
        c.starttls()
        assert c.ehlo_keywords() == PLAIN_KEYWORDS + [AUTH_KEYWORD]
        c.quit()
    # submissions, port 465: TLS from the first byte, never STARTTLS
    with TLSClient.implicit(tt.subs) as c:
        check_greeting_type(c.greeting, 220, None)
        assert c.ehlo_keywords() == PLAIN_KEYWORDS + [AUTH_KEYWORD]
        c.quit()


def test_no_certificate_no_starttls(ternd):
    with TLSClient(ternd) as c:
        assert c.ehlo_keywords() == PLAIN_KEYWORDS
        c.expect("STARTTLS", 454, "4.7.0")
        c.expect("AUTH PLAIN " + plain_b64("alice", "secret"), 503, "5.5.1")
        c.expect("NOOP", 250, "2.0.0")
        c.quit()


def test_no_users_no_auth(tls_ternd):
    t = tls_ternd(users=None, submission=False)
    with tls_session(t.port) as c:
        assert c.ehlo_keywords() == PLAIN_KEYWORDS
        c.expect("AUTH PLAIN " + plain_b64("alice", "secret"), 503, "5.5.1")
        c.expect("AUTH LOGIN", 503, "5.5.1")
        c.quit()


def test_auth_over_plaintext(tls_ternd):
    t = tls_ternd("auth_over_plaintext = yes\n")
    with TLSClient(t) as c:
        assert c.ehlo_keywords() == PLAIN_KEYWORDS + ["STARTTLS",
                                                      AUTH_KEYWORD]
        c.login()
        c.quit()


# ---- STARTTLS ------------------------------------------------------------

def test_starttls_reply_codes(tt):
    with TLSClient(tt) as c:
        c.ehlo()
        c.expect("STARTTLS now", 501, "5.5.4")
        r = c.starttls()
        assert r.raw == b"220 2.0.0 Ready to start TLS\r\n", r
        assert c.sock.version() in ("TLSv1.2", "TLSv1.3")
        # the session starts again: EHLO first
        c.expect("MAIL FROM:<x@remote.example>", 503, "5.5.1")
        c.ehlo()
        c.expect("STARTTLS", 503, "5.5.1")
        c.mail("x@remote.example")
        c.quit()


def test_starttls_forgets_the_transaction(tt):
    with TLSClient(tt) as c:
        c.ehlo("before.example")
        c.mail("x@remote.example")
        c.rcpt("alice@example.test")
        c.starttls()
        c.ehlo("after.example")
        c.expect("RCPT TO:<bob@example.test>", 503, "5.5.1")
        c.expect("DATA", 503, "5.5.1")
        qid = deliver(c, "y@remote.example", "bob@example.test",
                      simple_message("after tls"))
        c.quit()
    [stored] = tt.messages("bob")
    t = parse_trace(stored)
    assert (t.return_path, t.helo, t.proto, t.qid, t.auth) == (
        "y@remote.example", "after.example", "ESMTPS", qid, None)
    assert tt.messages("alice") == []


@pytest.mark.parametrize("injected", [
    b"NOOP\r\n",
    b"MAIL FROM:<evil@attacker.example>\r\n"
    b"RCPT TO:<alice@example.test>\r\n",
    b"QUIT\r\n",
])
def test_starttls_pipelined_plaintext_is_discarded(tt, injected):
    """CVE-2011-0411: bytes sent after STARTTLS in the same packet must
    never run inside TLS."""
    c = TLSClient(tt)
    try:
        c.ehlo()
        c.send(b"STARTTLS\r\n" + injected)   # one write, one packet
        r = c.reply()
        check(r, 220, "2.0.0")
        assert c.buf == b"", f"more than the 220 arrived: {c.buf!r}"
        c.sock = client_context().wrap_socket(c.sock)
        # the first reply inside TLS answers our first command there
        r = c.cmd("EHLO inside.example")
        check(r, 250, None)
        assert r.texts[0] == f"{HOST} Hello inside.example", r
        # no MAIL was run: RCPT has no transaction
        c.expect("RCPT TO:<alice@example.test>", 503, "5.5.1")
        c.expect("NOOP", 250, "2.0.0")
        c.no_more_replies()
        c.quit()
    finally:
        c.close()
    wait_log(tt, f"ev=starttls-discard client=127.0.0.1 "
                 f"bytes={len(injected)}")


def test_starttls_pipelined_byte_exact(tt):
    """The same, byte for byte on the wire: after STARTTLS+NOOP in one
    write exactly the 220 line arrives, then nothing until the handshake;
    inside TLS each command gets exactly one reply."""
    s = socket.create_connection((tt.host, tt.port), timeout=30)
    try:
        f = b""
        while not f.endswith(b"\r\n"):
            f += s.recv(1)
        assert f.startswith(b"220 " + HOST.encode() + b" "), f
        s.sendall(b"EHLO raw.example\r\n")
        ehlo = b""
        while not ehlo.endswith(b"250 STARTTLS\r\n"):
            chunk = s.recv(4096)
            assert chunk, ehlo
            ehlo += chunk
        s.sendall(b"STARTTLS\r\nNOOP\r\n")
        got = b""
        while not got.endswith(b"\r\n"):
            got += s.recv(1)
        assert got == b"220 2.0.0 Ready to start TLS\r\n"
        s.settimeout(0.5)
        with pytest.raises((socket.timeout, TimeoutError)):
            extra = s.recv(1)
            raise AssertionError(f"byte after the 220: {extra!r}")
        s.settimeout(30)
        t = client_context().wrap_socket(s)
        t.sendall(b"NOOP\r\n")
        got = b""
        while not got.endswith(b"\r\n"):
            got += t.recv(4096)
        assert got == b"250 2.0.0 Ok\r\n", got
        t.settimeout(0.5)
        with pytest.raises((socket.timeout, TimeoutError)):
            extra = t.recv(4096)
            raise AssertionError(f"a second reply: {extra!r}")
        t.settimeout(30)
        t.sendall(b"QUIT\r\n")
        got = b""
        while True:
            chunk = t.recv(4096)
            if not chunk:
                break
            got += chunk
        assert got == (b"221 2.0.0 " + HOST.encode() +
                       b" closing connection\r\n"), got
    finally:
        s.close()


def s_client(args, stdin):
    """openssl s_client -quiet -crlf: what the server said inside TLS
    (s_client's own notes go to stderr)."""
    p = subprocess.run(["openssl", "s_client", "-quiet", "-crlf", *args],
                       input=stdin, capture_output=True, timeout=60)
    return p.stdout.decode("utf-8", "replace")


def test_starttls_openssl_s_client(tt):
    """openssl s_client does its own EHLO and STARTTLS, then our lines
    (with CRLF) go inside TLS."""
    out = s_client(["-starttls", "smtp", "-connect", f"127.0.0.1:{tt.port}",
                    "-servername", HOST],
                   b"EHLO sclient.example\nNOOP\nQUIT\n")
    # (its exit status reflects the TLS close: see test_tls_close_notify)
    lines = [ln for ln in out.splitlines() if re.match(r"^\d{3}[ -]", ln)]
    assert lines == [
        f"250-{HOST} Hello sclient.example",
        *(f"250-{k}" for k in PLAIN_KEYWORDS),
        f"250 {AUTH_KEYWORD}",
        "250 2.0.0 Ok",
        f"221 2.0.0 {HOST} closing connection",
    ], out


def test_implicit_tls_openssl_s_client(tt):
    out = s_client(["-connect", f"127.0.0.1:{tt.subs}"],
                   b"EHLO sclient.example\nQUIT\n")
    lines = [ln for ln in out.splitlines() if re.match(r"^\d{3}[ -]", ln)]
    assert lines[0] == f"220 {HOST} ESMTP tern", out
    assert lines[-2:] == [f"250 {AUTH_KEYWORD}",
                          f"221 2.0.0 {HOST} closing connection"], out


@pytest.mark.parametrize("how", ["starttls", "implicit"])
def test_tls_close_notify(tt, how):
    """RFC 8446 6.1: the server sends close_notify before it closes the
    connection after 221, so the client can tell the end of the session
    from a truncation."""
    with tls_session(tt.subs if how == "implicit" else tt.port,
                     implicit=how == "implicit", ragged_ok=False,
                     ctx=client_context(strict_eof=True)) as c:
        c.send(b"QUIT\r\n")
        got = b""
        try:
            while True:
                chunk = c.sock.recv(4096)
                if not chunk:
                    break
                got += chunk
        except ssl.SSLError as e:       # UNEXPECTED_EOF_WHILE_READING
            raise AssertionError(
                f"connection closed without close_notify after {got!r}: "
                f"{e}") from None
        assert got == f"221 2.0.0 {HOST} closing connection\r\n".encode()


def assert_tls_failed_logged(t, n=1):
    wait_for(lambda: len(re.findall(
        r'ev=tls-failed client=127\.0\.0\.1 reason="[^"]+"',
        t.log_text())) >= n, what="ev=tls-failed ... reason= in the log")


def assert_still_serving(t):
    with tls_session(t.port) as c:
        c.quit()
    with tls_session(t.subs, implicit=True) as c:
        c.quit()


@pytest.mark.parametrize("garbage", [
    b"this is not a TLS ClientHello\r\n" * 4,
    b"\x00" + random.Random(4954).randbytes(511),
    b"\x16\x03\x01\x00\x10" + b"\xff" * 16,   # a record with a bad hello
], ids=["text", "random", "bad-hello"])
def test_starttls_handshake_garbage(tt, garbage):
    with TLSClient(tt) as c:
        c.ehlo()
        check(c.cmd("STARTTLS"), 220, "2.0.0")
        c.send(garbage)
        got = c.closed_by_server()
        assert not re.match(rb"^\d{3}[ -]", got), \
            f"a plaintext reply to a failed handshake: {got!r}"
    assert_tls_failed_logged(tt)
    assert_still_serving(tt)


def test_plaintext_on_submissions_port(tt):
    with Client(port=tt.subs, greet=False) as c:
        c.send(b"EHLO plain.example\r\n")
        got = b""
        c.sock.settimeout(30)
        try:
            while True:
                chunk = c.sock.recv(4096)
                if not chunk:
                    break
                got += chunk
        except ConnectionResetError:
            pass
        assert b"220" not in got and b"250" not in got, \
            f"plaintext SMTP on the implicit TLS port: {got!r}"
    assert_tls_failed_logged(tt)
    assert_still_serving(tt)


@pytest.mark.parametrize("where", ["submissions", "after-starttls"])
def test_silent_tls_client_times_out(tls_ternd, where):
    t = tls_ternd(command_timeout="2s")
    t0 = time.monotonic()
    if where == "submissions":
        c = Client(port=t.subs, greet=False)
    else:
        c = Client(t)
        c.ehlo()
        check(c.cmd("STARTTLS"), 220, "2.0.0")
        t0 = time.monotonic()
    try:
        # meanwhile the server serves others
        with tls_session(t.subs, implicit=True) as other:
            other.quit()
        c.sock.settimeout(30)
        got = b""
        try:
            while True:
                chunk = c.sock.recv(4096)
                if not chunk:
                    break
                got += chunk
        except ConnectionResetError:
            pass
        took = time.monotonic() - t0
        assert got == b"", f"bytes to a silent client: {got!r}"
        assert 1.5 <= took < 20, f"closed after {took:.1f} s, want ~2 s"
    finally:
        c.close()
    assert_tls_failed_logged(t)
    # every session was freed
    wait_for(lambda: log_count(t, "ev=connect ") ==
             log_count(t, "ev=disconnect"),
             what="as many disconnects as connects:\n" + t.log_text())


def test_tls_min_version(tls_ternd):
    t = tls_ternd("tls_min_version = TLSv1.3\n")
    old = client_context(maximum=ssl.TLSVersion.TLSv1_2)
    with TLSClient(t) as c:
        c.ehlo()
        with pytest.raises((ssl.SSLError, ConnectionResetError)):
            c.starttls(ctx=old)
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        TLSClient.implicit(t.subs, ctx=old).close()
    assert_tls_failed_logged(t, 2)
    with tls_session(t.port) as c:
        assert c.sock.version() == "TLSv1.3"
        c.quit()


def test_tls12_client_by_default(tt):
    """TLSv1.2 is allowed by default; Received: says what was used."""
    ctx = client_context(maximum=ssl.TLSVersion.TLSv1_2)
    with tls_session(tt.port, ctx=ctx) as c:
        assert c.sock.version() == "TLSv1.2"
        cipher = c.sock.cipher()[0]
        deliver(c, "x@remote.example", "alice@example.test",
                simple_message("tls12"))
        c.quit()
    [stored] = tt.messages("alice")
    t = parse_trace(stored)
    assert t.tls.startswith(f"TLSv1.2 with cipher {cipher} ("), t.tls
    assert t.proto == "ESMTPS"


# ---- implicit TLS ---------------------------------------------------------

def test_submissions_greeting_inside_tls(tt):
    with TLSClient.implicit(tt.subs) as c:
        assert c.sock.version() == "TLSv1.3"
        check_greeting_type(c.greeting, 220, None)
        assert c.greeting.raw == f"220 {HOST} ESMTP tern\r\n".encode()
        c.ehlo()
        c.expect("STARTTLS", 503, "5.5.1")
        c.expect("MAIL FROM:<alice@example.test>", 530, "5.7.0")
        c.login()
        qid = deliver(c, "alice@example.test", "bob@example.test",
                      simple_message("465"))
        c.quit()
    [stored] = tt.messages("bob")
    t = parse_trace(stored)
    assert (t.proto, t.auth, t.qid) == ("ESMTPSA", "alice", qid)


def test_smtplib_smtp_ssl(tt):
    msg = crlf("From: <alice@example.test>\nTo: <bob@example.test>\n"
               "Subject: smtp_ssl\nMessage-ID: <ssl1@example.test>\n\n"
               "over implicit TLS\n")
    with smtplib.SMTP_SSL("127.0.0.1", tt.subs, context=client_context(),
                          local_hostname="smtplib.example",
                          timeout=30) as s:
        code, text = s.ehlo()
        assert code == 250
        assert b"STARTTLS" not in text and b"AUTH PLAIN LOGIN" in text
        assert s.login("alice", "secret") == (
            235, b"2.7.0 Authentication successful")
        cipher = s.sock.cipher()[0]
        assert s.sendmail("alice@example.test", ["bob@example.test"],
                          msg) == {}
    [stored] = tt.messages("bob")
    t = parse_trace(stored)
    assert t.body == msg
    assert (t.return_path, t.helo, t.ip, t.auth, t.proto, t.for_rcpt) == (
        "alice@example.test", "smtplib.example", "127.0.0.1", "alice",
        "ESMTPSA", "bob@example.test")
    assert t.tls.startswith(f"TLSv1.3 with cipher {cipher} ("), t.tls


# ---- AUTH -------------------------------------------------------------------

def test_auth_plain_initial_response(tt):
    with tls_session(tt.port) as c:
        r = c.cmd("AUTH PLAIN " + plain_b64("alice", "secret"))
        assert r.raw == b"235 2.7.0 Authentication successful\r\n", r
        c.expect("AUTH PLAIN " + plain_b64("alice", "secret"), 503, "5.5.1")
        c.expect("AUTH LOGIN", 503, "5.5.1")
        c.quit()
    wait_log(tt, 'ev=auth client=127.0.0.1 user="alice" result=ok')
    assert "secret" not in tt.log_text()


def test_auth_plain_after_challenge(tt):
    with tls_session(tt.port) as c:
        r = c.cmd("AUTH PLAIN")
        assert r.raw == b"334 \r\n", r       # with the space
        check(c.cmd(plain_b64("bob", USERS["bob"])), 235, "2.7.0")
        c.quit()


def test_auth_plain_authzid(tt):
    with tls_session(tt.port) as c:
        check(c.auth_plain("alice", "secret", authzid="bob"), 535, "5.7.8")
        check(c.auth_plain("alice", "secret", authzid="alice"), 235,
              "2.7.0")
        c.quit()


def test_auth_login(tt):
    with tls_session(tt.subs, implicit=True) as c:
        r = c.cmd("AUTH LOGIN")
        assert r.raw == b"334 VXNlcm5hbWU6\r\n", r      # "Username:"
        r = c.cmd(b64(b"alice"))
        assert r.raw == b"334 UGFzc3dvcmQ6\r\n", r      # "Password:"
        check(c.cmd(b64(b"secret")), 235, "2.7.0")
        c.mail("alice@example.test")
        c.quit()


def test_auth_login_initial_response(tt):
    with tls_session(tt.sub) as c:
        r = c.cmd("AUTH LOGIN " + b64(b"bob"))
        assert r.raw == b"334 UGFzc3dvcmQ6\r\n", r
        check(c.cmd(b64(USERS["bob"].encode())), 235, "2.7.0")
        c.quit()


def test_auth_reply_codes(tt):
    """Syntax and state errors: each on its own connection."""
    cases = [
        (["AUTH PLAIN AGFsaWNl!!!"], 501, "5.5.2"),
        (["AUTH PLAIN", "not base64 at all"], 501, "5.5.2"),
        (["AUTH LOGIN", "%%%%"], 501, "5.5.2"),
        (["AUTH PLAIN", "*"], 501, "5.0.0"),
        (["AUTH LOGIN", "*"], 501, "5.0.0"),
        (["AUTH LOGIN " + b64(b"alice"), "*"], 501, "5.0.0"),
        (["AUTH CRAM-MD5"], 504, "5.5.4"),
        (["AUTH"], 501, "5.5.4"),
        (["MAIL FROM:<x@remote.example>",
          "AUTH PLAIN " + plain_b64("alice", "secret")], 503, "5.5.1"),
    ]
    for lines, code, esc in cases:
        with tls_session(tt.port) as c:
            for ln in lines[:-1]:
                c.send(ln + "\r\n")
                c.reply()
            check(c.cmd(lines[-1]), code, esc)
            c.expect("NOOP", 250, "2.0.0")
            c.quit()
    # before EHLO (inside TLS)
    with TLSClient(tt) as c:
        c.ehlo()
        c.starttls()
        c.expect("AUTH PLAIN " + plain_b64("alice", "secret"), 503, "5.5.1")
        c.quit()
    with TLSClient.implicit(tt.subs) as c:
        c.expect("AUTH PLAIN " + plain_b64("alice", "secret"), 503, "5.5.1")
        c.quit()


def test_auth_needs_tls_on_port_25(tt):
    with TLSClient(tt) as c:
        c.ehlo()
        c.expect("AUTH PLAIN " + plain_b64("alice", "secret"), 538, "5.7.11")
        c.expect("AUTH LOGIN", 538, "5.7.11")
        c.quit()
    with TLSClient(port=tt.sub) as c:
        c.ehlo()
        c.expect("AUTH PLAIN " + plain_b64("alice", "secret"), 538, "5.7.11")
        c.quit()


@pytest.mark.parametrize("where,size", [
    ("command", 12289), ("command", 20000),
    ("response", 12289), ("response", 20000),
])
def test_auth_line_too_long(tt, where, size):
    """RFC 4954 4: an AUTH exchange line over 12288 octets (with CRLF)
    fails with 500 5.5.6; the session goes on."""
    with tls_session(tt.port) as c:
        if where == "command":
            line = "AUTH PLAIN " + "A" * (size - 2 - len("AUTH PLAIN "))
        else:
            check(c.cmd("AUTH PLAIN"), 334, None)
            line = "A" * (size - 2)
        assert len(line) + 2 == size
        check(c.cmd(line), 500, "5.5.6")
        c.expect("NOOP", 250, "2.0.0")
        c.login()
        c.quit()


def test_auth_lines_up_to_12288_octets_are_read(tt):
    with tls_session(tt.port) as c:
        # 12286 octets with CRLF: valid base64 of NULs, a malformed PLAIN
        # message (no user name): refused as credentials
        check(c.cmd("AUTH PLAIN"), 334, None)
        check(c.cmd("A" * 12284), 535, "5.7.8")
        # 12288 octets: read and decoded; 12286 'A's are not base64
        check(c.cmd("AUTH PLAIN"), 334, None)
        check(c.cmd("A" * 12286), 501, "5.5.2")
        check(c.cmd("AUTH PLAIN " + "A" * (12286 - len("AUTH PLAIN "))),
              501, "5.5.2")
        c.login()
        c.quit()


BAD_PASSWORD = "Wr0ng-Passw0rd"


def failing_auth(c, user="alice", password=BAD_PASSWORD):
    r, took = timed(lambda: c.auth_plain(user, password))
    return r, took


def test_wrong_password_and_unknown_user_are_delayed(tt):
    """535 5.7.8 for both, each failure from an address waiting longer:
    1 s, then 2 s."""
    with tls_session(tt.port, source="127.0.0.2") as c:
        r, took = failing_auth(c, "alice")
        check(r, 535, "5.7.8")
        assert 0.95 <= took < 15, f"first 535 after {took:.2f} s, want ~1 s"
        r, took = failing_auth(c, "nobody", "secret")
        check(r, 535, "5.7.8")
        assert 1.95 <= took < 20, f"second 535 after {took:.2f} s, want ~2 s"
        # a success clears the count: the next failure waits 1 s again
        c.login()
        c.quit()
    with tls_session(tt.port, source="127.0.0.2") as c:
        r, took = failing_auth(c)
        check(r, 535, "5.7.8")
        assert 0.95 <= took < 15, f"535 after {took:.2f} s, want ~1 s"
        c.quit()
    # another address has its own count
    with tls_session(tt.port, source="127.0.0.3") as c:
        r, took = failing_auth(c)
        check(r, 535, "5.7.8")
        assert took < 15
        c.quit()
    wait_log(tt, 'ev=auth client=127.0.0.2 user="nobody" result=failed')
    assert BAD_PASSWORD not in tt.log_text()


def test_auth_max_failures(tls_ternd):
    t = tls_ternd("auth_max_failures = 3\n")
    with tls_session(t.port, source="127.0.0.4") as c:
        check(failing_auth(c)[0], 535, "5.7.8")
        check(failing_auth(c)[0], 535, "5.7.8")
        r = c.auth_plain("alice", BAD_PASSWORD)
        check_greeting_type(r, 421, "4.7.0")
        c.wait_closed()
    # the address stays blocked, even with the right password, on any port
    with tls_session(t.port, source="127.0.0.4") as c:
        r = c.auth_plain("alice", "secret")
        check_greeting_type(r, 421, "4.7.0")
        c.wait_closed()
    with tls_session(t.subs, implicit=True, source="127.0.0.4") as c:
        check(c.cmd("AUTH LOGIN"), 334, None)
        check(c.cmd(b64(b"alice")), 334, None)
        check_greeting_type(c.cmd(b64(b"secret")), 421, "4.7.0")
        c.wait_closed()
    # others are not
    with tls_session(t.port, source="127.0.0.5") as c:
        c.login()
        c.quit()
    wait_log(t, "ev=auth-blocked client=127.0.0.4")


# ---- submission -------------------------------------------------------------

@pytest.mark.parametrize("port", ["sub", "subs"])
def test_submission_needs_auth_and_own_sender(tt, port):
    implicit = port == "subs"
    with tls_session(getattr(tt, port), implicit=implicit) as c:
        c.expect("MAIL FROM:<alice@example.test>", 530, "5.7.0")
        c.login()
        c.expect("MAIL FROM:<bob@example.test>", 553, "5.7.1")
        c.expect("MAIL FROM:<alice@remote.example>", 553, "5.7.1")
        cipher = c.sock.cipher()[0]
        msg = simple_message("submitted")
        qid = deliver(c, "alice@example.test", "bob@example.test", msg)
        c.quit()
    [stored] = tt.messages("bob")
    t = parse_trace(stored)
    assert (t.return_path, t.auth, t.proto, t.qid, t.for_rcpt) == (
        "alice@example.test", "alice", "ESMTPSA", qid, "bob@example.test")
    assert t.tls is not None and TLS13_RE.fullmatch(t.tls), t.tls
    assert TLS13_RE.fullmatch(t.tls).group(1) == cipher
    assert t.body == msg
    assert b"\t(using TLSv1.3 with cipher " in stored
    assert b"\t(authenticated as alice)\r\n" in stored


def test_submission_before_starttls(tt):
    with TLSClient(port=tt.sub) as c:
        c.ehlo()
        c.expect("MAIL FROM:<alice@example.test>", 530, "5.7.0")
        c.starttls()
        c.ehlo()
        c.expect("MAIL FROM:<alice@example.test>", 530, "5.7.0")
        c.login()
        c.mail("alice@example.test")
        c.quit()


def test_submission_relays_for_users(tt):
    with tls_session(tt.sub) as c:
        c.login()
        c.mail("alice@example.test")
        c.rcpt("friend@far.example")
        c.expect("RSET", 250, "2.0.0")
        c.quit()
    # without a login port 25 does not relay
    with tls_session(tt.port) as c:
        c.mail("alice@example.test")
        c.expect("RCPT TO:<friend@far.example>", 550, "5.7.1")
        c.quit()


def test_sender_login_match_off(tls_ternd):
    t = tls_ternd("sender_login_match = no\n")
    with tls_session(t.sub) as c:
        c.expect("MAIL FROM:<bob@example.test>", 530, "5.7.0")
        c.login()
        deliver(c, "bob@example.test", "alice@example.test",
                simple_message("as bob"))
        deliver(c, "someone@remote.example", "alice@example.test",
                simple_message("as someone"))
        c.quit()
    senders = [parse_trace(m).return_path for m in t.messages("alice")]
    assert senders == ["bob@example.test", "someone@remote.example"]


def test_received_auth_off(tls_ternd):
    t = tls_ternd("received_auth = no\n")
    with tls_session(t.subs, implicit=True) as c:
        c.login()
        deliver(c, "alice@example.test", "bob@example.test",
                simple_message("quiet"))
        c.quit()
    [stored] = t.messages("bob")
    tr = parse_trace(stored)
    assert (tr.auth, tr.proto) == (None, "ESMTPSA")
    assert b"authenticated" not in stored.split(b"\r\n\r\n")[0]
    assert tr.tls is not None


def test_port25_starttls_stored_esmtps(tt):
    with tls_session(tt.port) as c:
        msg = simple_message("mx over tls")
        deliver(c, "x@remote.example", "alice@example.test", msg)
        c.quit()
    [stored] = tt.messages("alice")
    t = parse_trace(stored)
    assert (t.proto, t.auth, t.body) == ("ESMTPS", None, msg)
    assert TLS13_RE.fullmatch(t.tls), t.tls


def test_starttls_forgets_plaintext_auth(tls_ternd):
    """RFC 3207 4.2: after STARTTLS the AUTH state is gone, including the
    relaying a plaintext login allowed."""
    t = tls_ternd("auth_over_plaintext = yes\n")
    with TLSClient(t) as c:
        c.ehlo()
        c.login()
        c.starttls()
        c.ehlo()
        c.mail("alice@example.test")
        c.expect("RCPT TO:<friend@far.example>", 550, "5.7.1")
        c.expect("RSET", 250, "2.0.0")
        c.login()          # not 503: the old login is forgotten
        c.quit()


# ---- certificates -----------------------------------------------------------

def start_fails(tmp_path, text, timeout=15):
    """Start ternd with config text; it must exit 1: returns its output."""
    conf = tmp_path / "bad.conf"
    conf.write_text(text.format(port=free_port(), root=tmp_path))
    p = subprocess.Popen([TERND, "-c", str(conf)], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGTERM)
        out, _ = p.communicate(timeout=30)
        raise AssertionError("ternd started, want exit 1:\n" +
                             out.decode("utf-8", "replace")) from None
    out = out.decode("utf-8", "replace")
    assert p.returncode == 1, f"exit {p.returncode}, want 1:\n{out}"
    assert "AddressSanitizer" not in out and "runtime error" not in out, out
    return out


@pytest.mark.parametrize("case", ["key-mismatch", "missing-cert",
                                  "missing-key", "garbage-cert",
                                  "second-pair-broken"])
def test_bad_certificate_refuses_to_start(tmp_path, pki, users_file, case):
    named = None
    if case == "key-mismatch":
        pairs = [Pair(pki.main.cert, pki.other.key, "")]
        named = pki.other.key
    elif case == "missing-cert":
        named = tmp_path / "no-such-cert.pem"
        pairs = [Pair(named, pki.main.key, "")]
    elif case == "missing-key":
        named = tmp_path / "no-such-key.pem"
        pairs = [Pair(pki.main.cert, named, "")]
    elif case == "garbage-cert":
        named = tmp_path / "garbage.pem"
        named.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n"
                         "-----END CERTIFICATE-----\n")
        pairs = [Pair(named, pki.main.key, "")]
    else:
        named = tmp_path / "no-such-second-cert.pem"
        pairs = [pki.main, Pair(named, pki.main.key, "")]
    out = start_fails(tmp_path, tls_config(Ports(), pairs, users_file))
    assert str(named) in out, f"the message does not name {named}:\n{out}"


# An expired (or not yet valid) certificate at start-up is used with a loud
# error in the log: refusing to start would stop all mail, and senders
# doing opportunistic TLS still get encryption. A reload (SIGHUP) refuses
# it and keeps the working certificate (see the SIGHUP test below).
@pytest.mark.parametrize("case", ["expired", "not-yet-valid"])
def test_out_of_date_certificate_starts_with_an_error(tmp_path, pki,
                                                      users_file, tls_ternd,
                                                      case):
    pair = pki.expired if case == "expired" else pki.future
    t = tls_ternd(pairs=[pair])
    with tls_session(t.port) as c:
        c.quit()
    what = "has expired" if case == "expired" else "is not valid yet"
    assert f"ev=tls-cert-invalid file={pair.cert}" in t.log_text()
    assert f"the certificate {what}" in t.log_text()


def test_good_certificates_start(tmp_path, pki, users_file, tls_ternd):
    t = tls_ternd(pairs=[pki.main, pki.rsa])
    with tls_session(t.port) as c:
        c.quit()


def test_bad_users_file_refuses_to_start(tmp_path, pki):
    users = tmp_path / "users"
    users.write_text("alice:plaintext-password\n")
    out = start_fails(tmp_path, tls_config(Ports(), [pki.main], users))
    assert str(users) in out, out
    out = start_fails(tmp_path, tls_config(Ports(), [pki.main],
                                           tmp_path / "no-users"))
    assert str(tmp_path / "no-users") in out, out


@pytest.fixture
def own_pki(tmp_path, pki, users_file):
    """Copies of the main pair and the users file that a test may change."""
    d = tmp_path / "own"
    d.mkdir()
    pair = Pair(d / "cert.pem", d / "key.pem", pki.main.subject)
    copy_pair(pki.main, pair)
    users = d / "users"
    users.write_bytes(users_file.read_bytes())
    return SimpleNamespace(pair=pair, users=users)


def subject_seen(port, implicit=False, sni=None):
    with tls_session(port, implicit=implicit, sni=sni) as c:
        subj = peer_subject(c.sock)
        c.quit()
    return subj


def sighup(t, what, n):
    t.proc.send_signal(signal.SIGHUP)
    wait_log(t, what, n)


def test_sighup_loads_a_new_certificate(tls_ternd, pki, own_pki):
    t = tls_ternd(pairs=[own_pki.pair], users=own_pki.users)
    assert subject_seen(t.port) == pki.main.subject
    # a session made with the old certificate
    old = tls_session(t.subs, implicit=True)
    old.login()
    assert peer_subject(old.sock) == pki.main.subject
    copy_pair(pki.renewed, own_pki.pair)
    sighup(t, "ev=reload tls=yes users=2", 1)
    assert pki.renewed.subject != pki.main.subject
    assert subject_seen(t.port) == pki.renewed.subject
    assert subject_seen(t.subs, implicit=True) == pki.renewed.subject
    # the old session goes on
    with old:
        old.expect("NOOP", 250, "2.0.0")
        deliver(old, "alice@example.test", "bob@example.test",
                simple_message("across a reload"))
        old.quit()
    assert len(t.messages("bob")) == 1


@pytest.mark.parametrize("breakage", ["garbage", "key-mismatch", "expired",
                                      "missing"])
def test_sighup_with_a_broken_certificate_keeps_the_old(tls_ternd, pki,
                                                         own_pki, breakage):
    t = tls_ternd(pairs=[own_pki.pair], users=own_pki.users)
    if breakage == "garbage":
        own_pki.pair.cert.write_text("garbage\n")
    elif breakage == "key-mismatch":
        own_pki.pair.key.write_bytes(pki.other.key.read_bytes())
    elif breakage == "expired":
        copy_pair(pki.expired, own_pki.pair)
    else:
        own_pki.pair.cert.unlink()
    sighup(t, "ev=reload-failed what=tls", 1)
    assert t.proc.poll() is None, "ternd died on a bad reload"
    assert subject_seen(t.port) == pki.main.subject
    assert subject_seen(t.subs, implicit=True) == pki.main.subject
    with tls_session(t.sub) as c:
        c.login()
        c.quit()


def test_sighup_reloads_users(tls_ternd, own_pki):
    t = tls_ternd(pairs=[own_pki.pair], users=own_pki.users)
    own_pki.users.write_text(hash_password("alice", "new secret") + "\n")
    sighup(t, "ev=reload tls=yes users=1", 1)
    with tls_session(t.sub, source="127.0.0.6") as c:
        check(c.auth_plain("alice", "new secret"), 235, "2.7.0")
        c.quit()
    with tls_session(t.sub, source="127.0.0.6") as c:
        check(c.auth_plain("alice", "secret"), 535, "5.7.8")
        check(c.auth_plain("bob", USERS["bob"]), 535, "5.7.8")
        c.quit()
    # a broken users file keeps the table loaded before
    own_pki.users.write_text("alice:not-a-hash\n")
    sighup(t, "ev=reload-failed what=users", 1)
    with tls_session(t.sub, source="127.0.0.7") as c:
        check(c.auth_plain("alice", "new secret"), 235, "2.7.0")
        c.quit()


@pytest.mark.parametrize("implicit", [False, True])
def test_sni_picks_the_matching_certificate(tls_ternd, pki, implicit):
    t = tls_ternd(pairs=[pki.main, pki.other])
    port = t.subs if implicit else t.port
    assert subject_seen(port, implicit, sni="mx.test.example") == \
        pki.main.subject
    assert subject_seen(port, implicit, sni="mail.other.test") == \
        pki.other.subject
    assert subject_seen(port, implicit, sni="MAIL.Other.Test") == \
        pki.other.subject
    # no SNI or an unknown name: the first pair
    assert subject_seen(port, implicit) == pki.main.subject
    assert subject_seen(port, implicit, sni="unknown.example") == \
        pki.main.subject


def test_verified_connection_with_our_certificate(tt, pki):
    """A client that verifies (our self-signed certificate as its CA)
    connects by name."""
    ctx = ssl.create_default_context(cafile=str(pki.main.cert))
    with tls_session(tt.port, ctx=ctx, sni="mx.test.example") as c:
        c.quit()
    ctx = ssl.create_default_context(cafile=str(pki.main.cert))
    with pytest.raises(ssl.SSLCertVerificationError):
        TLSClient.implicit(tt.subs, ctx=ctx, sni="wrong.example").close()


# ---- real clients -----------------------------------------------------------

MSG_TEXT = ("From: <alice@example.test>\nTo: <bob@example.test>\n"
            "Subject: {subject}\nMessage-ID: <{subject}@example.test>\n"
            "Date: Sun, 29 Nov 2026 07:25:32 +0000\n\n"
            ".leading dot\nbody line\n")


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN", "LOGIN-ir"])
def test_smtplib_starttls_login(tt, mech):
    text = MSG_TEXT.format(subject="smtplib-" + mech.lower())
    with smtplib.SMTP("127.0.0.1", tt.sub, local_hostname="smtplib.example",
                      timeout=30) as s:
        s.ehlo()
        assert s.has_extn("starttls") and not s.has_extn("auth")
        code, _ = s.starttls(context=client_context())
        assert code == 220
        s.ehlo()
        assert s.esmtp_features["auth"].split() == ["PLAIN", "LOGIN"]
        if mech == "PLAIN":
            r = s.login("alice", "secret")
        else:
            s.user, s.password = "alice", "secret"
            r = s.auth("LOGIN", s.auth_login,
                       initial_response_ok=(mech == "LOGIN-ir"))
        assert r == (235, b"2.7.0 Authentication successful")
        assert s.sendmail("alice@example.test", ["bob@example.test"],
                          text) == {}
    [stored] = tt.messages("bob")
    t = parse_trace(stored)
    assert t.body == crlf(text)
    assert (t.return_path, t.helo, t.auth, t.proto) == (
        "alice@example.test", "smtplib.example", "alice", "ESMTPSA")


def test_smtplib_wrong_password(tt):
    with smtplib.SMTP("127.0.0.1", tt.sub, timeout=30) as s:
        s.starttls(context=client_context())
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            s.login("alice", "guess")
        assert e.value.smtp_code == 535
        assert e.value.smtp_error.startswith(b"5.7.8 ")
        with pytest.raises(smtplib.SMTPSenderRefused) as e:
            s.sendmail("alice@example.test", ["bob@example.test"], b"x\r\n")
        assert e.value.smtp_code == 530


@needs_swaks
@pytest.mark.parametrize("mode,mech", [("tls", "PLAIN"), ("tls", "LOGIN"),
                                       ("tlsc", "PLAIN"), ("tlsc", "LOGIN")])
def test_swaks(tt, tmp_path, mode, mech):
    text = MSG_TEXT.format(subject=f"swaks-{mode}-{mech.lower()}")
    f = tmp_path / "msg.txt"
    f.write_text(text)
    port = tt.sub if mode == "tls" else tt.subs
    rc, out = run(["swaks", "--server", f"127.0.0.1:{port}", f"--{mode}",
                   "--auth", mech, "--auth-user", "bob", "--auth-password",
                   USERS["bob"], "--from", "bob@example.test",
                   "--to", "alice@example.test", "--helo", "swaks.example",
                   "--data", f"@{f}"])
    assert rc == 0, out
    assert "235 2.7.0 Authentication successful" in out, out
    assert "250 2.0.0 Ok: queued as" in out, out
    [stored] = tt.messages("alice")
    t = parse_trace(stored)
    assert t.body == crlf(text) + b"\r\n"     # swaks adds a final newline
    assert (t.return_path, t.helo, t.auth, t.proto) == (
        "bob@example.test", "swaks.example", "bob", "ESMTPSA")
    assert t.qid in out


@needs_swaks
def test_swaks_starttls_port25_no_auth(tt, tmp_path):
    rc, out = run(["swaks", "--server", f"127.0.0.1:{tt.port}", "--tls",
                   "--from", "x@remote.example", "--to",
                   "alice@example.test", "--helo", "swaks.example"])
    assert rc == 0, out
    [stored] = tt.messages("alice")
    t = parse_trace(stored)
    assert (t.proto, t.auth) == ("ESMTPS", None)


@needs_swaks
def test_swaks_wrong_password(tt):
    rc, out = run(["swaks", "--server", f"127.0.0.1:{tt.subs}", "--tlsc",
                   "--auth", "PLAIN", "--auth-user", "alice",
                   "--auth-password", "guess", "--from", "alice@example.test",
                   "--to", "bob@example.test"])
    assert rc != 0, out
    assert "535 5.7.8" in out, out
    assert tt.messages("bob") == []


def msmtp(port, tmp_path, msg, rcpts, extra=()):
    rc_file = tmp_path / "msmtprc"
    rc_file.write_text("")
    rc_file.chmod(0o600)
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    return run(["msmtp", f"--file={rc_file}", "--host=127.0.0.1",
                f"--port={port}", "--tls=on", "--tls-certcheck=off",
                "--user=alice", "--passwordeval=echo secret",
                "--from=alice@example.test", "--domain=msmtp.example",
                *extra, *rcpts], stdin=msg, env=env)


@needs_msmtp
@pytest.mark.parametrize("mode,auth", [("starttls", "plain"),
                                       ("starttls", "login"),
                                       ("implicit", "plain")])
def test_msmtp(tt, tmp_path, mode, auth):
    text = MSG_TEXT.format(subject=f"msmtp-{mode}-{auth}")
    port = tt.sub if mode == "starttls" else tt.subs
    rc, out = msmtp(port, tmp_path, text.encode(), ["bob@example.test"],
                    [f"--tls-starttls={'on' if mode == 'starttls' else 'off'}",
                     f"--auth={auth}"])
    assert rc == 0, out
    [stored] = tt.messages("bob")
    t = parse_trace(stored)
    assert t.body == crlf(text)
    assert (t.return_path, t.helo, t.auth, t.proto) == (
        "alice@example.test", "msmtp.example", "alice", "ESMTPSA")
    assert t.tls is not None and t.tls.startswith("TLSv1.3 with cipher ")


@needs_msmtp
def test_msmtp_other_sender_refused(tt, tmp_path):
    text = MSG_TEXT.format(subject="msmtp-refused")
    rc, out = msmtp(tt.sub, tmp_path, text.encode(), ["bob@example.test"],
                    ["--tls-starttls=on", "--auth=plain",
                     "--from=bob@example.test"])
    assert rc != 0, out
    assert "553" in out and "5.7.1" in out, out
    assert tt.messages("bob") == []
