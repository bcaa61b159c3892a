"""Disk faults under real conditions, no mocks.

The Maildir root is a small tmpfs mounted for the test (so these tests
need root and mount(8); otherwise they are skipped, with the reason), and
the faults are real: the file system fills up, runs out of inodes, is
remounted read-only, or the process hits its file size limit in the
middle of writing a message. In every case the promise is the same: a
full disk is 452 4.3.1, any other write error 451 4.3.0, nothing
half-written is visible in any tmp/, new/ or cur/, and the server keeps
serving this session and the others.
"""
import os
import shutil
import socket
import subprocess
import time

import pytest

from conftest import body_of

DOMAINS = ("example.test", "localhost")
USERS = ("alice", "bob", "postmaster")
IO_TIMEOUT = 30.0


# ---- a tmpfs as the Maildir root ----

class Disk:
    def __init__(self, path):
        self.path = path

    def mount(self, opts):
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs",
                            str(self.path)], capture_output=True, text=True)
        if r.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs ({opts}): "
                        f"{r.stderr.strip() or r.returncode}")

    def remount(self, opts):
        subprocess.run(["mount", "-o", "remount," + opts, str(self.path)],
                       check=True, capture_output=True)

    def free(self):
        st = os.statvfs(self.path)
        return st.f_bavail * st.f_frsize

    def free_inodes(self):
        return os.statvfs(self.path).f_favail

    def maildir(self, user, domain="example.test"):
        return self.path / domain / user

    def messages(self, user, domain="example.test"):
        new = self.maildir(user, domain) / "new"
        return [f.read_bytes() for f in sorted(new.iterdir())]

    def files(self):
        """{relative path: size} of every file in any tmp/, new/, cur/."""
        out = {}
        for d in DOMAINS:
            for u in USERS:
                for sub in ("tmp", "new", "cur"):
                    p = self.path / d / u / sub
                    for f in (p.iterdir() if p.is_dir() else ()):
                        out[str(f.relative_to(self.path))] = \
                            f.stat().st_size
        return out


@pytest.fixture
def disk(tmp_path):
    """A mount point under tmp_path; the test mounts it with its options.
    Always unmounted afterwards (after ternd_factory stopped ternd, as
    tests ask for this fixture first)."""
    if os.geteuid() != 0:
        pytest.skip("disk fault tests mount a tmpfs: they need root")
    if shutil.which("mount") is None or shutil.which("umount") is None:
        pytest.skip("mount(8)/umount(8) not installed")
    d = Disk(tmp_path / "disk")
    d.path.mkdir()
    yield d
    if os.path.ismount(d.path):
        r = subprocess.run(["umount", str(d.path)], capture_output=True)
        if r.returncode != 0:
            subprocess.run(["umount", "-l", str(d.path)], check=True)


def start_on(ternd_factory, disk, extra="min_free_space = 0\n"):
    """ternd with disk as its maildir_root (extra: more config lines)."""
    return ternd_factory(extra, args=("-o", f"maildir_root={disk.path}"))


# ---- a small SMTP client ----

class Session:
    def __init__(self, ternd):
        self.sock = socket.create_connection(("127.0.0.1", ternd.port),
                                             IO_TIMEOUT)
        self.sock.settimeout(IO_TIMEOUT)
        self.buf = b""
        assert self.reply()[0] == 220

    def reply(self):
        """(code, enhanced code or None) of one whole reply."""
        while True:
            while b"\r\n" not in self.buf:
                chunk = self.sock.recv(65536)
                assert chunk, f"connection closed; had {self.buf!r}"
                self.buf += chunk
            line, _, self.buf = self.buf.partition(b"\r\n")
            if line[3:4] != b"-":
                break
        text = line.decode()
        parts = text[4:].split(" ", 1)
        esc = parts[0] if parts[0][:1] in "245" and parts[0].count(".") == 2 \
            else None
        return int(text[:3]), esc

    def cmd(self, line):
        self.sock.sendall(line.encode() + b"\r\n")
        return self.reply()

    def ehlo(self):
        assert self.cmd("EHLO client.example")[0] == 250
        return self

    def start_mail(self, rcpts, sender="sender@client.example"):
        assert self.cmd(f"MAIL FROM:<{sender}>") == (250, "2.1.0")
        for r in rcpts:
            assert self.cmd(f"RCPT TO:<{r}>") == (250, "2.1.5")
        assert self.cmd("DATA") == (354, None)

    def send_data(self, msg):
        """The message text (CRLF lines, none starting with a dot)."""
        assert not msg.startswith(b".") and b"\r\n." not in msg
        self.sock.sendall(msg)

    def end_data(self):
        self.sock.sendall(b".\r\n")
        return self.reply()

    def send(self, rcpts, msg, sender="sender@client.example"):
        self.start_mail(rcpts, sender)
        self.send_data(msg)
        return self.end_data()

    def close(self):
        try:
            assert self.cmd("QUIT") == (221, "2.0.0")
        finally:
            self.sock.close()


def message(tag, size=0):
    """A message of exactly size bytes (at least the headers' length)."""
    head = (f"From: <sender@client.example>\r\nSubject: disk fault {tag}\r\n"
            f"Message-ID: <{tag}@client.example>\r\n\r\n").encode()
    body = b"disk fault test %s\r\n" % tag.encode()
    n = size - len(head) - len(body)
    if n > 0:
        assert n >= 80, "too small for a filler"
        filler = (b"x" * 78 + b"\r\n") * (n // 80)
        r = n - len(filler)
        if r == 1:      # one line a byte longer
            filler = filler[:-80] + b"x" * 79 + b"\r\n"
        elif r >= 2:
            filler += b"y" * (r - 2) + b"\r\n"
        body = filler + body
    msg = head + body
    assert size == 0 or len(msg) == size, (len(msg), size)
    return msg


def stored_exactly(disk, user, msgs, domain="example.test"):
    got = [body_of(m) for m in disk.messages(user, domain)]
    assert sorted(got) == sorted(msgs), \
        f"{user}@{domain}: stored {len(got)} messages, want {len(msgs)}"


def commit_failures(ternd):
    return [line for line in ternd.log_text().splitlines()
            if "ev=commit-failed" in line]


def wait_reply(s, line, want, timeout=15.0):
    """Send line (then RSET after a 250) until the reply is want; every
    reply on the way must be 250 2.1.0 or want. The server looks at free
    space every two seconds."""
    deadline = time.monotonic() + timeout
    while True:
        r = s.cmd(line)
        if r == want:
            return
        assert r == (250, "2.1.0"), r
        assert s.cmd("RSET") == (250, "2.0.0")
        assert time.monotonic() < deadline, f"{line}: never got {want}"
        time.sleep(0.2)


# ---- the tests ----

# unsafe_no_fsync commits on the event loop (commit_now) instead of a
# worker: its failures must be answered and cleaned up the same way
FSYNC_MODES = pytest.mark.parametrize(
    "mode", ["", "unsafe_no_fsync = yes\n"], ids=["fsync", "no-fsync"])


@FSYNC_MODES
def test_disk_full_mid_write_is_452_and_leaves_nothing(disk, ternd_factory,
                                                       mode):
    """The engine's free-space check passes (the body fits the free space),
    but the trace headers push the file over: writev hits ENOSPC for real,
    in the middle of the message."""
    disk.mount("size=256k")
    t = start_on(ternd_factory, disk, "min_free_space = 0\n" + mode)
    a = Session(t).ehlo()
    b = Session(t).ehlo()

    first = message("b-first")
    assert b.send(["bob@example.test"], first)[0:2] == (250, "2.0.0")
    free = disk.free()
    assert 200_000 < free < 262144, free

    # a message to two mailboxes whose body alone fits; with
    # Return-Path: and Received: on top it does not
    big = message("a-big", free - 64)
    a.start_mail(["team@example.test"])
    a.send_data(big[:len(big) // 2])
    # another session is served while this one is in DATA
    assert b.cmd("NOOP") == (250, "2.0.0")
    assert b.cmd("MAIL FROM:<x@client.example>") == (250, "2.1.0")
    assert b.cmd("RSET") == (250, "2.0.0")
    a.send_data(big[len(big) // 2:])
    assert a.end_data() == (452, "4.3.1")

    fails = commit_failures(t)
    assert len(fails) == 1, t.log_text()
    assert 'error="No space left on device" code=452 esc=4.3.1' in fails[0]
    # nothing of it anywhere, and its blocks are free again (no file that
    # is unlinked but still open)
    files = disk.files()
    assert list(files) == [f"example.test/bob/new/{n}" for n in
                           os.listdir(disk.maildir("bob") / "new")], files
    assert len(files) == 1
    assert disk.free() == free

    # the same session goes on, and so do the others
    small = message("a-small")
    assert a.send(["alice@example.test"], small) == (250, "2.0.0")
    after = message("b-after")
    assert b.send(["bob@example.test"], after) == (250, "2.0.0")
    c = Session(t).ehlo()
    third = message("c-new")
    assert c.send(["team@example.test"], third) == (250, "2.0.0")
    for s in (a, b, c):
        s.close()
    stored_exactly(disk, "alice", [small, third])
    stored_exactly(disk, "bob", [first, after, third])
    assert not any(p.split("/")[2] in ("tmp", "cur") for p in disk.files())


def test_message_bigger_than_free_space_is_452(disk, ternd_factory):
    """No SIZE= announced: the message is read to its end and refused
    with 452 4.3.1, before anything is written."""
    disk.mount("size=256k")
    t = start_on(ternd_factory, disk)
    s = Session(t).ehlo()
    big = message("too-big", 300 * 1024)
    assert s.send(["alice@example.test"], big) == (452, "4.3.1")
    assert disk.files() == {}
    assert disk.free() == 262144
    assert s.cmd("NOOP") == (250, "2.0.0")
    small = message("fits")
    assert s.send(["alice@example.test"], small) == (250, "2.0.0")
    s.close()
    stored_exactly(disk, "alice", [small])
    assert commit_failures(t) == []


def test_size_above_free_space_is_452_at_mail(disk, ternd_factory):
    disk.mount("size=256k")
    t = start_on(ternd_factory, disk)
    free = disk.free()
    s = Session(t).ehlo()
    assert s.cmd(f"MAIL FROM:<a@client.example> SIZE={free + 1}") == \
        (452, "4.3.1")
    # no transaction was opened: RCPT needs MAIL first
    assert s.cmd("RCPT TO:<alice@example.test>") == (503, "5.5.1")
    msg = message("sized", 4000)
    assert s.cmd(f"MAIL FROM:<a@client.example> SIZE={len(msg)}") == \
        (250, "2.1.0")
    assert s.cmd("RCPT TO:<alice@example.test>") == (250, "2.1.5")
    assert s.cmd("DATA") == (354, None)
    s.send_data(msg)
    assert s.end_data() == (250, "2.0.0")
    s.close()
    stored_exactly(disk, "alice", [msg])


def test_min_free_space_above_free_space_is_452_at_mail(disk, ternd_factory):
    disk.mount("size=256k")
    t = start_on(ternd_factory, disk, "min_free_space = 1M\n")
    s = Session(t).ehlo()
    assert s.cmd("MAIL FROM:<a@client.example>") == (452, "4.3.1")
    assert s.cmd("MAIL FROM:<a@client.example> SIZE=10") == (452, "4.3.1")
    assert s.cmd("MAIL FROM:<>") == (452, "4.3.1")
    assert s.cmd("NOOP") == (250, "2.0.0")
    s.close()
    # a new session gets the same answer
    s = Session(t).ehlo()
    assert s.cmd("MAIL FROM:<a@client.example>") == (452, "4.3.1")
    s.close()
    assert disk.files() == {}


def test_free_space_is_watched_while_running(disk, ternd_factory):
    """Filling the disk below min_free_space turns MAIL into 452 4.3.1
    within a few seconds; freeing it turns it back into 250."""
    disk.mount("size=256k")
    t = start_on(ternd_factory, disk, "min_free_space = 128k\n")
    s = Session(t).ehlo()
    assert s.cmd("MAIL FROM:<a@client.example>") == (250, "2.1.0")
    assert s.cmd("RSET") == (250, "2.0.0")
    filler = disk.path / "filler"
    filler.write_bytes(b"f" * (192 * 1024))
    assert disk.free() == 64 * 1024
    wait_reply(s, "MAIL FROM:<a@client.example>", (452, "4.3.1"))
    filler.unlink()
    deadline = time.monotonic() + 15
    while True:
        r = s.cmd("MAIL FROM:<a@client.example>")
        if r == (250, "2.1.0"):
            break
        assert r == (452, "4.3.1"), r
        assert time.monotonic() < deadline, "free space never noticed"
        time.sleep(0.2)
    assert s.cmd("RCPT TO:<bob@example.test>") == (250, "2.1.5")
    assert s.cmd("DATA") == (354, None)
    msg = message("space-back")
    s.send_data(msg)
    assert s.end_data() == (250, "2.0.0")
    s.close()
    stored_exactly(disk, "bob", [msg])


def test_no_free_inodes_is_452(disk, ternd_factory):
    """Plenty of bytes but no inode: ENOSPC when the message's unnamed
    file is created, and when the second mailbox's link is made, after the
    first one's: that link must go again, so that nothing is visible.
    tmpfs takes an inode for the unnamed (O_TMPFILE) file, none for its
    first link and one for every further link."""
    disk.mount("size=1m,nr_inodes=64")
    t = start_on(ternd_factory, disk)
    fill = disk.path / "fill"
    fill.mkdir()
    n = 0
    while disk.free_inodes() > 0:
        (fill / str(n)).touch()
        n += 1
    s = Session(t).ehlo()
    # no inode for the file
    msg = message("no-inode")
    assert s.send(["team@example.test"], msg) == (452, "4.3.1")
    # an inode for the file (and so alice's link), none for bob's link
    (fill / "0").unlink()
    assert disk.free_inodes() == 1
    msg2 = message("no-inode-for-link")
    assert s.send(["team@example.test"], msg2) == (452, "4.3.1")
    fails = commit_failures(t)
    assert len(fails) == 2, t.log_text()
    assert all('error="No space left on device" code=452 esc=4.3.1' in f
               for f in fails), fails
    assert disk.files() == {}
    assert disk.free_inodes() == 1
    assert s.cmd("NOOP") == (250, "2.0.0")
    # one more: the file with alice's link, and bob's link
    (fill / "1").unlink()
    again = message("inode-back")
    assert s.send(["team@example.test"], again) == (250, "2.0.0")
    s.close()
    stored_exactly(disk, "alice", [again])
    stored_exactly(disk, "bob", [again])
    assert not any(p.split("/")[2] in ("tmp", "cur") for p in disk.files())


@FSYNC_MODES
def test_read_only_file_system_is_451(disk, ternd_factory, mode):
    disk.mount("size=1m")
    t = start_on(ternd_factory, disk, "min_free_space = 0\n" + mode)
    a = Session(t).ehlo()
    b = Session(t).ehlo()
    before = message("before-ro")
    assert a.send(["alice@example.test"], before) == (250, "2.0.0")
    disk.remount("ro")
    try:
        m1 = message("ro-1")
        assert a.send(["alice@example.test"], m1) == (451, "4.3.0")
        m2 = message("ro-2")
        assert b.send(["team@example.test"], m2) == (451, "4.3.0")
        fails = commit_failures(t)
        assert len(fails) == 2, t.log_text()
        assert all('error="Read-only file system" code=451 esc=4.3.0' in f
                   for f in fails), fails
        assert a.cmd("NOOP") == (250, "2.0.0")
        assert b.cmd("NOOP") == (250, "2.0.0")
        files = disk.files()
        assert len(files) == 1 and \
            next(iter(files)).startswith("example.test/alice/new/"), files
    finally:
        disk.remount("rw")
    m3 = message("rw-again")
    assert a.send(["alice@example.test"], m3) == (250, "2.0.0")
    m4 = message("rw-team")
    assert b.send(["team@example.test"], m4) == (250, "2.0.0")
    c = Session(t).ehlo()
    m5 = message("rw-new-session")
    assert c.send(["postmaster@localhost"], m5) == (250, "2.0.0")
    for s in (a, b, c):
        s.close()
    stored_exactly(disk, "alice", [before, m3, m4])
    stored_exactly(disk, "bob", [m4])
    stored_exactly(disk, "postmaster", [m5], "localhost")
    assert not any(p.split("/")[2] in ("tmp", "cur") for p in disk.files())


def test_file_size_limit_mid_write_is_451(ternd):
    """RLIMIT_FSIZE stops writev part way through the message file (EFBIG):
    any write error that is not a full disk is 451 4.3.0, and the partial
    file is gone. Runs on the normal Maildir root; needs only prlimit."""
    if shutil.which("prlimit") is None:
        pytest.skip("prlimit(1) not installed")
    limit = 64 * 1024
    r = subprocess.run(["prlimit", "--pid", str(ternd.proc.pid),
                        f"--fsize={limit}:{limit}"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"prlimit failed: {r.stderr.strip()}")
    s = Session(ternd).ehlo()
    big = message("efbig", 200 * 1024)
    assert s.send(["team@example.test"], big) == (451, "4.3.0")
    fails = commit_failures(ternd)
    assert len(fails) == 1 and \
        'error="File too large" code=451 esc=4.3.0' in fails[0], \
        ternd.log_text()
    mail = ternd.root / "mail"
    assert [p for p in mail.rglob("*") if p.is_file()] == []
    assert s.cmd("NOOP") == (250, "2.0.0")
    small = message("under-limit", 8000)
    assert s.send(["team@example.test"], small) == (250, "2.0.0")
    other = Session(ternd).ehlo()
    m2 = message("other-session")
    assert other.send(["alice@example.test"], m2) == (250, "2.0.0")
    s.close()
    other.close()
    assert sorted(body_of(m) for m in ternd.messages("alice")) == \
        sorted([small, m2])
    assert [body_of(m) for m in ternd.messages("bob")] == [small]
    assert [p for p in mail.rglob("tmp/*")] == []
