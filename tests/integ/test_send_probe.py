"""`tern send` and `tern probe` against an aiosmtpd server on 127.0.0.1.

The server (started per test on a free port) refuses recipients by their
local part: nobody@ -> 550 5.1.1, relay@ -> 550 5.7.1, later@ -> 451
4.3.0; a message containing "TOOBIG" gets 552 5.3.4 at the end of data,
one containing "SLOWDOWN" 451 4.7.1; sender bad@ gets 553 5.1.7. Every
accepted message is recorded with its exact bytes.
"""
import re

import pytest
from aiosmtpd.controller import Controller

from tern_helpers_cli import closed_port, free_port, run_tern


class Recorder:
    def __init__(self):
        self.messages = []

    async def handle_MAIL(self, server, session, envelope, address, options):
        if address.startswith("bad@"):
            return "553 5.1.7 <%s>: sender address rejected" % address
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server, session, envelope, address, options):
        local = address.split("@")[0]
        if local == "nobody":
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        if local == "relay":
            return "550 5.7.1 <%s>: Relay access denied" % address
        if local == "later":
            return "451 4.3.0 <%s>: Temporary lookup failure" % address
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        data = envelope.original_content
        if b"TOOBIG" in data:
            return "552 5.3.4 Message size exceeds fixed limit"
        if b"SLOWDOWN" in data:
            return "451 4.7.1 Please slow down"
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                              list(envelope.mail_options), data))
        return "250 2.0.0 Ok: queued as 4F2C"


@pytest.fixture
def smtp():
    rec = Recorder()
    port = free_port()
    ctl = Controller(rec, hostname="127.0.0.1", port=port)
    ctl.start()
    rec.addr = "127.0.0.1:%d" % port
    yield rec
    ctl.stop()


def send(smtp, args, msg, **kw):
    return run_tern(["send", "-S", smtp.addr] + args, input=msg, **kw)


MSG = (b"From: Alice <alice@example.org>\n"
       b"To: bob@example.com\n"
       b"Subject: hello\n"
       b"Date: Mon, 1 Jan 2024 10:00:00 +0000\n"
       b"Message-ID: <1@example.org>\n"
       b"\n"
       b"line one\n"
       b".starts with a dot\n"
       b"..two dots\n"
       b"bare CR\rinside\n"
       b"last line without newline")


def test_send_exact_bytes(smtp):
    r = send(smtp, ["-i", "-f", "alice@example.org", "bob@example.com"], MSG)
    assert r.returncode == 0, r.stderr
    assert r.stderr == b""
    assert len(smtp.messages) == 1
    frm, rcpts, opts, data = smtp.messages[0]
    assert frm == "alice@example.org"
    assert rcpts == ["bob@example.com"]
    assert any(o.startswith("SIZE=") for o in opts)  # SIZE is advertised
    # CRLF line ends, dots unstuffed by the server, headers untouched
    assert data == (b"From: Alice <alice@example.org>\r\n"
                    b"To: bob@example.com\r\n"
                    b"Subject: hello\r\n"
                    b"Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
                    b"Message-ID: <1@example.org>\r\n"
                    b"\r\n"
                    b"line one\r\n"
                    b".starts with a dot\r\n"
                    b"..two dots\r\n"
                    b"bare CR\r\ninside\r\n"
                    b"last line without newline\r\n")


def test_send_lone_dot_ends_input_without_i(smtp):
    msg = b"Subject: x\n\nbefore\n.\nafter\n"
    r = send(smtp, ["bob@example.com"], msg)
    assert r.returncode == 0, r.stderr
    data = smtp.messages[0][3]
    assert data.endswith(b"\r\n\r\nbefore\r\n")
    assert b"after" not in data
    r = send(smtp, ["-oi", "bob@example.com"], msg)
    assert r.returncode == 0
    assert smtp.messages[1][3].endswith(b"before\r\n.\r\nafter\r\n")


def test_send_adds_missing_headers(smtp):
    r = send(smtp, ["-f", "ann@example.org", "-F", "Ann O'Nym",
                    "bob@example.com"], b"Subject: s\n\nbody\n")
    assert r.returncode == 0, r.stderr
    data = smtp.messages[0][3].decode()
    head, _, body = data.partition("\r\n\r\n")
    assert body == "body\r\n"
    lines = head.split("\r\n")
    assert lines[-1] == "Subject: s"
    assert re.match(r"^Date: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}$",
                    lines[0])
    assert re.match(r"^Message-ID: <[^<>@ ]+@[^<> ]+>$", lines[1])
    assert lines[2] == "From: \"Ann O'Nym\" <ann@example.org>"


def test_send_body_only_gets_headers(smtp):
    r = send(smtp, ["-f", "x@example.org", "bob@example.com"],
             b"just a body line\n")
    assert r.returncode == 0, r.stderr
    data = smtp.messages[0][3]
    assert data.endswith(b"From: x@example.org\r\n\r\njust a body line\r\n")


def test_send_t_takes_headers_and_drops_bcc(smtp):
    msg = (b"From: a@example.org\nTo: \"Bob, B.\" <bob@example.com>, "
           b"carol@example.com (Carol)\nCc: undisclosed:;\n"
           b"Bcc: dave@example.com\nSubject: t\n\nhi\n")
    r = send(smtp, ["-t", "-f", "a@example.org"], msg)
    assert r.returncode == 0, r.stderr
    frm, rcpts, _, data = smtp.messages[0]
    assert rcpts == ["bob@example.com", "carol@example.com",
                     "dave@example.com"]
    assert b"Bcc" not in data
    assert b"dave" not in data


def test_send_as_sendmail(smtp):
    r = run_tern(["-oi", "-f", "a@example.org", "bob@example.com"],
                 input=b"Subject: s\n\nx\n", argv0="sendmail",
                 env={"TERN_SMTP_SERVER": smtp.addr})
    assert r.returncode == 0, r.stderr
    assert smtp.messages[0][1] == ["bob@example.com"]


def test_send_5xx_unknown_user(smtp):
    r = send(smtp, ["bob@example.com", "nobody@example.com"], MSG)
    assert r.returncode == 67  # EX_NOUSER
    err = r.stderr.decode()
    assert "550 5.1.1 <nobody@example.com>: Recipient address rejected" in err
    assert "The recipient's mailbox does not exist" in err
    assert "NOT sent to anyone" in err
    assert smtp.messages == []  # all or nothing


def test_send_5xx_policy(smtp):
    r = send(smtp, ["relay@example.com"], MSG)
    assert r.returncode == 69  # EX_UNAVAILABLE
    assert b"Relay access denied" in r.stderr


def test_send_5xx_data(smtp):
    r = send(smtp, ["bob@example.com"], b"Subject: s\n\nTOOBIG\n")
    assert r.returncode == 65  # EX_DATAERR
    assert b"552 5.3.4" in r.stderr


def test_send_5xx_sender(smtp):
    r = send(smtp, ["-f", "bad@example.org", "bob@example.com"], MSG)
    assert r.returncode == 65
    assert b"553 5.1.7" in r.stderr


def test_send_4xx(smtp):
    r = send(smtp, ["later@example.com"], MSG)
    assert r.returncode == 75  # EX_TEMPFAIL
    assert b"NOT queued" in r.stderr
    r = send(smtp, ["bob@example.com"], b"Subject: s\n\nSLOWDOWN\n")
    assert r.returncode == 75
    assert b"451 4.7.1 Please slow down" in r.stderr
    assert smtp.messages == []


def test_send_connection_refused():
    r = run_tern(["send", "-S", "127.0.0.1:%d" % closed_port(),
                  "bob@example.com"], input=MSG)
    assert r.returncode == 75
    err = r.stderr.decode()
    assert "Connection refused" in err
    assert "NOT sent and NOT queued" in err


def test_send_usage_errors():
    for args in (["-bs"], ["-bd"], ["-q"], ["-q30m"], ["-bp"],
                 [], ["-f"], ["-Z", "x@example.com"]):
        r = run_tern(["send"] + args, input=b"x\n")
        assert r.returncode == 64, args
    r = run_tern(["send", "-bs"], input=b"")
    assert b"not supported" in r.stderr


def test_send_verbose_shows_dialogue(smtp):
    r = send(smtp, ["-v", "bob@example.com"], MSG)
    assert r.returncode == 0
    assert b">>> MAIL FROM:<" in r.stderr
    assert b"<<< 250 2.0.0 Ok: queued as 4F2C" in r.stderr


def probe(smtp, *args):
    return run_tern(["probe", smtp.addr] + list(args))


def test_probe_accepted(smtp):
    r = probe(smtp, "--from", "a@example.org", "--to", "bob@example.com",
              "--helo", "client.example.org")
    out = r.stdout.decode()
    assert r.returncode == 0, out
    assert "<<< 220 " in out
    assert ">>> EHLO client.example.org" in out
    assert ">>> MAIL FROM:<a@example.org>" in out
    assert ">>> RCPT TO:<bob@example.com>" in out
    assert ">>> QUIT" in out
    assert "    = The server is ready to talk (ok)" in out
    assert "STARTTLS: not offered" in out
    assert "Verdict: this mail would be accepted" in out
    assert "DATA" not in out.replace("--data", "")
    assert smtp.messages == []


def test_probe_with_data(smtp):
    r = probe(smtp, "--from", "a@example.org", "--to", "bob@example.com",
              "--data")
    assert r.returncode == 0, r.stdout
    assert b">>> DATA" in r.stdout
    assert b"<<< 354" in r.stdout
    assert b"<<< 250 2.0.0 Ok: queued as 4F2C" in r.stdout
    assert len(smtp.messages) == 1
    assert b"Subject: tern probe test message\r\n" in smtp.messages[0][3]


def test_probe_refused_recipient(smtp):
    r = probe(smtp, "--from", "a@example.org", "--to", "bob@example.com",
              "--to", "nobody@example.com")
    out = r.stdout.decode()
    assert r.returncode == 69
    assert "    = The recipient's mailbox does not exist (permanent failure)" \
        in out
    assert ("Verdict: this mail would NOT be accepted: the recipient "
            "<nobody@example.com> was refused with 550 5.1.1, a permanent "
            "failure: The recipient's mailbox does not exist.") in out


def test_probe_temporary(smtp):
    r = probe(smtp, "--to", "later@example.com")
    assert r.returncode == 75
    assert b"451 4.3.0, a temporary failure" in r.stdout


def test_probe_connection_refused():
    r = run_tern(["probe", "127.0.0.1:%d" % closed_port(), "--to",
                  "bob@example.com"])
    assert r.returncode == 75
    assert b"Connection refused" in r.stdout


def test_probe_ipv6_literal_syntax():
    r = run_tern(["probe", "[::1]:%d" % closed_port(), "--to",
                  "bob@example.com", "--timeout", "5"])
    assert r.returncode == 75
    assert b"::1 port" in r.stdout


def test_probe_usage():
    assert run_tern(["probe"]).returncode == 64
    assert run_tern(["probe", "127.0.0.1"]).returncode == 64
    assert run_tern(["probe", "127.0.0.1", "--to"]).returncode == 64
    assert run_tern(["probe", "--help"]).returncode == 0


# ---- against a real ternd: plain, STARTTLS, implicit TLS, AUTH --------------
#
# The certificate is self-signed for "localhost" (it is its own CA, given
# with --tls-ca), so the clients connect to localhost:PORT and the host
# name check passes; 127.0.0.1 is not in it, which gives a failing check.

from conftest import BASE_CONFIG, Ternd  # noqa: E402
from tls_helpers import (USERS, Ports, make_pair, parse_trace,  # noqa: E402
                         tls_config, write_users)

TMSG = (b"From: alice@example.test\n"
        b"To: bob@example.test\n"
        b"Subject: over tls\n"
        b"Date: Mon, 1 Jan 2024 10:00:00 +0000\n"
        b"Message-ID: <tls1@example.test>\n"
        b"\n"
        b"secret body\n"
        b".dot line\n")

TMSG_CRLF = (b"From: alice@example.test\r\n"
             b"To: bob@example.test\r\n"
             b"Subject: over tls\r\n"
             b"Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
             b"Message-ID: <tls1@example.test>\r\n"
             b"\r\n"
             b"secret body\r\n"
             b".dot line\r\n")


class TLSServer:
    def __init__(self, t, ports, pair):
        self.t, self.ports, self.pair = t, ports, pair
        self.ca = str(pair.cert)


@pytest.fixture
def tls_ternd(tmp_path):
    pair = make_pair(tmp_path / "certs", "srv", "localhost")
    users = write_users(tmp_path / "users", USERS)
    ports = Ports()
    t = Ternd(tmp_path, config=tls_config(ports, pairs=[pair], users=users))
    t.start()
    yield TLSServer(t, ports, pair)
    t.stop()
    assert not t.sanitizer_report(), t.log_text()


@pytest.fixture
def plain_ternd(tmp_path):
    t = Ternd(tmp_path, config=BASE_CONFIG)
    t.start()
    yield t
    t.stop()
    assert not t.sanitizer_report(), t.log_text()


def tsend(server, args, msg=TMSG, password=USERS["alice"], **kw):
    env = {"TERN_SMTP_PASSWORD": password} if password is not None else {}
    return run_tern(["send", "-S", server] + args, input=msg, env=env, **kw)


def test_send_plain_to_ternd_delivers(plain_ternd):
    t = plain_ternd
    r = tsend("127.0.0.1:%d" % t.port,
              ["-i", "-f", "carol@example.org", "bob@example.test"],
              password=None)
    assert r.returncode == 0, r.stderr
    msgs = t.messages("bob")
    assert len(msgs) == 1
    tr = parse_trace(msgs[0])
    assert tr.return_path == "carol@example.org"
    assert tr.proto == "ESMTP"
    assert tr.tls is None and tr.auth is None
    assert tr.body == TMSG_CRLF


def test_send_plain_to_ternd_unknown_user(plain_ternd):
    t = plain_ternd
    r = tsend("127.0.0.1:%d" % t.port, ["-i", "nosuchuser@example.test"],
              password=None)
    assert r.returncode == 67, r.stderr  # EX_NOUSER
    err = r.stderr.decode()
    assert "550 5.1.1" in err
    assert "This means:" in err
    assert t.messages("bob") == []


def test_send_to_ternd_port_closed():
    r = tsend("127.0.0.1:%d" % closed_port(), ["bob@example.test"],
              password=None)
    assert r.returncode == 75
    assert b"Connection refused" in r.stderr


def test_send_starttls_auth_submission(tls_ternd):
    s = tls_ternd
    r = tsend("localhost:%d" % s.ports.sub,
              ["-v", "-i", "--starttls", "--tls-ca", s.ca,
               "--auth-user", "alice", "-f", "alice@example.test",
               "bob@example.test"])
    assert r.returncode == 0, r.stderr
    err = r.stderr.decode()
    assert ">>> STARTTLS" in err
    assert "*** TLS: TLSv1." in err
    assert "(verified)" in err
    assert ">>> AUTH PLAIN (credentials hidden)" in err
    assert "<<< 235 " in err
    assert b64_secret_absent(err, "alice", USERS["alice"])
    msgs = s.t.messages("bob")
    assert len(msgs) == 1
    tr = parse_trace(msgs[0])
    assert tr.proto == "ESMTPSA"
    assert tr.tls is not None
    assert tr.return_path == "alice@example.test"
    assert tr.body == TMSG_CRLF
    assert b"with ESMTPSA id" in msgs[0]


def b64_secret_absent(text, user, password):
    import base64
    enc = base64.b64encode(("\0%s\0%s" % (user, password)).encode()).decode()
    return enc not in text and password not in text


def test_send_password_file(tls_ternd, tmp_path):
    s = tls_ternd
    pw = tmp_path / "pw"
    pw.write_text(USERS["bob"] + "\n")
    r = tsend("localhost:%d" % s.ports.sub,
              ["-i", "--starttls", "--tls-ca", s.ca, "--auth-user", "bob",
               "--auth-password-file", str(pw), "-f", "bob@example.test",
               "alice@example.test"], password=None)
    assert r.returncode == 0, r.stderr
    assert len(s.t.messages("alice")) == 1


def test_send_wrong_password(tls_ternd):
    s = tls_ternd
    r = tsend("localhost:%d" % s.ports.sub,
              ["-i", "--starttls", "--tls-ca", s.ca, "--auth-user", "alice",
               "-f", "alice@example.test", "bob@example.test"],
              password="Xy9-not-it")
    assert r.returncode == 77, r.stderr  # EX_NOPERM
    err = r.stderr.decode()
    assert "refused AUTH" in err
    assert re.search(r"^  535 5\.7\.8 ", err, re.M), err
    assert "This means:" in err
    assert "NOT sent to anyone" in err
    assert "Xy9-not-it" not in err
    assert s.t.messages("bob") == []


def test_send_implicit_tls_submissions(tls_ternd):
    s = tls_ternd
    r = tsend("localhost:%d" % s.ports.subs,
              ["-i", "--tls", "--tls-ca", s.ca, "--auth-user", "alice",
               "-f", "alice@example.test", "bob@example.test"])
    assert r.returncode == 0, r.stderr
    msgs = s.t.messages("bob")
    assert len(msgs) == 1
    assert parse_trace(msgs[0]).proto == "ESMTPSA"


def test_send_certificate_not_trusted(tls_ternd):
    s = tls_ternd
    # no --tls-ca: the self-signed certificate is not in the system store
    r = tsend("localhost:%d" % s.ports.sub,
              ["-i", "--starttls", "--auth-user", "alice",
               "-f", "alice@example.test", "bob@example.test"])
    assert r.returncode == 69, r.stderr
    assert b"does not verify" in r.stderr
    assert s.t.messages("bob") == []
    # the right CA, but a name the certificate is not for
    r = tsend("127.0.0.1:%d" % s.ports.sub,
              ["-i", "--starttls", "--tls-ca", s.ca, "--auth-user", "alice",
               "-f", "alice@example.test", "bob@example.test"])
    assert r.returncode == 69, r.stderr
    assert b"does not verify" in r.stderr
    # told not to check
    r = tsend("127.0.0.1:%d" % s.ports.sub,
              ["-i", "--starttls", "--tls-no-verify", "--auth-user", "alice",
               "-f", "alice@example.test", "bob@example.test"])
    assert r.returncode == 0, r.stderr
    assert len(s.t.messages("bob")) == 1


def test_send_starttls_not_offered(plain_ternd):
    t = plain_ternd
    r = tsend("127.0.0.1:%d" % t.port,
              ["-i", "--starttls", "bob@example.test"], password=None)
    assert r.returncode == 69, r.stderr
    err = r.stderr.decode()
    assert "does not offer STARTTLS" in err
    assert "NOT sent" in err
    assert t.messages("bob") == []


def test_send_tls_usage():
    for args in (["--auth-user", "alice", "bob@example.test"],  # no TLS
                 ["--starttls", "--tls", "bob@example.test"],
                 ["--tls-ca"],
                 ["--starttls", "--auth-user", "alice", "bob@example.test"],
                 ["--bogus", "bob@example.test"]):
        r = run_tern(["send", "-S", "127.0.0.1:%d" % closed_port()] + args,
                     input=b"x\n")
        assert r.returncode == 64, (args, r.stderr)


def test_probe_starttls(tls_ternd):
    s = tls_ternd
    # the smtp listener: no login needed to mail a local mailbox
    r = run_tern(["probe", "localhost:%d" % s.t.port, "--starttls",
                  "--tls-ca", s.ca, "--from", "alice@example.test",
                  "--to", "bob@example.test"])
    out = r.stdout.decode()
    assert r.returncode == 0, out
    assert "STARTTLS: offered, trying it" in out
    assert ">>> STARTTLS" in out
    assert "<<< 220 2.0.0" in out
    assert re.search(r"^    TLS: TLSv1\.[23] with cipher \S+ \(\d+ bits\)$",
                     out, re.M), out
    assert "certificate: subject CN=localhost,O=tern tests; issuer " \
        "CN=localhost,O=tern tests; expires " in out
    assert "certificate check: verified" in out
    assert out.count(">>> EHLO ") == 2
    assert "Verdict: this mail would be accepted" in out


def test_probe_starttls_unverified_and_auth(tls_ternd):
    s = tls_ternd
    base = ["probe", "127.0.0.1:%d" % s.ports.sub, "--starttls",
            "--tls-ca", s.ca, "--from", "alice@example.test",
            "--to", "bob@example.test", "--auth-user", "alice"]
    env = {"TERN_SMTP_PASSWORD": USERS["alice"]}
    r = run_tern(base, env=env)
    out = r.stdout.decode()
    assert "certificate check: FAILED" in out
    assert r.returncode == 69, out
    assert "not logging in" in out
    assert ">>> AUTH" not in out
    r = run_tern(base + ["--tls-no-verify"], env=env)
    out = r.stdout.decode()
    assert r.returncode == 0, out
    assert ">>> AUTH PLAIN (credentials hidden)" in out
    assert "<<< 235 2.7.0" in out
    assert USERS["alice"] not in out
    r = run_tern(base + ["--tls-no-verify"],
                 env={"TERN_SMTP_PASSWORD": "nope"})
    out = r.stdout.decode()
    assert r.returncode == 77, out
    assert "<<< 535 5.7.8" in out
    assert "Verdict: this mail would NOT be accepted: the login (AUTH)" in out


def test_probe_implicit_tls(tls_ternd):
    s = tls_ternd
    r = run_tern(["probe", "localhost:%d" % s.ports.subs, "--tls",
                  "--tls-ca", s.ca, "--to", "bob@example.test",
                  "--from", "alice@example.test", "--auth-user", "alice"],
                 env={"TERN_SMTP_PASSWORD": USERS["alice"]})
    out = r.stdout.decode()
    assert r.returncode == 0, out
    assert "    TLS: TLSv1." in out
    assert "certificate check: verified" in out
    assert out.index("    TLS: ") < out.index("<<< 220 ")
    assert "Verdict: this mail would be accepted" in out


def test_probe_starttls_not_offered(plain_ternd):
    t = plain_ternd
    r = run_tern(["probe", "127.0.0.1:%d" % t.port, "--starttls",
                  "--to", "bob@example.test"])
    out = r.stdout.decode()
    assert r.returncode == 0, out
    assert "STARTTLS: not offered" in out
    assert ">>> STARTTLS" not in out


def test_probe_offered_not_tried(tls_ternd):
    s = tls_ternd
    r = run_tern(["probe", "127.0.0.1:%d" % s.t.port,
                  "--to", "bob@example.test"])
    assert r.returncode == 0, r.stdout
    assert b"STARTTLS: offered (not tried; use --starttls" in r.stdout
