"""Real clients nobody here wrote: swaks, msmtp and Python's smtplib,
and many of them at once. The stored bytes are checked exactly."""
import copy
import email.generator
import email.message
import io
import shutil
import smtplib
import subprocess
import threading

import pytest

from smtp_helpers import parse_stored, maildir_files, tmp_files, all_stored


def run(cmd, stdin=None, env=None, timeout=60):
    p = subprocess.run(cmd, input=stdin, capture_output=True,
                       timeout=timeout, env=env)
    return p.returncode, (p.stdout + p.stderr).decode("utf-8", "replace")


needs_swaks = pytest.mark.skipif(shutil.which("swaks") is None,
                                 reason="swaks not installed")
needs_msmtp = pytest.mark.skipif(shutil.which("msmtp") is None,
                                 reason="msmtp not installed")


def crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode()


# ---- swaks ---------------------------------------------------------------

@needs_swaks
@pytest.mark.parametrize("pipeline", [False, True])
def test_swaks_data_exact(ternd, tmp_path, pipeline):
    text = ("From: <x@y.example>\nTo: <alice@example.test>\n"
            "Subject: swaks data\nMessage-ID: <swaks1@y.example>\n\n"
            ".leading dot\n..two dots\n.\nbody")
    f = tmp_path / "msg.txt"
    f.write_text(text)
    cmd = ["swaks", "--server", f"127.0.0.1:{ternd.port}",
           "--to", "alice@example.test", "--from", "x@y.example",
           "--helo", "swaks.example", "--data", f"@{f}"]
    if pipeline:
        cmd.append("--pipeline")
    rc, out = run(cmd)
    assert rc == 0, out
    assert "250 2.0.0 Ok: queued as" in out, out
    [stored] = ternd.messages("alice")
    st = parse_stored(stored)
    assert st.body == crlf(text) + b"\r\n"
    assert (st.return_path, st.helo, st.proto, st.for_rcpt) == (
        "x@y.example", "swaks.example", "ESMTP", "alice@example.test")
    assert st.qid in out


@needs_swaks
def test_swaks_body_two_recipients_pipelined(ternd):
    rc, out = run(["swaks", "--server", f"127.0.0.1:{ternd.port}",
                   "--to", "alice@example.test,bob@example.test",
                   "--from", "x@y.example", "--helo", "swaks.example",
                   "--header", "Subject: from swaks",
                   "--body", "hello from swaks", "--pipeline"])
    assert rc == 0, out
    [a] = ternd.messages("alice")
    [b] = ternd.messages("bob")
    assert a == b
    st = parse_stored(a)
    assert st.for_rcpt is None
    assert b"\r\nSubject: from swaks\r\n" in b"\r\n" + st.body
    assert b"\r\n\r\nhello from swaks\r\n" in st.body
    assert b"\n" not in st.body.replace(b"\r\n", b"")


@needs_swaks
def test_swaks_rejected_recipient(ternd):
    rc, out = run(["swaks", "--server", f"127.0.0.1:{ternd.port}",
                   "--to", "nobody@example.test", "--from", "x@y.example",
                   "--body", "x"])
    assert rc != 0
    assert "550 5.1.1" in out, out
    assert all_stored(ternd) == {}


@needs_swaks
def test_swaks_helo_protocol_smtp(ternd):
    rc, out = run(["swaks", "--server", f"127.0.0.1:{ternd.port}",
                   "--to", "bob@example.test", "--from", "x@y.example",
                   "--protocol", "SMTP", "--helo", "old.example",
                   "--body", "plain smtp"])
    assert rc == 0, out
    st = parse_stored(ternd.messages("bob")[0])
    assert (st.proto, st.helo) == ("SMTP", "old.example")


# ---- msmtp ---------------------------------------------------------------

def msmtp(ternd, tmp_path, msg, rcpts, extra=()):
    rc_file = tmp_path / "msmtprc"
    rc_file.write_text("")
    rc_file.chmod(0o600)
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    return run(["msmtp", f"--file={rc_file}", "--host=127.0.0.1",
                f"--port={ternd.port}", "--from=x@y.example", "--tls=off",
                "--auth=off", "--domain=msmtp.example", *extra, *rcpts],
               stdin=msg, env=env)


@needs_msmtp
def test_msmtp_exact(ternd, tmp_path):
    text = ("From: <x@y.example>\nTo: <alice@example.test>\n"
            "Date: Sun, 29 Nov 2026 07:25:32 +0000\n"
            "Message-ID: <m1@y.example>\nSubject: msmtp\n\n"
            ".dot\n..\n.\nbody\n")
    rc, out = msmtp(ternd, tmp_path, text.encode(), ["alice@example.test"])
    assert rc == 0, out
    [stored] = ternd.messages("alice")
    st = parse_stored(stored)
    assert st.body == crlf(text)
    assert (st.return_path, st.helo, st.proto) == ("x@y.example",
                                                   "msmtp.example", "ESMTP")


@needs_msmtp
def test_msmtp_8bit_and_several_recipients(ternd, tmp_path):
    text = ("From: <x@y.example>\nTo: team\nDate: Sun, 29 Nov 2026 "
            "07:25:32 +0000\nMessage-ID: <m2@y.example>\nSubject: =?utf-8?q?"
            "gr=C3=BC=C3=9Fe?=\nContent-Type: text/plain; charset=utf-8\n"
            "Content-Transfer-Encoding: 8bit\n\nGrüße aus Köln\n")
    rc, out = msmtp(ternd, tmp_path, text.encode(),
                    ["team@example.test", "postmaster@localhost"])
    assert rc == 0, out
    [a] = ternd.messages("alice")
    [b] = ternd.messages("bob")
    [p] = ternd.messages("postmaster", "localhost")
    assert a == b == p
    assert parse_stored(a).body == crlf(text)


@needs_msmtp
def test_msmtp_unknown_recipient_fails(ternd, tmp_path):
    rc, out = msmtp(ternd, tmp_path, b"Subject: x\n\nx\n",
                    ["nobody@example.test"])
    assert rc != 0
    assert "550" in out and "5.1.1" in out, out
    assert all_stored(ternd) == {}


# ---- smtplib ---------------------------------------------------------------

def flatten_like_smtplib(msg, utf8=False):
    """What smtplib.send_message puts on the wire (before dot-stuffing):
    the same steps as Lib/smtplib.py."""
    m = copy.copy(msg)
    del m["Bcc"]
    del m["Resent-Bcc"]
    b = io.BytesIO()
    if utf8:
        g = email.generator.BytesGenerator(b, policy=msg.policy.clone(
            utf8=True))
    else:
        g = email.generator.BytesGenerator(b)
    g.flatten(m, linesep="\r\n")
    data = b.getvalue()
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data


def test_smtplib_send_message(ternd):
    msg = email.message.EmailMessage()
    msg["From"] = "Sender <sender@remote.example>"
    msg["To"] = "Alice <alice@example.test>, Bob <bob@example.test>"
    msg["Bcc"] = "postmaster@example.test"
    msg["Subject"] = "smtplib send_message"
    msg["Message-ID"] = "<smtplib1@remote.example>"
    msg.set_content("Hello,\n.\n.. a dotted line\nBye.\n")
    msg.add_attachment(bytes(range(256)), maintype="application",
                       subtype="octet-stream", filename="all.bin")
    msg.set_boundary("==tern-test-boundary==")
    want = flatten_like_smtplib(msg)
    with smtplib.SMTP(ternd.host, ternd.port, timeout=30) as s:
        s.ehlo("py.example")
        assert s.has_extn("pipelining") and s.has_extn("chunking")
        refused = s.send_message(msg)
        assert refused == {}
    stored = [ternd.messages(u)[0] for u in ("alice", "bob", "postmaster")]
    assert stored[0] == stored[1] == stored[2]
    st = parse_stored(stored[0])
    assert st.body == want
    assert b"\r\nBcc:" not in st.body
    assert (st.helo, st.return_path, st.for_rcpt) == (
        "py.example", "sender@remote.example", None)


def test_smtplib_smtputf8(ternd):
    msg = email.message.EmailMessage()
    msg["From"] = "Jörg <jörg@bücher.example>"
    msg["To"] = "alice@example.test"
    msg["Subject"] = "Grüße"
    msg["Message-ID"] = "<utf8@bücher.example>"
    msg.set_content("Schöne Grüße\n", cte="8bit")
    with smtplib.SMTP(ternd.host, ternd.port, timeout=30) as s:
        s.ehlo("py.example")
        assert s.has_extn("smtputf8")
        refused = s.send_message(msg)
        assert refused == {}
    st = parse_stored(ternd.messages("alice")[0])
    assert st.proto == "UTF8SMTP"
    assert st.return_path == "jörg@bücher.example"
    assert st.body == flatten_like_smtplib(msg, utf8=True)


def test_smtplib_rejections(ternd):
    with smtplib.SMTP(ternd.host, ternd.port, timeout=30) as s:
        s.ehlo("py.example")
        refused = s.sendmail("a@b.example",
                             ["alice@example.test", "nobody@example.test",
                              "x@elsewhere.example"],
                             b"Subject: partial\r\n\r\nhi\r\n")
        assert refused["nobody@example.test"][0] == 550
        assert refused["nobody@example.test"][1].startswith(b"5.1.1 ")
        assert refused["x@elsewhere.example"][0] == 550
        assert refused["x@elsewhere.example"][1].startswith(b"5.7.1 ")
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            s.sendmail("a@b.example", ["nobody@example.test"], b"x\r\n")
        with pytest.raises(smtplib.SMTPSenderRefused) as e:
            s.sendmail("a@b.example", ["alice@example.test"],
                       b"x" * (2 * 1024 * 1024))
        # smtplib sends SIZE=: refused at MAIL
        assert e.value.smtp_code == 552
        assert e.value.smtp_error.startswith(b"5.3.4 ")
        code, text = s.noop()
        assert (code, text[:6]) == (250, b"2.0.0 ")
    [stored] = ternd.messages("alice")
    assert parse_stored(stored).body == b"Subject: partial\r\n\r\nhi\r\n"


def test_smtplib_helo_only(ternd):
    with smtplib.SMTP(ternd.host, ternd.port, timeout=30) as s:
        code, _ = s.helo("old.example")
        assert code == 250
        s.sendmail("a@b.example", ["bob@example.test"],
                   b"Subject: helo\r\n\r\nx\r\n")
    st = parse_stored(ternd.messages("bob")[0])
    assert (st.proto, st.helo) == ("SMTP", "old.example")


# ---- many clients at once ---------------------------------------------------

def test_concurrent_clients(ternd_factory):
    t = ternd_factory(args=("-o", "max_connections_per_ip=0"))
    nclients, nmsgs = 50, 10
    rcpts = ["alice@example.test", "bob@example.test", "team@example.test"]
    sent = {}          # message-id -> (bytes, mailboxes)
    lock = threading.Lock()
    errors = []
    start = threading.Barrier(nclients)

    def client(k):
        try:
            start.wait(60)
            with smtplib.SMTP(t.host, t.port, timeout=60) as s:
                s.ehlo(f"c{k}.example")
                for i in range(nmsgs):
                    mid = f"<m{k}.{i}@c{k}.example>"
                    body = (f"Message-ID: {mid}\r\nSubject: c{k} m{i}\r\n\r\n"
                            + f"client {k} message {i}\r\n" * (1 + k + i)
                            + ".starts with a dot\r\n").encode()
                    r = rcpts[(k + i) % 3]
                    boxes = {"alice", "bob"} if r.startswith("team") \
                        else {r.split("@")[0]}
                    refused = s.sendmail(f"c{k}@remote.example", [r], body)
                    assert refused == {}
                    with lock:
                        sent[mid] = (body, boxes)
        except Exception as e:     # reported below
            errors.append((k, repr(e)))

    threads = [threading.Thread(target=client, args=(k,))
               for k in range(nclients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(150)
    assert not errors, errors[:5]
    assert len(sent) == nclients * nmsgs

    got = {}           # message-id -> (bytes, set of mailboxes)
    for user in ("alice", "bob"):
        for f in maildir_files(t, user):
            st = parse_stored(f.read_bytes())
            mid = st.body.split(b"\r\n", 1)[0].split(b": ", 1)[1].decode()
            assert user not in got.get(mid, (None, set()))[1], \
                f"{mid} stored twice in {user}"
            got.setdefault(mid, (st.body, set()))[1].add(user)
            assert got[mid][0] == st.body
    assert set(got) == set(sent)
    for mid, (body, boxes) in sent.items():
        assert got[mid] == (body, boxes), mid
    assert tmp_files(t) == []
