"""tern and Postfix (the Debian package) talking to each other on loopback.

Each test runs a private Postfix instance: its own config_directory,
queue_directory, data_directory and mail store in a temporary directory,
listening on 127.0.0.1 and a free port (never 25), with no DNS and no
peer-name lookups, mail for pf.example stored in Maildirs by virtual(8).
Its master(8) runs in the foreground (-d) and is stopped by its PID; the
system's Postfix, if one runs, is never touched.

  - tern relays to Postfix, which stores the message; a recipient
    Postfix refuses comes back to the sender as tern's bounce, quoting
    Postfix's reply exactly;
  - Postfix (mail submitted with its sendmail -C DIR) relays through tern
    (relayhost) to a tern mailbox, and through tern on to a next hop.

The instance lives outside pytest's tmp_path: virtual(8) writes the
mailboxes as nobody, which cannot enter root's 0700 pytest directory.
Postfix is installed with apt-get when missing (with debconf told "No
configuration", so the package starts no system mail server); without
apt-get or root the tests are skipped with the reason.
"""
import email
import email.policy
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import free_port
from relay_peers import Sink
from test_relay_e2e import (ALICE, check_report_frame, message, relay_conf,
                            send, wait_for, wait_queue_empty, wait_reports)

MASTER = "/usr/lib/postfix/sbin/master"
POSTFIX = "/usr/sbin/postfix"
SENDMAIL = "/usr/sbin/sendmail"
RELAY = ("-o", "relay_networks=127.0.0.0/8")

MAIN_CF = """\
compatibility_level = 3.6
config_directory = {conf}
queue_directory = {dir}/queue
data_directory = {dir}/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
shlib_directory = /usr/lib/postfix
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop

myhostname = mail.pf.example
mydomain = pf.example
myorigin = pf.example
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
disable_dns_lookups = yes
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
smtpd_tls_security_level = none
smtp_tls_security_level = none
alias_maps =
alias_database =
local_recipient_maps =
biff = no
relayhost = {relayhost}

virtual_mailbox_domains = pf.example
virtual_mailbox_base = {dir}/mail
virtual_mailbox_maps = texthash:{conf}/vmailbox
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
virtual_minimum_uid = 1

# retry soon, should a first attempt fail
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s

maillog_file = {dir}/maillog
maillog_file_prefixes = {dir}
"""

MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def ensure_postfix():
    """Install the Debian package if missing, or skip saying why."""
    if os.path.exists(MASTER) and os.path.exists(POSTFIX):
        return
    if shutil.which("apt-get") is None:
        pytest.skip("Postfix is not installed and apt-get is not available "
                    "to install it")
    if os.geteuid() != 0:
        pytest.skip("Postfix is not installed; installing it needs root")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    # "No configuration": the package must not set up and start a system
    # mail server
    subprocess.run(["debconf-set-selections"], input=b"postfix postfix/"
                   b"main_mailer_type select No configuration\n", env=env,
                   capture_output=True, timeout=60)
    r = subprocess.run(["apt-get", "install", "-y", "-q",
                        "--no-install-recommends", "postfix"], env=env,
                       capture_output=True, timeout=600)
    if r.returncode != 0 or not os.path.exists(MASTER):
        pytest.skip("could not install Postfix with apt-get: " +
                    r.stderr.decode(errors="replace")[-500:])


class Postfix:
    """A private Postfix instance on 127.0.0.1:.port."""

    def __init__(self, relayhost="", mailboxes=("bob",)):
        ensure_postfix()
        if os.geteuid() != 0:
            pytest.skip("a Postfix instance needs root: master(8) starts as "
                        "root and its daemons switch to mail_owner")
        try:
            pwd.getpwnam("postfix")
        except KeyError:
            pytest.skip("the postfix user does not exist (broken install)")
        self.proc = None
        self.dir = Path(tempfile.mkdtemp(prefix="tern-postfix-"))
        os.chmod(self.dir, 0o755)
        self.conf = self.dir / "conf"
        self.mail = self.dir / "mail"
        for d in (self.conf, self.mail, self.dir / "queue",
                  self.dir / "data"):
            d.mkdir()
        nobody = pwd.getpwnam("nobody")
        os.chown(self.mail, nobody.pw_uid, nobody.pw_gid)
        pf = pwd.getpwnam("postfix")
        os.chown(self.dir / "data", pf.pw_uid, pf.pw_gid)
        self.port = free_port()
        (self.conf / "main.cf").write_text(MAIN_CF.format(
            conf=self.conf, dir=self.dir, relayhost=relayhost,
            uid=nobody.pw_uid, gid=nobody.pw_gid))
        (self.conf / "master.cf").write_text(MASTER_CF.format(port=self.port))
        (self.conf / "vmailbox").write_text("".join(
            "%s@pf.example pf.example/%s/\n" % (m, m) for m in mailboxes))
        # creates the queue directories with Postfix's owners and modes
        r = subprocess.run([POSTFIX, "-c", str(self.conf), "check"],
                           capture_output=True, timeout=60)
        if r.returncode != 0:
            self.cleanup()
            pytest.fail("postfix check: " + r.stderr.decode(errors="replace"))

    def start(self):
        self.errlog = open(self.dir / "master.stderr", "wb")
        self.proc = subprocess.Popen([MASTER, "-c", str(self.conf), "-d"],
                                     stdout=self.errlog, stderr=self.errlog,
                                     start_new_session=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("postfix master exited: " + self.log())
            try:
                with socket.create_connection(("127.0.0.1", self.port),
                                              0.5) as s:
                    s.settimeout(5)
                    if s.recv(512).startswith(b"220"):
                        s.sendall(b"QUIT\r\n")
                        return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("postfix did not start: " + self.log())

    def stop(self):
        """Stop this instance's master (by its PID); it stops its
        children."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None:
            self.errlog.close()

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self):
        out = ""
        for name in ("maillog", "master.stderr"):
            try:
                out += (self.dir / name).read_text(errors="replace")
            except FileNotFoundError:
                pass
        return out[-6000:]

    def messages(self, user):
        new = self.mail / "pf.example" / user / "new"
        if not new.is_dir():
            return []
        return [p.read_bytes() for p in sorted(new.iterdir())]

    def sendmail(self, sender, rcpts, msg):
        """Submit with Postfix's own sendmail -C DIR (postdrop, pickup)."""
        r = subprocess.run([SENDMAIL, "-C", str(self.conf), "-i", "-f",
                            sender, *rcpts], input=msg, capture_output=True,
                           timeout=60)
        assert r.returncode == 0, r.stderr


@pytest.fixture
def postfix_factory():
    made = []

    def make(**kw):
        p = Postfix(**kw)
        made.append(p)
        return p.start()
    yield make
    for p in made:
        p.stop()
        p.cleanup()


def test_tern_relays_to_postfix(ternd_factory, postfix_factory):
    pf = postfix_factory()
    t = ternd_factory(relay_conf(routes={"pf.example": pf.port}),
                      args=RELAY)
    msg = message("to postfix")
    send(t, ["bob@pf.example", "nosuchuser@pf.example"], msg)
    assert wait_for(lambda: pf.messages("bob"), 30), \
        pf.log() + t.log_text()
    (stored,) = pf.messages("bob")
    # Postfix's delivery headers on top, then tern's Received:, then the
    # message as sent, dots and all
    m = email.message_from_bytes(stored, policy=email.policy.compat32)
    assert m["Return-Path"] == "<%s>" % ALICE
    assert m["Delivered-To"] == "bob@pf.example"
    received = m.get_all("Received")
    assert "(Postfix)" in received[0] and "[127.0.0.1]" in received[0]
    assert "mx.test.example (tern)" in received[1]
    # (Postfix stores LF lines, and adds the Date: the message lacked)
    head, _, body = stored.replace(b"\n", b"\r\n").partition(b"\r\n\r\n")
    mhead, _, mbody = msg.partition(b"\r\n\r\n")
    assert body == mbody
    for line in mhead.split(b"\r\n"):
        assert line in head.split(b"\r\n"), line
    # Postfix refused the other recipient: tern's bounce quotes it
    (d,) = wait_reports(t, 1, timeout=20)
    check_report_frame(d, t, "failed")
    f = d.recipients["nosuchuser@pf.example"]
    assert f["status"] == "5.1.1", f
    assert f["diagnostic-code"] == (
        "smtp; 550 5.1.1 <nosuchuser@pf.example>: Recipient address "
        "rejected: User unknown in virtual mailbox table"), f
    assert f["remote-mta"] == "dns; 127.0.0.1"
    assert "bob@pf.example" not in d.recipients
    assert "User unknown in virtual mailbox table" in d.human
    wait_queue_empty(t)


def test_postfix_relays_through_tern(ternd_factory, postfix_factory):
    sink = Sink(name="mx.remote.example")
    try:
        t = ternd_factory(relay_conf(sink), args=RELAY)
        pf = postfix_factory(relayhost="[127.0.0.1]:%d" % t.port)
        msg = (b"From: Bob <bob@pf.example>\r\nTo: alice@example.test\r\n"
               b"Subject: from postfix\r\nMessage-ID: <pf1@pf.example>\r\n"
               b"\r\nHello from Postfix.\r\n.a leading dot\r\n")
        pf.sendmail("bob@pf.example", ["alice@example.test",
                                       "dave@remote.example"],
                    msg.replace(b"\r\n", b"\n"))
        # to a tern mailbox...
        assert wait_for(lambda: t.messages("alice"), 30), \
            pf.log() + t.log_text()
        (stored,) = t.messages("alice")
        m = email.message_from_bytes(stored, policy=email.policy.compat32)
        assert m["Return-Path"] == "<bob@pf.example>"
        received = m.get_all("Received")
        assert "mx.test.example (tern)" in received[0]
        assert "mail.pf.example" in received[0]
        assert "by mail.pf.example (Postfix" in received[1]
        assert m["Subject"] == "from postfix"
        assert m["Message-ID"] == "<pf1@pf.example>"
        assert stored.endswith(b"\r\nHello from Postfix.\r\n"
                               b".a leading dot\r\n")
        # ... and on through tern to the next hop
        assert sink.wait(lambda: sink.delivered(), 30), t.log_text()
        (txn,) = sink.delivered()
        assert txn.mail_from == "bob@pf.example"
        assert txn.rcpts == ["dave@remote.example"]
        assert b"Subject: from postfix" in txn.data
        assert txn.data.endswith(b"\r\nHello from Postfix.\r\n"
                                 b".a leading dot\r\n")
        wait_queue_empty(t)
        # Postfix's queue is empty too: everything was accepted by tern
        r = subprocess.run(["postqueue", "-c", str(pf.conf), "-j"],
                           capture_output=True, timeout=30)
        assert r.returncode == 0 and r.stdout.strip() == b"", r
    finally:
        sink.stop()
