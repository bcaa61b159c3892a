"""End-to-end tests of the relay client (src/relay/) against real peers.

relay_driver (tests/integ/relay_driver.c, built next to ternd) runs
relay_send() once with a configuration, a domain, a sender, recipients
and a message file, and prints one JSON line per recipient. The next hops
are aiosmtpd servers with scripted answers (NextHop), or, where the exact
bytes on the wire matter or aiosmtpd cannot misbehave on demand, a small
raw scripted server (ScriptServer). MX lookups go to dnsmasq on loopback
(dns_helper.py); nothing leaves 127.0.0.0/8 and ::1, and the system
resolver is never asked.
"""
import asyncio
import json
import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from conftest import free_port, shared_free_port
from dns_helper import DnsServer, StubDns

ROOT = Path(__file__).resolve().parents[2]
_TERND = os.environ.get("TERND", str(ROOT / "build" / "ternd"))
DRIVER = os.environ.get("RELAY_DRIVER",
                        str(Path(_TERND).parent / "relay_driver"))
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                     "runtime error:", "SUMMARY: UndefinedBehaviorSanitizer")

MESSAGE = (b"From: a@local.test\r\nTo: b@example.test\r\n"
           b"Subject: relay test\r\n\r\nHello.\r\n.leading dot\r\n"
           b"..two dots\r\n.\r\nlast line\r\n")


# ---- next hops ----

class Handler:
    """aiosmtpd handler with scripted replies.

    rcpt: {local part: reply}; the default is 250. limit: replies after
    this many accepted recipients in one transaction get limit_reply.
    drop: "MAIL", "DATA" or "RCPT:<local part>" closes the connection
    instead of replying. data_delay: seconds before the reply to the dot.
    """

    def __init__(self, rcpt=None, mail=None, data=None, limit=None,
                 limit_reply="452 4.5.3 Too many recipients", drop=None,
                 data_delay=0, pipelining=True, ehlo_drop=()):
        self.rcpt = rcpt or {}
        self.mail = mail
        self.data = data
        self.limit = limit
        self.limit_reply = limit_reply
        self.drop = drop
        self.data_delay = data_delay
        self.pipelining = pipelining
        self.ehlo_drop = ehlo_drop
        self.messages = []   # (session, mail_from, mail_options, rcpts, data)
        self.sessions = set()
        self.mails = 0

    async def handle_EHLO(self, server, session, envelope, hostname,
                          responses):
        session.host_name = hostname
        self.sessions.add(id(session))
        out = [r for r in responses
               if not any(k in r for k in self.ehlo_drop)]
        if self.pipelining:
            out.insert(1, "250-PIPELINING")
        return out

    async def handle_MAIL(self, server, session, envelope, address,
                          mail_options):
        self.mails += 1
        if self.drop == "MAIL":
            server.transport.close()
            return "250 OK"
        if self.mail:
            return self.mail
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server, session, envelope, address,
                          rcpt_options):
        local = address.split("@")[0]
        if self.drop == "RCPT:" + local:
            server.transport.close()
            return "250 OK"
        if self.limit is not None and len(envelope.rcpt_tos) >= self.limit:
            return self.limit_reply
        reply = self.rcpt.get(local, "250 2.1.5 OK")
        if reply.startswith("25"):
            envelope.rcpt_tos.append(address)
        return reply

    async def handle_DATA(self, server, session, envelope):
        if self.drop == "DATA":
            server.transport.close()
            return "250 OK"
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        self.messages.append((id(session), envelope.mail_from,
                              list(envelope.mail_options),
                              list(envelope.rcpt_tos),
                              envelope.original_content))
        return self.data or "250 2.0.0 Queued"


class CountingSMTP(SMTP):
    def connection_made(self, transport):
        ctl = self._tern_ctl
        with ctl.lock:
            ctl.open += 1
            ctl.connections += 1
            ctl.max_open = max(ctl.max_open, ctl.open)
        super().connection_made(transport)

    def connection_lost(self, exc):
        ctl = self._tern_ctl
        with ctl.lock:
            ctl.open -= 1
        super().connection_lost(exc)


class NextHop(Controller):
    """An aiosmtpd server on host:port; .handler holds what it saw."""

    def __init__(self, handler, host="127.0.0.1", port=None, name="mx.test",
                 **kw):
        self.lock = threading.Lock()
        self.open = self.connections = self.max_open = 0
        self.kw = kw
        kw.setdefault("enable_SMTPUTF8", True)
        super().__init__(handler, hostname=host, port=port or free_port(host),
                         server_hostname=name, **kw)

    def factory(self):
        smtp = CountingSMTP(self.handler, hostname=self.SMTP_kwargs.get(
            "hostname"), **{k: v for k, v in self.SMTP_kwargs.items()
                            if k != "hostname"})
        smtp._tern_ctl = self
        return smtp


class ScriptServer:
    """A raw SMTP server: replies from a table, records every byte.

    replies maps "greeting", "EHLO", "HELO", "MAIL", "RCPT", "DATA",
    "DOT", "RSET" to a reply (lines joined by "\\r\\n" for multi-line),
    or None to close the connection at that point; a list gives the
    replies in turn, over all connections, its last one repeating.
    close_after_dot hangs up right after the reply to the dot. ehlo is the list of
    EHLO keywords. data_raw collects the bytes of each DATA exchange.
    """

    def __init__(self, replies=None, ehlo=("PIPELINING", "8BITMIME"),
                 host="127.0.0.1", port=0, greeting_delay=0,
                 close_after_dot=False):
        self.replies = {"greeting": "220 script.test ESMTP",
                        "HELO": "250 script.test", "MAIL": "250 2.1.0 Ok",
                        "RCPT": "250 2.1.5 Ok", "DATA": "354 go ahead",
                        "DOT": "250 2.0.0 Ok", "RSET": "250 2.0.0 Ok",
                        "STARTTLS": "454 4.7.0 TLS not available",
                        "QUIT": "221 2.0.0 Bye"}
        self.replies.update(replies or {})
        self.ehlo = list(ehlo)
        self.greeting_delay = greeting_delay
        self.close_after_dot = close_after_dot
        self.lock = threading.Lock()
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(fam)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.lines = []
        self.data_raw = []
        self.connections = 0
        self._stop = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._session, args=(conn,),
                             daemon=True).start()

    def reply(self, key):
        with self.lock:
            r = self.replies[key]
            if isinstance(r, list):
                return r.pop(0) if len(r) > 1 else r[0]
            return r

    def _send(self, conn, reply):
        if reply is None:
            conn.close()
            return False
        conn.sendall(reply.encode() + b"\r\n")
        return True

    def _session(self, conn):
        conn.settimeout(20)
        f = conn.makefile("rb")
        try:
            time.sleep(self.greeting_delay)
            if not self._send(conn, self.reply("greeting")):
                return
            while True:
                line = f.readline()
                if not line:
                    return
                self.lines.append(line)
                verb = line[:4].decode("ascii", "replace").upper()
                if verb == "EHLO":
                    reply = self.replies.get("EHLO")
                    if reply is None and "EHLO" not in self.replies:
                        kws = ["script.test"] + self.ehlo
                        reply = "\r\n".join(
                            "250%s%s" % ("-" if i < len(kws) - 1 else " ", k)
                            for i, k in enumerate(kws))
                elif verb in ("HELO", "MAIL", "RCPT", "RSET", "QUIT"):
                    reply = self.reply(verb)
                elif line.upper().startswith(b"STARTTLS"):
                    reply = self.reply("STARTTLS")
                elif verb == "DATA":
                    reply = self.reply("DATA")
                    if reply is None or not reply.startswith("354"):
                        if not self._send(conn, reply):
                            return
                        continue
                    self._send(conn, reply)
                    raw = b""
                    while not raw.endswith(b"\r\n.\r\n") and raw != b".\r\n":
                        chunk = f.readline()
                        if not chunk:
                            return
                        raw += chunk
                    self.data_raw.append(raw)
                    reply = self.reply("DOT")
                    if self.close_after_dot:
                        self._send(conn, reply)
                        return
                else:
                    reply = "500 5.5.2 what?"
                if not self._send(conn, reply):
                    return
                if verb == "QUIT":
                    conn.close()
                    return
        except OSError:
            return
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def commands(self):
        return [l.decode("ascii", "replace").rstrip("\r\n")
                for l in self.lines]

    def stop(self):
        self._stop = True
        self.sock.close()
        self.thread.join(2)


# ---- running the relay ----

BASE_CONF = """\
hostname = relay.tern.test
domains = local.test
mailboxes = postmaster
maildir_root = {tmp}/mail
spool_dir = {tmp}/spool
dns_resolver = 127.0.0.1:{dns_port}
relay_tls = none
relay_connect_timeout = 2s
relay_command_timeout = 3s
relay_data_timeout = 3s
"""


class Relay:
    def __init__(self, tmp_path, dns_port, extra=""):
        self.tmp = tmp_path
        self.conf = tmp_path / "relay.conf"
        keys = {}
        for line in (BASE_CONF.format(tmp=tmp_path, dns_port=dns_port) +
                     extra).splitlines():
            k, v = line.split("=", 1)
            keys[k.strip()] = v.strip()   # extra wins over the base
        self.conf.write_text("".join(f"{k} = {v}\n"
                                     for k, v in keys.items()))
        self.msgfile = tmp_path / "msg.eml"
        self.stderr = ""

    def send(self, domain, rcpts, sender="sender@local.test", data=MESSAGE,
             flags=(), count=1, overrides=(), timeout=60, wait_ms=0):
        if not os.path.exists(DRIVER):
            pytest.fail("relay_driver not built: " + DRIVER +
                        " (meson builds it with -Dtests=true)")
        self.msgfile.write_bytes(data)
        cmd = [DRIVER, "-v"]
        for o in overrides:
            cmd += ["-o", o]
        cmd += list(flags)
        if count != 1:
            cmd += ["-n", str(count)]
        if wait_ms:
            cmd += ["-w", str(wait_ms)]
        cmd += [str(self.conf), domain, sender, str(self.msgfile), *rcpts]
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        p = subprocess.run(cmd, capture_output=True, timeout=timeout,
                           env=env)
        self.stderr = p.stderr.decode(errors="replace")
        for m in SANITIZER_MARKERS:
            assert m not in self.stderr, self.stderr
        assert p.returncode == 0, self.stderr
        out = [json.loads(l) for l in p.stdout.decode().splitlines() if l]
        assert len(out) == len(rcpts) * count, (out, self.stderr)
        return out


def by_rcpt(results):
    return {r["rcpt"]: r for r in results}


@pytest.fixture
def dns(tmp_path):
    d = DnsServer(tmp_path)
    yield d
    d.stop()


@pytest.fixture
def stub_dns():
    s = StubDns(rcode=5).start()   # REFUSED: no lookups expected
    yield s
    s.stop()


@pytest.fixture
def hops():
    started = []

    def start(hop):
        if isinstance(hop, NextHop):
            hop.start()
            # forget the controller's own readiness probe
            deadline = time.monotonic() + 5
            while hop.open and time.monotonic() < deadline:
                time.sleep(0.01)
            hop.connections = hop.max_open = 0
        started.append(hop)
        return hop
    yield start
    for h in started:
        h.stop()


def route_relay(tmp_path, stub_dns, port, extra="", host="127.0.0.1"):
    h = f"[{host}]" if ":" in host else host
    return Relay(tmp_path, stub_dns.port,
                 f"routes = example.test: {h}:{port}\n" + extra)


# ---- delivery and reply interpretation ----

def test_delivered_with_pipelining(tmp_path, stub_dns, hops):
    hop = hops(NextHop(Handler()))
    relay = route_relay(tmp_path, stub_dns, hop.port)
    res = relay.send("example.test", ["a@example.test", "b@example.test"],
                     flags=["-8"])
    for r in res:
        assert r["code"] == 250 and r["esc"] == "2.0.0", r
        assert r["text"] == "Queued" and r["synthetic"] == 0
        assert r["remote"] == f"127.0.0.1[127.0.0.1]:{hop.port}"
        assert r["tls"] == ""
    assert len(hop.handler.messages) == 1
    _, sender, opts, rcpts, data = hop.handler.messages[0]
    assert sender == "sender@local.test"
    assert rcpts == ["a@example.test", "b@example.test"]
    assert data == MESSAGE  # dot-stuffed on the wire, unstuffed by aiosmtpd
    assert f"SIZE={len(MESSAGE)}" in opts and "BODY=8BITMIME" in opts


def test_null_sender(tmp_path, stub_dns, hops):
    hop = hops(NextHop(Handler()))
    relay = route_relay(tmp_path, stub_dns, hop.port)
    res = relay.send("example.test", ["a@example.test"], sender="")
    assert res[0]["code"] == 250
    assert hop.handler.messages[0][1] == "<>"  # aiosmtpd spells it so


def test_reply_codes_per_recipient(tmp_path, stub_dns, hops):
    hop = hops(NextHop(Handler(rcpt={
        "fwd": "251 2.1.5 User not local; will forward to <f@other.test>",
        "busy": "450 4.2.1 Mailbox busy",
        "later": "451 4.3.0 Try later",
        "nobody": "550-5.1.1 No such user\r\n550 5.1.1 Check the address",
        "moved": "551 5.1.6 User not local; please try <new@other.test>",
        "badsyn": "553 5.1.3 Bad address",
        "policy": "554 5.7.1 Rejected by policy",
        "odd": "550 4.1.1 conflicting class",
    })))
    relay = route_relay(tmp_path, stub_dns, hop.port)
    names = ["ok", "fwd", "busy", "later", "nobody", "moved", "badsyn",
             "policy", "odd"]
    res = by_rcpt(relay.send("example.test",
                             [n + "@example.test" for n in names]))
    r = {n: res[n + "@example.test"] for n in names}
    assert r["ok"]["code"] == 250
    # delivered; the 251 is kept so the queue knows it was forwarded
    assert (r["fwd"]["code"], r["fwd"]["esc"]) == (251, "2.1.5")
    assert "will forward to <f@other.test>" in r["fwd"]["text"]
    assert "ev=forward rcpt=<fwd@example.test>" in relay.stderr
    assert (r["busy"]["code"], r["busy"]["esc"]) == (450, "4.2.1")
    assert (r["later"]["code"], r["later"]["text"]) == (451, "Try later")
    assert r["nobody"]["code"] == 550 and r["nobody"]["esc"] == "5.1.1"
    assert r["nobody"]["text"] == "No such user\nCheck the address"
    assert r["moved"]["code"] == 551
    assert "<new@other.test>" in r["moved"]["text"]
    assert (r["badsyn"]["code"], r["badsyn"]["esc"]) == (553, "5.1.3")
    assert (r["policy"]["code"], r["policy"]["esc"]) == (554, "5.7.1")
    assert r["odd"]["code"] == 550 and r["odd"]["esc"] == ""
    assert r["odd"]["text"] == "4.1.1 conflicting class"
    assert all(x["synthetic"] == 0 for x in r.values())
    assert hop.handler.messages[0][3] == ["ok@example.test",
                                          "fwd@example.test"]


@pytest.mark.parametrize("limit_reply", [
    "452 4.5.3 Too many recipients",
    "552 5.5.3 Too many recipients",  # RFC 5321 4.5.3.1.10: as 452
])
def test_recipient_limit_splits_transactions(tmp_path, stub_dns, hops,
                                             limit_reply):
    hop = hops(NextHop(Handler(limit=2, limit_reply=limit_reply)))
    relay = route_relay(tmp_path, stub_dns, hop.port)
    rcpts = [f"u{i}@example.test" for i in range(5)]
    res = relay.send("example.test", rcpts)
    assert all(r["code"] == 250 for r in res), res
    got = [m[3] for m in hop.handler.messages]
    assert got == [rcpts[0:2], rcpts[2:4], rcpts[4:5]]
    assert hop.connections == 1


def test_recipient_limit_nothing_accepted_defers(tmp_path, stub_dns, hops):
    hop = hops(NextHop(Handler(limit=0,
                               limit_reply="552 5.5.3 Too many recipients")))
    relay = route_relay(tmp_path, stub_dns, hop.port)
    res = relay.send("example.test", ["a@example.test", "b@example.test"])
    for r in res:
        assert (r["code"], r["esc"]) == (452, "4.5.3"), r
    assert hop.handler.messages == []


def test_without_pipelining(tmp_path, stub_dns, hops):
    hop = hops(ScriptServer(ehlo=["8BITMIME", "SIZE 100000"],
                            replies={"RCPT": "250 Ok"}))
    relay = route_relay(tmp_path, stub_dns, hop.port)
    res = relay.send("example.test", ["a@example.test", "b@example.test"])
    assert all(r["code"] == 250 for r in res)
    cmds = hop.commands()
    assert cmds[0] == "EHLO relay.tern.test"
    assert cmds[1] == f"MAIL FROM:<sender@local.test> SIZE={len(MESSAGE)}"
    assert cmds[2:5] == ["RCPT TO:<a@example.test>",
                         "RCPT TO:<b@example.test>", "DATA"]


def test_ehlo_rejected_falls_back_to_helo(tmp_path, stub_dns, hops):
    hop = hops(ScriptServer(replies={"EHLO": "502 5.5.1 EHLO not "
                                             "implemented"}))
    relay = route_relay(tmp_path, stub_dns, hop.port)
    res = relay.send("example.test", ["a@example.test"], flags=["-8"])
    assert res[0]["code"] == 250, res
    cmds = hop.commands()
    assert cmds[:3] == ["EHLO relay.tern.test", "HELO relay.tern.test",
                        "MAIL FROM:<sender@local.test>"]


def test_wire_format_dot_stuffing_and_line_ends(tmp_path, stub_dns, hops):
    hop = hops(ScriptServer())
    relay = route_relay(tmp_path, stub_dns, hop.port)
    data = (b"Subject: x\r\n\r\n.one\r\nbare\nlf\n.\nCR\rhere\r\n"
            b"..\r\nend without CRLF")
    relay.send("example.test", ["a@example.test"], data=data)
    assert hop.data_raw == [
        b"Subject: x\r\n\r\n..one\r\nbare\r\nlf\r\n..\r\nCR\r\nhere\r\n"
        b"...\r\nend without CRLF\r\n.\r\n"]


def test_data_rejected_bounces_transaction(tmp_path, stub_dns, hops):
    hop = hops(ScriptServer(replies={"DATA": "554 5.5.1 No valid "
                                             "recipients"}))
    relay = route_relay(tmp_path, stub_dns, hop.port)
    res = relay.send("example.test", ["a@example.test", "b@example.test"])
    for r in res:
        assert (r["code"], r["esc"]) == (554, "5.5.1"), r


@pytest.mark.parametrize("reply,code,esc", [
    ("550 5.7.1 Message content rejected", 550, "5.7.1"),
    ("452 4.3.1 Insufficient system storage", 452, "4.3.1"),
    ("421 4.3.2 Shutting down", 421, "4.3.2"),
])
def test_final_dot_reply_decides(tmp_path, stub_dns, hops, reply, code, esc):
    hop = hops(NextHop(Handler(data=reply)))
    relay = route_relay(tmp_path, stub_dns, hop.port)
    res = relay.send("example.test", ["a@example.test", "b@example.test"])
    for r in res:
        assert (r["code"], r["esc"], r["synthetic"]) == (code, esc, 0), r


def test_mail_rejected(tmp_path, stub_dns, hops):
    hop = hops(NextHop(Handler(mail="553 5.1.7 Sender address rejected")))
    relay = route_relay(tmp_path, stub_dns, hop.port)
    res = relay.send("example.test", ["a@example.test", "b@example.test"])
    for r in res:
        assert (r["code"], r["esc"]) == (553, "5.1.7"), r


def test_421_during_rcpt_defers(tmp_path, stub_dns, hops):
    hop = hops(NextHop(Handler(rcpt={"b": "421 4.7.0 Too busy, bye"})))
    relay = route_relay(tmp_path, stub_dns, hop.port)
    res = by_rcpt(relay.send("example.test",
                             ["a@example.test", "b@example.test"]))
    for r in res.values():
        assert (r["code"], r["esc"]) == (421, "4.7.0"), r
    assert hop.handler.messages == []


@pytest.mark.parametrize("where,step", [
    ("MAIL", "MAIL FROM"),
    ("RCPT:a", "RCPT TO"),
    ("DATA", "end of data"),
])
def test_dropped_connection_defers(tmp_path, stub_dns, hops, where, step):
    hop = hops(NextHop(Handler(drop=where)))
    relay = route_relay(tmp_path, stub_dns, hop.port)
    res = relay.send("example.test", ["a@example.test"])
    r = res[0]
    assert (r["code"], r["esc"], r["synthetic"]) == (451, "4.4.2", 1), r
    assert r["text"].startswith(f"lost connection with 127.0.0.1"
                                f"[127.0.0.1]:{hop.port} while"), r
    assert step in r["text"]


def test_slow_server_times_out(tmp_path, stub_dns, hops):
    hop = hops(NextHop(Handler(data_delay=6)))
    relay = route_relay(tmp_path, stub_dns, hop.port,
                        "relay_data_timeout = 1s\n")
    t0 = time.monotonic()
    res = relay.send("example.test", ["a@example.test"])
    assert time.monotonic() - t0 < 5
    r = res[0]
    assert (r["code"], r["esc"], r["synthetic"]) == (451, "4.4.2", 1), r
    assert "timed out while waiting for the reply to the end of data" \
        in r["text"]


def test_slow_greeting_times_out(tmp_path, stub_dns, hops):
    hop = hops(ScriptServer(greeting_delay=5))
    # tern.conf(5): the connect timeout covers the greeting too
    relay = route_relay(tmp_path, stub_dns, hop.port,
                        "relay_connect_timeout = 1s\n"
                        "relay_command_timeout = 30s\n")
    t0 = time.monotonic()
    r = relay.send("example.test", ["a@example.test"])[0]
    assert time.monotonic() - t0 < 4
    assert (r["code"], r["esc"], r["synthetic"]) == (451, "4.4.2", 1), r
    assert "timed out while waiting for the greeting" in r["text"]


def test_connection_refused(tmp_path, stub_dns):
    port = free_port()
    relay = route_relay(tmp_path, stub_dns, port)
    r = relay.send("example.test", ["a@example.test"])[0]
    assert (r["code"], r["esc"], r["synthetic"]) == (451, "4.4.1", 1), r
    assert r["text"] == (f"connect to 127.0.0.1[127.0.0.1]:{port}: "
                         "Connection refused")


@pytest.mark.parametrize("greeting,code,esc", [
    ("554 5.7.1 No SMTP service here", 451, "4.7.1"),   # policy: soft
    ("521 5.3.2 Does not accept mail", 451, "4.3.2"),
    ("421 4.3.2 Try later", 421, "4.3.2"),
    ("450 4.7.1 Greylisted", 450, "4.7.1"),
])
def test_refused_greeting_defers(tmp_path, stub_dns, hops, greeting, code,
                                 esc):
    hop = hops(ScriptServer(replies={"greeting": greeting}))
    relay = route_relay(tmp_path, stub_dns, hop.port)
    r = relay.send("example.test", ["a@example.test"])[0]
    assert (r["code"], r["esc"]) == (code, esc), r
    if code == 451:
        assert r["synthetic"] == 1 and greeting in r["text"]


def test_size_too_big_bounces_without_sending(tmp_path, stub_dns, hops):
    hop = hops(NextHop(Handler(), data_size_limit=100))
    relay = route_relay(tmp_path, stub_dns, hop.port)
    r = relay.send("example.test", ["a@example.test"], data=b"x" * 500 +
                   b"\r\n")[0]
    assert (r["code"], r["esc"], r["synthetic"]) == (552, "5.3.4", 1), r
    assert "limit of 100 bytes" in r["text"]
    assert hop.handler.mails == 0


def test_smtputf8_needed_but_missing(tmp_path, stub_dns, hops):
    hop = hops(NextHop(Handler(), enable_SMTPUTF8=False))
    relay = route_relay(tmp_path, stub_dns, hop.port)
    r = relay.send("example.test", ["a@example.test"], flags=["-u"])[0]
    assert (r["code"], r["esc"], r["synthetic"]) == (553, "5.6.7", 1), r
    assert hop.handler.mails == 0


def test_smtputf8_offered(tmp_path, stub_dns, hops):
    hop = hops(NextHop(Handler()))
    relay = route_relay(tmp_path, stub_dns, hop.port)
    data = "Subject: caf\u00e9\r\n\r\nd\u00e9j\u00e0\r\n".encode()
    r = relay.send("example.test", ["j\u00f6rg@example.test"],
                   sender="s\u00e9@local.test", flags=["-u"], data=data)[0]
    assert r["code"] == 250, r
    _, sender, opts, rcpts, got = hop.handler.messages[0]
    assert "SMTPUTF8" in opts and "BODY=8BITMIME" in opts
    assert got == data and rcpts == ["j\u00f6rg@example.test"]


def test_8bitmime_to_server_without_it_is_sent(tmp_path, stub_dns, hops):
    hop = hops(ScriptServer(ehlo=["PIPELINING"]))
    relay = route_relay(tmp_path, stub_dns, hop.port)
    data = b"Subject: x\r\n\r\n\xc3\xa9t\xc3\xa9\r\n"
    r = relay.send("example.test", ["a@example.test"], flags=["-8"],
                   data=data)[0]
    assert r["code"] == 250
    assert "MAIL FROM:<sender@local.test>" in hop.commands()
    assert hop.data_raw == [data + b".\r\n"]


# ---- connections ----

def test_connection_reused_for_several_messages(tmp_path, stub_dns, hops):
    hop = hops(NextHop(Handler()))
    relay = route_relay(tmp_path, stub_dns, hop.port,
                        "relay_destination_concurrency = 1\n")
    res = relay.send("example.test", ["a@example.test"], count=4)
    assert [r["code"] for r in res] == [250] * 4
    assert len(hop.handler.messages) == 4
    assert hop.connections == 1


def test_reuse_after_failed_transaction_sends_rset(tmp_path, stub_dns, hops):
    hop = hops(ScriptServer(replies={"RCPT": "550 5.1.1 No such user"}))
    relay = route_relay(tmp_path, stub_dns, hop.port,
                        "relay_destination_concurrency = 1\n")
    res = relay.send("example.test", ["a@example.test"], count=2)
    assert [r["code"] for r in res] == [550, 550]
    cmds = hop.commands()
    assert hop.connections == 1
    assert "RSET" in cmds
    assert cmds.index("RSET") < len(cmds) - 1


def test_idle_session_takes_next_message(tmp_path, stub_dns, hops):
    hop = hops(NextHop(Handler()))
    relay = route_relay(tmp_path, stub_dns, hop.port,
                        "relay_destination_concurrency = 1\n")
    res = relay.send("example.test", ["a@example.test"], count=3,
                     wait_ms=300)
    assert [r["code"] for r in res] == [250] * 3
    assert hop.connections == 1


def test_server_closing_idle_session(tmp_path, stub_dns, hops):
    hop = hops(ScriptServer(close_after_dot=True))
    relay = route_relay(tmp_path, stub_dns, hop.port)
    res = relay.send("example.test", ["a@example.test"], count=2,
                     wait_ms=300)
    assert [r["code"] for r in res] == [250, 250]
    assert hop.connections == 2


def test_stale_session_is_replaced_not_deferred(tmp_path, stub_dns, hops):
    hop = hops(ScriptServer(replies={"MAIL": [
        "250 2.1.0 Ok", "421 4.4.2 Idle too long, closing", "250 2.1.0 Ok"]}))
    relay = route_relay(tmp_path, stub_dns, hop.port,
                        "relay_destination_concurrency = 1\n")
    res = relay.send("example.test", ["a@example.test"], count=2)
    assert [r["code"] for r in res] == [250, 250], res
    assert hop.connections == 2
    assert len(hop.data_raw) == 2


def test_destination_concurrency_limit(tmp_path, stub_dns, hops):
    hop = hops(NextHop(Handler(data_delay=0.3)))
    relay = route_relay(tmp_path, stub_dns, hop.port,
                        "relay_destination_concurrency = 2\n")
    res = relay.send("example.test", ["a@example.test"], count=6)
    assert [r["code"] for r in res] == [250] * 6
    assert hop.max_open == 2
    assert hop.connections == 2


# ---- DNS: MX, A/AAAA, null MX, failures ----

def mx_relay(tmp_path, dns, port, extra=""):
    return Relay(tmp_path, dns.port, f"relay_port = {port}\n" + extra)


def test_mx_preference(tmp_path, dns, hops):
    port = shared_free_port(["127.0.0.2", "127.0.0.3"])
    best = hops(NextHop(Handler(), host="127.0.0.2", port=port))
    other = hops(NextHop(Handler(), host="127.0.0.3", port=port))
    dns.mx("example.test", "mx2.example.test", 20)
    dns.mx("example.test", "mx1.example.test", 10)
    dns.host("mx1.example.test", "127.0.0.2")
    dns.host("mx2.example.test", "127.0.0.3")
    dns.start()
    relay = mx_relay(tmp_path, dns, port)
    r = relay.send("example.test", ["a@example.test"])[0]
    assert r["code"] == 250
    assert r["remote"] == f"mx1.example.test[127.0.0.2]:{port}"
    assert len(best.handler.messages) == 1 and other.connections == 0


def test_next_mx_on_refused_connection(tmp_path, dns, hops):
    port = shared_free_port(["127.0.0.3", "127.0.0.4"])
    backup = hops(NextHop(Handler(), host="127.0.0.3", port=port))
    dns.mx("example.test", "mx1.example.test", 10)
    dns.mx("example.test", "mx2.example.test", 20)
    dns.host("mx1.example.test", "127.0.0.4")   # nothing listens
    dns.host("mx2.example.test", "127.0.0.3")
    dns.start()
    r = mx_relay(tmp_path, dns, port).send("example.test",
                                           ["a@example.test"])[0]
    assert r["code"] == 250 and "mx2.example.test" in r["remote"], r
    assert len(backup.handler.messages) == 1


@pytest.mark.parametrize("first", [
    {"greeting": "421 4.3.2 Going down"},
    {"greeting": "451 4.3.0 Not now"},
    {"greeting": "554 5.7.1 Not you"},
    {"MAIL": "421 4.7.0 Closing"},
])
def test_next_mx_on_421_or_refused_greeting(tmp_path, dns, hops, first):
    port = shared_free_port(["127.0.0.2", "127.0.0.3"])
    hops(ScriptServer(replies=first, host="127.0.0.2", port=port))
    backup = hops(NextHop(Handler(), host="127.0.0.3", port=port))
    dns.mx("example.test", "mx1.example.test", 10)
    dns.mx("example.test", "mx2.example.test", 20)
    dns.host("mx1.example.test", "127.0.0.2")
    dns.host("mx2.example.test", "127.0.0.3")
    dns.start()
    r = mx_relay(tmp_path, dns, port).send("example.test",
                                           ["a@example.test"])[0]
    assert r["code"] == 250, r
    assert r["remote"] == f"mx2.example.test[127.0.0.3]:{port}"
    assert len(backup.handler.messages) == 1


def test_all_mx_down_defers_with_last_error(tmp_path, dns):
    port = shared_free_port(["127.0.0.4", "127.0.0.5"])
    dns.mx("example.test", "mx1.example.test", 10)
    dns.mx("example.test", "mx2.example.test", 20)
    dns.host("mx1.example.test", "127.0.0.4")
    dns.host("mx2.example.test", "127.0.0.5")
    dns.start()
    res = mx_relay(tmp_path, dns, port).send(
        "example.test", ["a@example.test", "b@example.test"], count=3)
    for r in res:
        assert (r["code"], r["esc"], r["synthetic"]) == (451, "4.4.1", 1)
        assert r["text"] == (f"connect to mx2.example.test[127.0.0.5]:"
                             f"{port}: Connection refused")


def test_equal_preference_is_shuffled(tmp_path, dns, hops):
    port = shared_free_port(["127.0.0.2", "127.0.0.3"])
    a = hops(NextHop(Handler(), host="127.0.0.2", port=port))
    b = hops(NextHop(Handler(), host="127.0.0.3", port=port))
    dns.mx("example.test", "mxa.example.test", 10)
    dns.mx("example.test", "mxb.example.test", 10)
    dns.host("mxa.example.test", "127.0.0.2")
    dns.host("mxb.example.test", "127.0.0.3")
    dns.start()
    relay = mx_relay(tmp_path, dns, port)
    for _ in range(20):
        r = relay.send("example.test", ["x@example.test"])[0]
        assert r["code"] == 250, (r, relay.stderr)
        if a.handler.messages and b.handler.messages:
            break
    assert a.handler.messages and b.handler.messages, (
        len(a.handler.messages), len(b.handler.messages), relay.stderr)


def test_no_mx_falls_back_to_address(tmp_path, dns, hops):
    port = free_port("127.0.0.2")
    hop = hops(NextHop(Handler(), host="127.0.0.2", port=port))
    dns.host("example.test", "127.0.0.2")
    dns.start()
    r = mx_relay(tmp_path, dns, port).send("example.test",
                                           ["a@example.test"])[0]
    assert r["code"] == 250
    assert r["remote"] == f"example.test[127.0.0.2]:{port}"
    assert len(hop.handler.messages) == 1


def test_mx_host_with_ipv6_only(tmp_path, dns, hops):
    port = free_port("::1")
    hop = hops(NextHop(Handler(), host="::1", port=port))
    dns.mx("example.test", "mx6.example.test", 10)
    dns.host("mx6.example.test", "::1")
    dns.start()
    r = mx_relay(tmp_path, dns, port).send("example.test",
                                           ["a@example.test"])[0]
    assert r["code"] == 250, r
    assert r["remote"] == f"mx6.example.test[::1]:{port}"
    assert len(hop.handler.messages) == 1


def test_null_mx_bounces_without_connecting(tmp_path, dns):
    dns.null_mx("nomail.test")
    dns.start()
    res = mx_relay(tmp_path, dns, 25).send("nomail.test",
                                           ["a@nomail.test", "b@nomail.test"])
    for r in res:
        assert (r["code"], r["esc"], r["synthetic"]) == (556, "5.1.10", 1)
        assert "null MX" in r["text"]
        assert r["remote"] == ""


def test_nxdomain_bounces(tmp_path, dns):
    dns.start()
    r = mx_relay(tmp_path, dns, 25).send("nowhere.test",
                                         ["a@nowhere.test"])[0]
    assert (r["code"], r["esc"], r["synthetic"]) == (550, "5.1.2", 1), r
    assert "nowhere.test" in r["text"]


def test_mx_without_address_bounces(tmp_path, dns):
    dns.mx("example.test", "ghost.example.test", 10)
    dns.start()
    r = mx_relay(tmp_path, dns, 25).send("example.test",
                                         ["a@example.test"])[0]
    assert (r["code"], r["esc"], r["synthetic"]) == (550, "5.4.4", 1), r


def test_we_are_the_best_mx(tmp_path, dns):
    dns.mx("example.test", "relay.tern.test", 10)
    dns.mx("example.test", "other.example.test", 20)
    dns.start()
    r = mx_relay(tmp_path, dns, 25).send("example.test",
                                         ["a@example.test"])[0]
    assert (r["code"], r["esc"]) == (554, "5.4.6"), r


@pytest.mark.parametrize("rcode", [2, None])  # SERVFAIL, no answer
def test_dns_failure_defers(tmp_path, rcode):
    stub = StubDns(rcode=rcode).start()
    try:
        relay = Relay(tmp_path, stub.port, "relay_port = 25\n")
        r = relay.send("example.test", ["a@example.test"])[0]
    finally:
        stub.stop()
    assert (r["code"], r["esc"], r["synthetic"]) == (451, "4.4.3", 1), r
    assert stub.queries >= 1


def test_address_literal_domain(tmp_path, stub_dns, hops):
    hop = hops(NextHop(Handler()))
    relay = Relay(tmp_path, stub_dns.port, f"relay_port = {hop.port}\n")
    r = relay.send("[127.0.0.1]", ["a@[127.0.0.1]"])[0]
    assert r["code"] == 250, r
    assert stub_dns.queries == 0


def test_smarthost_by_name(tmp_path, dns, hops):
    port = free_port("127.0.0.2")
    hop = hops(NextHop(Handler(), host="127.0.0.2", port=port))
    dns.host("smart.test", "127.0.0.2")
    dns.start()
    relay = Relay(tmp_path, dns.port, f"smarthost = smart.test:{port}\n")
    r = relay.send("anything.test", ["a@anything.test"])[0]
    assert r["code"] == 250 and r["remote"].startswith("smart.test["), r
    assert len(hop.handler.messages) == 1


# ---- STARTTLS ----

def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True,
                   capture_output=True)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """A CA, and certificates it signed for mx1.tls.test and other.test."""
    d = tmp_path_factory.mktemp("certs")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=tern test CA", "-keyout", "ca.key", "-out",
             "ca.pem", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign", cwd=d)
    for name in ("mx1.tls.test", "other.test"):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj",
                 f"/CN={name}", "-keyout", f"{name}.key", "-out",
                 f"{name}.csr", cwd=d)
        (d / f"{name}.ext").write_text(f"subjectAltName=DNS:{name}\n")
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem",
                 "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
                 "-extfile", f"{name}.ext", "-out", f"{name}.pem", cwd=d)
    return d


def tls_hop(certs, name, host="127.0.0.2", port=None):
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certs / f"{name}.pem", certs / f"{name}.key")
    return NextHop(Handler(), host=host, port=port, tls_context=ctx)


def tls_dns(dns, port_host="127.0.0.2"):
    dns.mx("example.test", "mx1.tls.test", 10)
    dns.host("mx1.tls.test", port_host)
    dns.start()


@pytest.mark.parametrize("policy", ["may", "require"])
def test_starttls_opportunistic(tmp_path, dns, hops, certs, policy):
    port = free_port("127.0.0.2")
    hop = hops(tls_hop(certs, "other.test", port=port))  # name not checked
    tls_dns(dns)
    relay = mx_relay(tmp_path, dns, port, f"relay_tls = {policy}\n")
    r = relay.send("example.test", ["a@example.test"])[0]
    assert r["code"] == 250, (r, relay.stderr)
    assert r["tls"].startswith("TLSv1.3 TLS_"), r
    assert len(hop.handler.messages) == 1


def test_starttls_verified(tmp_path, dns, hops, certs):
    port = free_port("127.0.0.2")
    hop = hops(tls_hop(certs, "mx1.tls.test", port=port))
    tls_dns(dns)
    relay = mx_relay(tmp_path, dns, port, "relay_tls = verify\n"
                     f"tls_ca_file = {certs / 'ca.pem'}\n")
    r = relay.send("example.test", ["a@example.test"])[0]
    assert r["code"] == 250, (r, relay.stderr)
    assert r["tls"].startswith("TLSv1.3 ")
    assert "verified=yes" in relay.stderr
    assert len(hop.handler.messages) == 1


def test_starttls_verify_fails_on_wrong_name(tmp_path, dns, hops, certs):
    port = free_port("127.0.0.2")
    hop = hops(tls_hop(certs, "other.test", port=port))
    tls_dns(dns)
    relay = mx_relay(tmp_path, dns, port, "relay_tls = verify\n"
                     f"tls_ca_file = {certs / 'ca.pem'}\n")
    r = relay.send("example.test", ["a@example.test"])[0]
    assert (r["code"], r["esc"], r["synthetic"]) == (451, "4.7.5", 1), r
    assert "certificate verification failed" in r["text"]
    assert "mx1.tls.test[127.0.0.2]" in r["text"]
    assert hop.handler.mails == 0


def test_starttls_verify_fails_on_unknown_ca(tmp_path, dns, hops, certs):
    port = free_port("127.0.0.2")
    hops(tls_hop(certs, "mx1.tls.test", port=port))
    tls_dns(dns)
    # the CA is not the one that signed: use a server cert as "CA"
    relay = mx_relay(tmp_path, dns, port, "relay_tls = verify\n"
                     f"tls_ca_file = {certs / 'other.test.pem'}\n")
    r = relay.send("example.test", ["a@example.test"])[0]
    assert (r["code"], r["esc"]) == (451, "4.7.5"), r


@pytest.mark.parametrize("policy", ["require", "verify"])
def test_tls_required_but_not_offered(tmp_path, stub_dns, hops, policy):
    hop = hops(NextHop(Handler()))
    relay = route_relay(tmp_path, stub_dns, hop.port,
                        f"relay_tls = {policy}\n")
    # the route's own tls= option decides for routes
    relay.conf.write_text(relay.conf.read_text().replace(
        f"127.0.0.1:{hop.port}", f"127.0.0.1:{hop.port} tls={policy}"))
    r = relay.send("example.test", ["a@example.test"])[0]
    assert (r["code"], r["esc"], r["synthetic"]) == (451, "4.7.4", 1), r
    assert "did not offer STARTTLS" in r["text"]
    assert hop.handler.mails == 0


def test_tls_none_never_starts_tls(tmp_path, dns, hops, certs):
    port = free_port("127.0.0.2")
    hops(tls_hop(certs, "mx1.tls.test", port=port))
    tls_dns(dns)
    relay = mx_relay(tmp_path, dns, port, "relay_tls = none\n")
    r = relay.send("example.test", ["a@example.test"])[0]
    assert r["code"] == 250 and r["tls"] == ""


@pytest.mark.parametrize("answer", [
    "454 4.7.0 TLS not available",          # refused: go on in plain
    "220 2.0.0 Ready\r\nthis is no TLS",   # broken: reconnect in plain
])
def test_starttls_may_falls_back_to_plain(tmp_path, stub_dns, hops, answer):
    hop = hops(ScriptServer(ehlo=["PIPELINING", "STARTTLS"],
                            replies={"STARTTLS": answer}))
    relay = route_relay(tmp_path, stub_dns, hop.port)
    relay.conf.write_text(relay.conf.read_text().replace(
        f"127.0.0.1:{hop.port}", f"127.0.0.1:{hop.port} tls=may"))
    r = relay.send("example.test", ["a@example.test"])[0]
    assert r["code"] == 250 and r["tls"] == "", (r, relay.stderr)
    assert len(hop.data_raw) == 1
    assert hop.connections == (1 if answer.startswith("454") else 2)
