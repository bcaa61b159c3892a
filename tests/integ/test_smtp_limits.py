"""Connection limits (whole server, per client address) and the free
disk space reserve."""
import socket
import time

from smtp_helpers import (Client, check, check_greeting_type, parse_stored,
                          simple_message, assert_nothing_stored)


def connect_admitted(ternd, source=None, timeout=10.0):
    """A connection that got the 220 greeting. Retries briefly while the
    server may still count a connection the client already closed."""
    deadline = time.monotonic() + timeout
    while True:
        c = Client(ternd, source=source, greet=False)
        r = c.reply()
        if r.code == 220:
            c.greeting = r
            return c
        c.close()
        assert r.code == 421 and time.monotonic() < deadline, \
            f"got {str(r)!r}, want 220 greeting"
        time.sleep(0.05)


def refused(ternd, source=None):
    """Connect and expect a 421 4.7.0 and a close right away."""
    c = Client(ternd, source=source, greet=False)
    try:
        r = c.reply()
        check_greeting_type(r, 421, "4.7.0")
        c.wait_closed()
        return r
    finally:
        c.close()


def transaction(c, msg, rcpt="alice@example.test"):
    c.ehlo()
    c.mail()
    c.rcpt(rcpt)
    return c.data(msg)


def test_max_connections(ternd_factory):
    t = ternd_factory(args=("-o", "max_connections=3"))
    conns = [connect_admitted(t) for _ in range(3)]
    try:
        for c in conns:
            check(c.greeting, 220, None)
        r = refused(t)
        assert "Too many connections" in r.text
        # the admitted ones keep working
        msgs = {}
        for i, c in enumerate(conns):
            m = simple_message(subject=f"conn {i}")
            msgs[transaction(c, m)] = m
        # one leaves: a slot frees up
        conns[0].quit()
        conns[0] = connect_admitted(t)
        refused(t)
        for c in conns:
            c.quit()
    finally:
        for c in conns:
            c.close()
    got = {parse_stored(d).qid: parse_stored(d).body
           for d in t.messages("alice")}
    assert got == msgs


def test_max_connections_per_ip(ternd_factory):
    t = ternd_factory(args=("-o", "max_connections_per_ip=2"))
    conns = [connect_admitted(t), connect_admitted(t)]
    try:
        r = refused(t)
        assert "from your address" in r.text
        # another client address still gets in (twice)
        other = [connect_admitted(t, source="127.0.0.2"),
                 connect_admitted(t, source="127.0.0.2")]
        conns += other
        refused(t, source="127.0.0.2")
        m = simple_message(subject="from .2")
        qid = transaction(other[0], m)
        for c in conns:
            c.quit()
    finally:
        for c in conns:
            c.close()
    [stored] = t.messages("alice")
    st = parse_stored(stored)
    assert (st.qid, st.ip, st.body) == (qid, "127.0.0.2", m)


def test_per_ip_slot_freed_on_close(ternd_factory):
    t = ternd_factory(args=("-o", "max_connections_per_ip=1"))
    c = connect_admitted(t)
    for _ in range(10):
        refused(t)
    # a client that just drops the connection (no QUIT)
    c.close()
    c = connect_admitted(t)
    c.quit()
    c.close()
    assert_nothing_stored(t)


def test_refused_connections_do_not_count(ternd_factory):
    """Refused connections leave nothing behind: after many refusals the
    admitted ones and a freed slot still work."""
    t = ternd_factory(args=("-o", "max_connections=1"))
    c = connect_admitted(t)
    for _ in range(20):
        refused(t)
    c.quit()
    c.close()
    c = connect_admitted(t)
    m = simple_message()
    qid = transaction(c, m)
    c.quit()
    c.close()
    assert parse_stored(t.messages("alice")[0]).qid == qid


def test_min_free_space(ternd_factory):
    t = ternd_factory("min_free_space = 100000G\n")
    with Client(t) as c:
        c.ehlo()
        check(c.cmd("MAIL FROM:<s@remote.example>"), 452, "4.3.1")
        check(c.cmd("MAIL FROM:<s@remote.example> SIZE=10"), 452, "4.3.1")
        # no transaction was opened
        check(c.cmd("RCPT TO:<alice@example.test>"), 503, "5.5.1")
        check(c.cmd("DATA"), 503, "5.5.1")
        check(c.cmd("NOOP"), 250, "2.0.0")
        c.quit()
    assert_nothing_stored(t)


def test_min_free_space_zero_accepts(ternd_factory):
    t = ternd_factory("min_free_space = 0\n")
    m = simple_message()
    with Client(t) as c:
        qid = transaction(c, m)
        c.quit()
    assert parse_stored(t.messages("alice")[0]).qid == qid


def test_listener_only_on_configured_address(ternd):
    """listen = 127.0.0.1:PORT: 127.0.0.2 (also loopback) is not served."""
    s = socket.socket()
    s.settimeout(5)
    try:
        err = s.connect_ex(("127.0.0.2", ternd.port))
        assert err != 0, "ternd answers on 127.0.0.2"
    finally:
        s.close()
    assert_nothing_stored(ternd)

