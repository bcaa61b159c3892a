"""The daemon around the protocol: configuration check and errors, -o
overrides, SIGTERM (idle sessions, sessions in the middle of a message,
shutdown_timeout), restart on the same Maildirs, crash leftovers."""
import os
import signal
import socket
import subprocess
import time

import pytest

from smtp_helpers import (TERND, Client, check, check_greeting_type, queued,
                          simple_message, parse_stored, send_message,
                          assert_nothing_stored, maildir_files, tmp_files,
                          free_port, wait_for, run_env, BASE_CONFIG,
                          config_with, dot_stuff)

SAN = ("AddressSanitizer", "LeakSanitizer", "runtime error:")


def ternd_run(args, cwd=None, timeout=60):
    p = subprocess.run([TERND, *args], capture_output=True, text=True,
                       env=run_env(), timeout=timeout, cwd=cwd)
    out = p.stdout + p.stderr
    assert not any(m in out for m in SAN), out
    return p.returncode, out


def write_conf(tmp_path, text, name="test.conf"):
    path = tmp_path / name
    path.write_text(text.format(port=free_port(), root=tmp_path))
    return path


def line_of(path, needle):
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if needle in line:
            return i
    raise AssertionError(f"{needle!r} not in {path}")


# ---- configuration ------------------------------------------------------

def test_check_good_config(tmp_path):
    conf = write_conf(tmp_path, BASE_CONFIG)
    rc, out = ternd_run(["-n", "-c", str(conf)])
    assert rc == 0, out
    assert "ok" in out


def test_check_example_config():
    root = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    rc, out = ternd_run(["-n", "-c", os.path.join(root, "etc", "tern.conf")])
    assert rc == 0, out


@pytest.mark.parametrize("bad_line,key", [
    ("bogus_key = 1", "bogus_key"),
    ("max_errors = lots", "max_errors"),
    ("max_recipients = 5", "max_recipients"),
    ("vrfy = maybe", "vrfy"),
    ("max_message_size = 1k", "max_message_size"),
    ("command_timeout = 5 minutes", "command_timeout"),
    ("listen = 127.0.0.1", "listen"),
    ("listen = 127.0.0.1:99999", "listen"),
    ("domains = bad..domain", "domains"),
])
def test_check_bad_config(tmp_path, bad_line, key):
    # keys BASE_CONFIG sets are taken out first (else: "set twice")
    text = config_with(**{key: None}) if f"\n{key} = " in BASE_CONFIG \
        else BASE_CONFIG
    conf = write_conf(tmp_path, text + "# a comment\n" + bad_line + "\n")
    n = line_of(conf, bad_line)
    rc, out = ternd_run(["-n", "-c", str(conf)])
    assert rc != 0, out
    assert f"{conf}:{n}:" in out, out
    assert key in out, out


def test_bad_config_daemon_does_not_start(tmp_path):
    conf = write_conf(tmp_path, BASE_CONFIG + "bogus_key = 1\n")
    rc, out = ternd_run(["-c", str(conf)], timeout=30)
    assert rc != 0, out
    assert "bogus_key" in out


def test_key_set_twice(tmp_path):
    conf = write_conf(tmp_path, BASE_CONFIG + "max_errors = 5\n"
                      "max_errors = 6\n")
    rc, out = ternd_run(["-n", "-c", str(conf)])
    assert rc != 0 and "max_errors" in out, out


def test_override_below_minimum(tmp_path):
    conf = write_conf(tmp_path, BASE_CONFIG)
    rc, out = ternd_run(["-n", "-c", str(conf), "-o", "max_recipients=5"])
    assert rc != 0, out
    assert "max_recipients" in out, out


@pytest.mark.parametrize("override", ["bogus=1", "max_errors", "vrfy=perhaps"])
def test_override_bad(tmp_path, override):
    conf = write_conf(tmp_path, BASE_CONFIG)
    rc, out = ternd_run(["-n", "-c", str(conf), "-o", override])
    assert rc != 0, out


def test_missing_config_file(tmp_path):
    rc, out = ternd_run(["-n", "-c", str(tmp_path / "nope.conf")])
    assert rc != 0 and "nope.conf" in out, out


def test_override_listen_port(ternd_factory):
    t = ternd_factory(start=False)
    old = t.port
    new = free_port()
    t.port = new
    t.start("-o", f"listen=127.0.0.1:{new}")
    m = simple_message()
    qid = send_message(t, m)
    assert parse_stored(t.messages("alice")[0]).qid == qid
    s = socket.socket()
    s.settimeout(5)
    try:
        assert s.connect_ex(("127.0.0.1", old)) != 0, \
            "the file's port is still served"
    finally:
        s.close()


def test_override_changes_behaviour(ternd_factory):
    t = ternd_factory(args=("-o", "vrfy=yes", "-o", "max_message_size=64k"))
    with Client(t) as c:
        check(c.cmd("VRFY alice@example.test"), 250, "2.1.5")
        r = c.ehlo()
        assert "SIZE 65536" in r.texts, r
        c.quit()


def test_mailbox_file_relative_to_cwd(tmp_path):
    """conf.h: relative file:PATH values are relative to the directory
    ternd runs in (not to the configuration file's)."""
    (tmp_path / "boxes.txt").write_text("alice\nbob\n")
    other = tmp_path / "elsewhere"
    other.mkdir()
    conf = write_conf(tmp_path, config_with(mailboxes="file:boxes.txt"))
    rc, out = ternd_run(["-n", "-c", str(conf)], cwd=str(tmp_path))
    assert rc == 0, out
    rc, out = ternd_run(["-n", "-c", str(conf)], cwd=str(other))
    assert rc != 0, out
    n = line_of(conf, "mailboxes = file:boxes.txt")
    assert f"{conf}:{n}:" in out and "mailboxes" in out, out


# ---- SIGTERM ------------------------------------------------------------

def sigterm(t):
    t.proc.send_signal(signal.SIGTERM)


def wait_exit(t, timeout=30):
    rc = t.proc.wait(timeout)
    return rc


def wait_shutdown_seen(t):
    wait_for(lambda: "ev=shutdown" in t.log_text(), what="ev=shutdown in log")


def test_sigterm_idle_sessions(ternd):
    a = Client(ternd)
    b = Client(ternd)
    try:
        a.ehlo()
        b.ehlo()
        b.mail()
        b.rcpt()
        sigterm(ternd)
        for c in (a, b):
            check_greeting_type(c.reply(), 421, "4.3.2")
            c.wait_closed()
    finally:
        a.close()
        b.close()
    assert wait_exit(ternd) == 0
    assert_nothing_stored(ternd)


def test_sigterm_no_sessions(ternd):
    sigterm(ternd)
    assert wait_exit(ternd) == 0


def test_sigterm_mid_data_finishes_message(ternd):
    msg = simple_message(subject="finish me", body="x" * 5000)
    wire = dot_stuff(msg) + b".\r\n"
    with Client(ternd) as c:
        c.ehlo()
        c.mail()
        c.rcpt()
        check(c.cmd("DATA"), 354, None)
        c.send(wire[:100])
        sigterm(ternd)
        wait_shutdown_seen(ternd)
        c.send(wire[100:])
        qid = queued(c.reply())
        check_greeting_type(c.reply(), 421, "4.3.2")
        c.wait_closed()
    assert wait_exit(ternd) == 0
    [stored] = ternd.messages("alice")
    st = parse_stored(stored)
    assert (st.qid, st.body) == (qid, msg)
    assert tmp_files(ternd) == []


def test_sigterm_mid_bdat_finishes_message(ternd):
    msg = simple_message(subject="bdat finish")
    with Client(ternd) as c:
        c.ehlo()
        c.mail()
        c.rcpt()
        c.send(b"BDAT %d LAST\r\n" % len(msg) + msg[:10])
        sigterm(ternd)
        wait_shutdown_seen(ternd)
        c.send(msg[10:])
        qid = queued(c.reply())
        check_greeting_type(c.reply(), 421, "4.3.2")
        c.wait_closed()
    assert wait_exit(ternd) == 0
    st = parse_stored(ternd.messages("alice")[0])
    assert (st.qid, st.body) == (qid, msg)


def test_sigterm_mid_data_and_idle_session(ternd):
    """The idle session is told at once; the busy one after its message."""
    msg = simple_message()
    busy = Client(ternd)
    idle = Client(ternd)
    try:
        busy.ehlo()
        busy.mail()
        busy.rcpt()
        check(busy.cmd("DATA"), 354, None)
        busy.send(b"Subject: partial\r\n")
        sigterm(ternd)
        check_greeting_type(idle.reply(), 421, "4.3.2")
        idle.wait_closed()
        assert ternd.proc.poll() is None, "exited with a transfer open"
        busy.send(b"\r\n" + dot_stuff(msg) + b".\r\n")
        qid = queued(busy.reply())
        check_greeting_type(busy.reply(), 421, "4.3.2")
        busy.wait_closed()
    finally:
        busy.close()
        idle.close()
    assert wait_exit(ternd) == 0
    st = parse_stored(ternd.messages("alice")[0])
    assert st.qid == qid
    assert st.body == b"Subject: partial\r\n\r\n" + msg


def test_shutdown_timeout_cuts_stalled_transfer(ternd_factory):
    t = ternd_factory(args=("-o", "shutdown_timeout=2s"))
    with Client(t) as c:
        c.ehlo()
        c.mail()
        c.rcpt()
        check(c.cmd("DATA"), 354, None)
        c.send(b"Subject: never finished\r\n")
        start = time.monotonic()
        sigterm(t)
        r = c.reply()
        check_greeting_type(r, 421, "4.3.2")
        assert time.monotonic() - start >= 1.0
        c.wait_closed()
    assert wait_exit(t) == 0
    assert_nothing_stored(t)


# ---- restart and leftovers -----------------------------------------------

def test_restart_keeps_messages(ternd_factory):
    t1 = ternd_factory()
    m1 = simple_message(subject="before restart")
    q1 = send_message(t1, m1)
    [f1] = maildir_files(t1, "alice")
    before = f1.read_bytes()
    assert t1.stop() == 0
    t2 = ternd_factory()           # same root, same Maildirs
    assert t2.root == t1.root
    m2 = simple_message(subject="after restart")
    q2 = send_message(t2, m2)
    files = maildir_files(t2, "alice")
    assert len(files) == 2 and f1 in files
    assert f1.read_bytes() == before
    got = sorted((parse_stored(f.read_bytes()).qid,
                  parse_stored(f.read_bytes()).body) for f in files)
    assert got == sorted([(q1, m1), (q2, m2)])
    assert q1 != q2


def test_kill9_after_250_keeps_message(ternd_factory):
    t1 = ternd_factory()
    m = simple_message(subject="durable")
    qid = send_message(t1, m)
    t1.kill9()
    assert tmp_files(t1) == []
    [stored] = t1.messages("alice")
    assert parse_stored(stored).qid == qid
    t2 = ternd_factory()
    send_message(t2, simple_message(subject="second"))
    assert len(t2.messages("alice")) == 2


def test_startup_removes_tmp_leftovers(ternd_factory):
    t = ternd_factory(start=False)
    alice = t.maildir("alice")
    pm = t.maildir("postmaster", "localhost")
    for d in (alice, pm):
        for sub in ("tmp", "new", "cur"):
            (d / sub).mkdir(parents=True, exist_ok=True)
    (alice / "tmp" / "tern-0123456789ABCDEF").write_bytes(b"half a message")
    (pm / "tmp" / "tern-FEDCBA9876543210").write_bytes(b"another")
    fresh = alice / "tmp" / "1795936479.M1P1.otherwriter"
    fresh.write_bytes(b"someone else's delivery in progress")
    old = alice / "tmp" / "1600000000.M1P1.stale"
    old.write_bytes(b"stale")
    long_ago = time.time() - 40 * 3600
    os.utime(old, (long_ago, long_ago))
    kept = alice / "new" / "1600000000.M2P2.oldmail"
    kept.write_bytes(b"Subject: old\r\n\r\nkeep me\r\n")
    t.start()
    assert not (alice / "tmp" / "tern-0123456789ABCDEF").exists()
    assert not (pm / "tmp" / "tern-FEDCBA9876543210").exists()
    assert fresh.exists(), "a fresh foreign tmp file must stay"
    assert not old.exists(), "a foreign tmp file older than 36h must go"
    assert kept.read_bytes() == b"Subject: old\r\n\r\nkeep me\r\n"
    m = simple_message()
    qid = send_message(t, m)
    files = maildir_files(t, "alice")
    assert len(files) == 2
    new = [f for f in files if f != kept][0]
    assert parse_stored(new.read_bytes()).qid == qid


def test_maildirs_created_at_startup(ternd):
    for dom in ("example.test", "localhost"):
        for user in ("alice", "bob", "postmaster"):
            for sub in ("tmp", "new", "cur"):
                d = ternd.maildir(user, dom) / sub
                assert d.is_dir(), d
                assert (d.stat().st_mode & 0o777) == 0o700, d


def test_sigint_like_sigterm(ternd):
    with Client(ternd) as c:
        c.ehlo()
        ternd.proc.send_signal(signal.SIGINT)
        check_greeting_type(c.reply(), 421, "4.3.2")
        c.wait_closed()
    assert wait_exit(ternd) == 0


def test_sigterm_between_bdat_chunks_finishes_message(ternd):
    """A BDAT message whose first chunk is in is 'being transferred' just
    like a DATA message half sent: it may finish (proto_shutdown's own
    rule), then 421 4.3.2."""
    part1 = b"Subject: two chunks\r\n\r\n"
    part2 = b"second chunk\r\n"
    with Client(ternd) as c:
        c.ehlo()
        c.mail()
        c.rcpt()
        c.send(b"BDAT %d\r\n" % len(part1) + part1)
        check(c.reply(), 250, "2.0.0")
        sigterm(ternd)
        wait_shutdown_seen(ternd)
        c.send(b"BDAT %d LAST\r\n" % len(part2) + part2)
        qid = queued(c.reply())
        check_greeting_type(c.reply(), 421, "4.3.2")
        c.wait_closed()
    assert wait_exit(ternd) == 0
    st = parse_stored(ternd.messages("alice")[0])
    assert (st.qid, st.body) == (qid, part1 + part2)
