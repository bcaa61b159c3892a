"""A scriptable next hop for the relay tests: aiosmtpd on loopback.

    sink = Sink(name="mx1.remote.example")      # 127.0.0.1, a free port
    sink.on("RCPT", "450 4.2.1 Mailbox busy", times=1, rcpt="bob")
    sink.on("DOT", DROP, times=1)
    sink.on("greeting", "421 4.3.2 Not now", times=1)
    sink.on("MAIL", Delay(10, "250 2.1.0 Ok"))
    ...
    sink.wait(lambda: len(sink.delivered()) == 1)
    sink.stop()

What a script says. Each point of the dialogue ("greeting", "EHLO",
"MAIL", "RCPT", "DATA" - the reply to the DATA command itself, before
354 - and "DOT" - the reply to the end of the data) has a list of rules,
tried in the order they were added; the first that matches is used, and
a rule given with times=N is removed after N uses. A rule for "RCPT" may
name a recipient (rcpt="bob" matches the local part, rcpt="bob@x.test"
the whole address, without regard to case). Without a matching rule the
sink behaves like a healthy server (220, 250, 354, 250).

A rule's action is a reply (a string; "\\n" separates the lines of a
multi-line reply, which the sink sends with the right continuation
marks), DROP (close the connection instead of replying),
Delay(seconds, action) (wait, then do the action) or Call(fn, action)
(call fn(), then do the action; None is the default reply). After a
greeting other than 2xx the sink answers 503 to every command until QUIT
(RFC 5321 3.1); after any 421 it closes the connection (3.8).

rcpt_limit=N makes the sink answer limit_reply to any recipient after N
accepted ones in one transaction (a server that limits recipients).

Extensions: SIZE (size=N advertises and enforces N, 0 = not
advertised), SMTPUTF8 (smtputf8=False: not advertised, and MAIL with
SMTPUTF8 is refused), PIPELINING (pipelining=True), 8BITMIME always.

What the sink records, all under .lock:
  .connections   connections accepted so far
  .open, .max_open   connections open now / at most at once
  .commands      (connection number, command line) for every command
  .stalls        for each Delay the client did not wait out: how long it
                 waited before hanging up (seconds)
  .data_received  messages whose data reached its end (before the reply)
  .transactions  Txn for every DATA that reached its end and was answered:
                 envelope, data, and the reply given to the dot
  .delivered()   the transactions answered with 2xx
"""
import asyncio
import threading
import time
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from conftest import free_port

DROP = object()


@dataclass
class Delay:
    seconds: float
    then: object = None     # the action after the wait; None: the default


@dataclass
class Call:
    fn: object              # called (in the sink's thread) before the action
    then: object = None


@dataclass
class Txn:
    conn: int               # connection number, 1-based
    mail_from: str
    mail_options: list
    rcpts: list
    data: bytes
    reply: str
    at: float = field(default_factory=time.monotonic)


def _reply_lines(reply):
    """'250 a\\nb' -> ['250-a', '250 b'] (a multi-line reply)."""
    lines = reply.split("\n")
    if len(lines) == 1:
        return lines
    code = lines[0][:3]
    out = [code + "-" + lines[0][4:]]
    out += [code + "-" + l for l in lines[1:-1]]
    out.append(code + " " + lines[-1])
    return out


class _Rule:
    def __init__(self, action, times, rcpt):
        self.action = action
        self.times = times
        self.rcpt = rcpt.lower() if rcpt else None

    def matches(self, addr):
        if self.rcpt is None:
            return True
        addr = (addr or "").lower()
        if "@" in self.rcpt:
            return addr == self.rcpt
        return addr.split("@")[0] == self.rcpt


class _Handler:
    def __init__(self, sink):
        self.sink = sink

    async def handle_EHLO(self, server, session, envelope, hostname,
                          responses):
        session.host_name = hostname
        act = self.sink._take("EHLO")
        if act is not None:
            r = await self.sink._act(server, act)
            if r is not None:
                return _reply_lines(r)
            return []
        out = [r for r in responses if not r.endswith("HELP")]
        if self.sink.pipelining:
            out.append("250-PIPELINING")
        out.append("250 ENHANCEDSTATUSCODES")
        return out

    async def handle_MAIL(self, server, session, envelope, address,
                          mail_options):
        act = self.sink._take("MAIL")
        reply = await self.sink._act(server, act) if act is not None \
            else None
        if server.transport is None:
            return None
        if reply is None:
            reply = "250 2.1.0 Ok"
        if reply.startswith("2"):
            envelope.mail_from = address
            envelope.mail_options.extend(mail_options)
            server._tern_accepted = 0
        return "\r\n".join(_reply_lines(reply))

    async def handle_RCPT(self, server, session, envelope, address,
                          rcpt_options):
        sink = self.sink
        act = sink._take("RCPT", address)
        reply = await sink._act(server, act) if act is not None else None
        if server.transport is None:
            return None
        if reply is None:
            accepted = getattr(server, "_tern_accepted", 0)
            if sink.rcpt_limit is not None and accepted >= sink.rcpt_limit:
                reply = sink.limit_reply
            else:
                reply = "250 2.1.5 Ok"
        if reply.startswith("2"):
            server._tern_accepted = getattr(server, "_tern_accepted", 0) + 1
            envelope.rcpt_tos.append(address)
            envelope.rcpt_options.extend(rcpt_options)
        return "\r\n".join(_reply_lines(reply))

    async def handle_DATA(self, server, session, envelope):
        sink = self.sink
        with sink.lock:
            sink.data_received += 1
        act = sink._take("DOT")
        reply = await sink._act(server, act) if act is not None else None
        if server.transport is None:
            return None
        if reply is None:
            sink._qn += 1
            reply = "250 2.0.0 Ok: queued as SINK%04d" % sink._qn
        with sink.lock:
            sink.transactions.append(Txn(
                server._tern_conn, envelope.mail_from,
                list(envelope.mail_options), list(envelope.rcpt_tos),
                envelope.original_content, reply))
        return "\r\n".join(_reply_lines(reply))

    async def handle_RSET(self, server, session, envelope):
        server._tern_accepted = 0
        return "250 2.0.0 Ok"


class _ScriptSMTP(SMTP):
    """aiosmtpd's server with hooks for the greeting and DATA command,
    and counters of connections."""

    def connection_made(self, transport):
        sink = self._tern_sink
        first = self.transport is None
        if first:
            with sink.lock:
                sink.sessions.append(self)
                sink.connections += 1
                sink.open += 1
                sink.max_open = max(sink.max_open, sink.open)
                self._tern_conn = sink.connections
            self._tern_open = True
        super().connection_made(transport)

    def connection_lost(self, exc):
        sink = self._tern_sink
        if getattr(self, "_tern_open", False):
            self._tern_open = False
            with sink.lock:
                sink.open -= 1
                if self in sink.sessions:
                    sink.sessions.remove(self)
                sink.closed_at.append(time.monotonic())
        super().connection_lost(exc)

    async def _handle_client(self):
        sink = self._tern_sink
        act = sink._take("greeting")
        reply = await sink._act(self, act) if act is not None else None
        if self.transport is None:
            return
        if reply is not None and not reply.startswith("2"):
            await self.push("\r\n".join(_reply_lines(reply)))
            if self.transport is not None and not reply.startswith("421"):
                await self._refuse_all()
            if self.transport is not None:
                self.transport.close()
            return
        if reply is not None:
            # aiosmtpd greets with "220 {hostname} {ident}"
            parts = reply[4:].split(" ", 1)
            self.hostname = parts[0]
            self.__ident__ = parts[1] if len(parts) > 1 else ""
        await super()._handle_client()

    async def _refuse_all(self):
        """After a 554 greeting: 503 to everything until QUIT (RFC 5321
        3.1)."""
        for _ in range(50):
            try:
                line = await asyncio.wait_for(self._reader.readuntil(), 30)
            except (asyncio.TimeoutError, OSError,
                    asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                return
            line = line.rstrip(b"\r\n").decode("utf-8", "replace")
            await self._tern_record(line)
            if line[:4].upper() == "QUIT":
                await self.push("221 2.0.0 Bye")
                return
            await self.push("503 5.5.1 No service")

    async def push(self, status):
        await super().push(status)
        # 421 closes the connection (RFC 5321 3.8)
        text = status if isinstance(status, str) else status.decode()
        if text.split("\r\n")[-1].startswith("421 ") and \
                self.transport is not None:
            self.transport.close()

    async def _tern_record(self, line):
        with self._tern_sink.lock:
            self._tern_sink.commands.append((self._tern_conn, line))

    async def smtp_EHLO(self, arg):
        await self._tern_record("EHLO %s" % (arg or ""))
        return await super().smtp_EHLO(arg)

    async def smtp_HELO(self, arg):
        await self._tern_record("HELO %s" % (arg or ""))
        return await super().smtp_HELO(arg)

    async def smtp_MAIL(self, arg):
        await self._tern_record("MAIL %s" % (arg or ""))
        return await super().smtp_MAIL(arg)

    async def smtp_RCPT(self, arg):
        await self._tern_record("RCPT %s" % (arg or ""))
        return await super().smtp_RCPT(arg)

    async def smtp_RSET(self, arg):
        await self._tern_record("RSET")
        return await super().smtp_RSET(arg)

    async def smtp_QUIT(self, arg):
        await self._tern_record("QUIT")
        return await super().smtp_QUIT(arg)

    async def smtp_NOOP(self, arg):
        await self._tern_record("NOOP")
        return await super().smtp_NOOP(arg)

    async def smtp_STARTTLS(self, arg):
        await self._tern_record("STARTTLS")
        await self.push("454 4.7.0 TLS not available")

    async def smtp_DATA(self, arg):
        await self._tern_record("DATA")
        sink = self._tern_sink
        if self.envelope.rcpt_tos and not arg and self.session.host_name:
            act = sink._take("DATA")
            if act is not None:
                reply = await sink._act(self, act)
                if self.transport is None:
                    return
                if reply is not None and not reply.startswith("354"):
                    for l in _reply_lines(reply):
                        await self.push(l)
                    return
        return await super().smtp_DATA(arg)


class Sink(Controller):
    """A scripted aiosmtpd next hop on host:port (see the module doc)."""

    def __init__(self, host="127.0.0.1", port=None, name="sink.test",
                 size=10 * 1024 * 1024, smtputf8=True, pipelining=True,
                 rcpt_limit=None,
                 limit_reply="452 4.5.3 Too many recipients"):
        self.lock = threading.Lock()
        self.connections = self.open = self.max_open = 0
        self.closed_at = []
        self.commands = []
        self.transactions = []
        self.data_received = 0
        self.sessions = []
        self.stalls = []
        self.rules = {}
        self.pipelining = pipelining
        self.rcpt_limit = rcpt_limit
        self.limit_reply = limit_reply
        self.name = name
        self._qn = 0
        super().__init__(_Handler(self), hostname=host,
                         port=port or free_port(host),
                         server_hostname=name, data_size_limit=size,
                         enable_SMTPUTF8=smtputf8, decode_data=False,
                         ready_timeout=10)
        self.start()

    # ---- aiosmtpd plumbing ----

    def factory(self):
        smtp = _ScriptSMTP(self.handler, **self.SMTP_kwargs)
        smtp._tern_sink = self
        return smtp

    def _trigger_server(self):
        # Controller connects once to check that the server runs; that
        # connection is not the relay's: forget it afterwards
        super()._trigger_server()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with self.lock:
                if self.open == 0:
                    break
            time.sleep(0.01)
        with self.lock:
            self.connections = 0
            self.max_open = 0
            self.commands.clear()
            self.closed_at.clear()

    # ---- scripting ----

    def on(self, point, action, times=None, rcpt=None):
        """Add a rule: at point ("greeting", "EHLO", "MAIL", "RCPT",
        "DATA", "DOT") do action, times times (None: always)."""
        assert point in ("greeting", "EHLO", "MAIL", "RCPT", "DATA", "DOT")
        with self.lock:
            self.rules.setdefault(point, []).append(
                _Rule(action, times, rcpt))
        return self

    def clear(self):
        with self.lock:
            self.rules.clear()
            self.rcpt_limit = None

    def _take(self, point, addr=None):
        with self.lock:
            for rule in self.rules.get(point, []):
                if rule.matches(addr):
                    if rule.times is not None:
                        rule.times -= 1
                        if rule.times <= 0:
                            self.rules[point].remove(rule)
                    return rule.action
        return None

    async def _act(self, server, act):
        """Carry out an action; returns the reply to send, or None."""
        while isinstance(act, (Delay, Call)):
            if isinstance(act, Call):
                act.fn()
            else:
                t0 = time.monotonic()
                try:
                    await asyncio.sleep(act.seconds)
                except asyncio.CancelledError:
                    # the client gave up waiting: note for how long
                    with self.lock:
                        self.stalls.append(time.monotonic() - t0)
                    raise
                if server.transport is None:
                    return None
            act = act.then
        if act is DROP:
            if server.transport is not None:
                server.transport.abort()
            # connection_lost() cancels the session's task: wait for it
            await asyncio.sleep(60)
            return None
        return act

    def close_all(self):
        """Hang up every open connection (a server ending idle ones)."""
        def close():
            with self.lock:
                sessions = list(self.sessions)
            for s in sessions:
                if s.transport is not None:
                    s.transport.close()
        self.loop.call_soon_threadsafe(close)

    # ---- what it saw ----

    def delivered(self):
        with self.lock:
            return [t for t in self.transactions if t.reply.startswith("2")]

    def delivered_to(self, addr):
        return [t for t in self.delivered()
                if addr.lower() in (r.lower() for r in t.rcpts)]

    def command_lines(self, verb=None):
        with self.lock:
            return [l for _, l in self.commands
                    if verb is None or l.upper().startswith(verb)]

    def wait(self, cond, timeout=20, interval=0.05):
        """Wait until cond() is true; returns its last value."""
        deadline = time.monotonic() + timeout
        while True:
            v = cond()
            if v or time.monotonic() >= deadline:
                return v
            time.sleep(interval)
