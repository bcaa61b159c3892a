"""DATA: the stored file byte for byte (trace headers, Maildir name,
dot-unstuffing, 8-bit content), size limit, hop limit, line endings."""
import random
import smtplib

import pytest

from smtp_helpers import (HOST, Client, check, queued, simple_message,
                          parse_stored, send_message, assert_nothing_stored,
                          maildir_files, check_maildir_name, tmp_files,
                          dot_stuff, all_stored)


def transaction(c, rcpts=("alice@example.test",), sender="s@remote.example",
                params=""):
    c.mail(sender, params)
    for r in rcpts:
        c.rcpt(r)


def test_stored_file_exact(ternd):
    msg = simple_message(subject="exact", body="line one\r\nline two")
    with Client(ternd) as c:
        c.ehlo("client.example")
        transaction(c, sender="sender@remote.example")
        check(c.cmd("DATA"), 354, None)
        c.send(msg + b".\r\n")
        r = c.reply()
        qid = queued(r)
        assert r.raw == f"250 2.0.0 Ok: queued as {qid}\r\n".encode()
        c.quit()
    [f] = maildir_files(ternd, "alice")
    data = f.read_bytes()
    st = parse_stored(data)
    want_head = (
        "Return-Path: <sender@remote.example>\r\n"
        "Received: from client.example ([127.0.0.1])\r\n"
        f"\tby {HOST} (tern) with ESMTP id {qid}\r\n"
        f"\tfor <alice@example.test>; {st.date}\r\n").encode()
    assert data == want_head + msg
    check_maildir_name(f, qid, ternd.proc.pid)
    assert maildir_files(ternd, "alice", sub="tmp") == []
    assert maildir_files(ternd, "alice", sub="cur") == []
    assert tmp_files(ternd) == []
    # no one else got it
    assert set(all_stored(ternd)) == {f}


def test_received_without_for_for_two_recipients(ternd):
    msg = simple_message()
    with Client(ternd) as c:
        c.ehlo("two.example")
        transaction(c, rcpts=("alice@example.test", "bob@example.test"))
        qid = c.data(msg)
        c.quit()
    [a] = ternd.messages("alice")
    [b] = ternd.messages("bob")
    assert a == b
    st = parse_stored(a)
    assert st.for_rcpt is None and b"\tfor <" not in a.split(msg)[0]
    assert (st.qid, st.helo, st.proto, st.body) == (qid, "two.example",
                                                    "ESMTP", msg)


def test_received_protocol_smtp_after_helo(ternd):
    msg = simple_message()
    qid = send_message(ternd, msg, helo="old.example", esmtp=False)
    st = parse_stored(ternd.messages("alice")[0])
    assert (st.qid, st.helo, st.proto, st.body) == (qid, "old.example",
                                                    "SMTP", msg)


def test_received_protocol_utf8smtp(ternd):
    msg = "Subject: grüße\r\nFrom: <jörg@bücher.example>\r\n\r\nHallo.\r\n"
    msg = msg.encode()
    with Client(ternd) as c:
        c.ehlo()
        check(c.cmd("MAIL FROM:<jörg@bücher.example> SMTPUTF8 "
                    "BODY=8BITMIME"), 250, "2.1.0")
        c.rcpt("alice@example.test")
        qid = c.data(msg)
        c.quit()
    stored = ternd.messages("alice")[0]
    st = parse_stored(stored)
    assert (st.qid, st.proto, st.body) == (qid, "UTF8SMTP", msg)
    assert st.return_path == "jörg@bücher.example"


def test_received_literal_helo(ternd):
    msg = simple_message()
    send_message(ternd, msg, helo="[127.0.0.1]")
    st = parse_stored(ternd.messages("alice")[0])
    assert st.helo == "[127.0.0.1]" and st.ip == "127.0.0.1"


def test_dot_unstuffing(ternd):
    wire = (b"Subject: dots\r\n\r\n"
            b"..x\r\n"
            b"...\r\n"
            b"..\r\n"
            b". leading dot and space\r\n"
            b"a . in the middle\r\n"
            b"end.\r\n"
            b".\r\n")
    want = (b"Subject: dots\r\n\r\n"
            b".x\r\n"
            b"..\r\n"
            b".\r\n"
            b" leading dot and space\r\n"
            b"a . in the middle\r\n"
            b"end.\r\n")
    with Client(ternd) as c:
        c.ehlo()
        transaction(c)
        check(c.cmd("DATA"), 354, None)
        c.send(wire)
        queued(c.reply())
        c.quit()
    assert parse_stored(ternd.messages("alice")[0]).body == want


def test_many_dot_lines_smtplib(ternd):
    lines = []
    for i in range(60):
        lines.append(b"." * (i % 7 + 1))
        lines.append(b"." + f"line {i}".encode())
        lines.append(b"..." + b"x" * i)
    msg = (b"Subject: many dots\r\nMessage-ID: <dots@client.example>\r\n\r\n"
           + b"\r\n".join(lines) + b"\r\n.\r\n..\r\n")
    with smtplib.SMTP(ternd.host, ternd.port, timeout=30) as s:
        s.ehlo("client.example")
        refused = s.sendmail("s@remote.example", ["alice@example.test"], msg)
        assert refused == {}
    assert parse_stored(ternd.messages("alice")[0]).body == msg


def test_binary_content_round_trip(ternd):
    rnd = random.Random(1234)
    # every octet value except CR and LF, in CRLF-terminated lines,
    # including NUL, high bytes and lines starting with a dot
    alphabet = bytes(b for b in range(256) if b not in (10, 13))
    lines = [alphabet]
    for i in range(300):
        n = rnd.randrange(0, 990)
        line = bytes(rnd.choice(alphabet) for _ in range(n))
        if i % 10 == 0:
            line = b"." + line
        lines.append(line)
    msg = b"Subject: binary\r\n\r\n" + b"\r\n".join(lines) + b"\r\n"
    with Client(ternd) as c:
        c.ehlo()
        transaction(c, params="BODY=8BITMIME")
        qid = c.data(msg)
        c.quit()
    st = parse_stored(ternd.messages("alice")[0])
    assert st.qid == qid
    assert st.body == msg


def test_8bit_without_body_param(ternd):
    """8-bit text without BODY=8BITMIME is still stored as sent."""
    msg = "Subject: café\r\n\r\nÀ bientôt\r\n".encode("latin-1")
    send_message(ternd, msg)
    assert parse_stored(ternd.messages("alice")[0]).body == msg


def test_empty_message(ternd):
    with Client(ternd) as c:
        c.ehlo()
        transaction(c)
        check(c.cmd("DATA"), 354, None)
        c.send(b".\r\n")
        qid = queued(c.reply())
        c.quit()
    [f] = maildir_files(ternd, "alice")
    st = parse_stored(f.read_bytes())
    assert st.qid == qid and st.body == b""
    check_maildir_name(f, qid, ternd.proc.pid)


def test_long_lines_intact(ternd):
    long = b"x" * 2000
    msg = b"Subject: long\r\n\r\n" + long + b"\r\n" + b"y" * 5000 + b"\r\n"
    send_message(ternd, msg)
    assert parse_stored(ternd.messages("alice")[0]).body == msg


def test_message_without_headers(ternd):
    msg = b"just a line, no header section\r\n"
    send_message(ternd, msg)
    assert parse_stored(ternd.messages("alice")[0]).body == msg


def test_two_transactions_in_one_session(ternd):
    m1 = simple_message(subject="one")
    m2 = simple_message(subject="two")
    with Client(ternd) as c:
        c.ehlo()
        transaction(c)
        q1 = c.data(m1)
        transaction(c, rcpts=("bob@example.test",))
        q2 = c.data(m2)
        transaction(c)
        q3 = c.data(m2)
        c.quit()
    assert len({q1, q2, q3}) == 3
    alice = [parse_stored(m) for m in ternd.messages("alice")]
    assert sorted((s.qid, s.body) for s in alice) == sorted(
        [(q1, m1), (q3, m2)])
    [b] = ternd.messages("bob")
    assert (parse_stored(b).qid, parse_stored(b).body) == (q2, m2)


# ---- size limit -------------------------------------------------------

LIMIT = 1024 * 1024


def sized_message(n):
    head = b"Subject: big\r\n\r\n"
    line = b"z" * 998 + b"\r\n"
    body = head
    while len(body) + len(line) <= n:
        body += line
    rest = n - len(body)
    if rest:
        assert rest >= 2
        body += b"q" * (rest - 2) + b"\r\n"
    assert len(body) == n
    return body


def test_message_at_limit_accepted(ternd):
    msg = sized_message(LIMIT)
    send_message(ternd, msg)
    assert parse_stored(ternd.messages("alice")[0]).body == msg


def test_message_over_limit(ternd):
    big = sized_message(LIMIT + 2)
    small = simple_message(subject="after")
    with Client(ternd) as c:
        c.ehlo()
        transaction(c)
        check(c.cmd("DATA"), 354, None)
        c.send(dot_stuff(big) + b".\r\n")
        check(c.reply(), 552, "5.3.4")
        # the session goes on; the next transaction works
        check(c.cmd("RCPT TO:<alice@example.test>"), 503, "5.5.1")
        transaction(c)
        qid = c.data(small)
        c.quit()
    [stored] = ternd.messages("alice")
    st = parse_stored(stored)
    assert st.qid == qid and st.body == small
    assert tmp_files(ternd) == []


def test_message_far_over_limit(ternd):
    with Client(ternd) as c:
        c.ehlo()
        transaction(c)
        check(c.cmd("DATA"), 354, None)
        chunk = (b"a" * 1022 + b"\r\n") * 1024       # 1 MiB
        for _ in range(5):
            c.send(chunk)
        c.send(b".\r\n")
        check(c.reply(), 552, "5.3.4")
        check(c.cmd("NOOP"), 250, "2.0.0")
        c.quit()
    assert_nothing_stored(ternd)


def test_message_over_declared_size_limit_smaller(ternd):
    """SIZE= is a declaration; the real limit is still checked."""
    big = sized_message(LIMIT + 100)
    with Client(ternd) as c:
        c.ehlo()
        transaction(c, params="SIZE=1000")
        check(c.cmd("DATA"), 354, None)
        c.send(dot_stuff(big) + b".\r\n")
        check(c.reply(), 552, "5.3.4")
        c.quit()
    assert_nothing_stored(ternd)


# ---- hop limit --------------------------------------------------------

def hops_message(n):
    recv = b"".join(b"Received: from h%d.example by h%d.example; "
                    b"Sun, 29 Nov 2026 07:00:00 +0000\r\n" % (i, i + 1)
                    for i in range(n))
    return recv + b"Subject: loop\r\n\r\nbody\r\n"


def test_too_many_received_headers(ternd):
    with Client(ternd) as c:
        c.ehlo()
        transaction(c)
        check(c.cmd("DATA"), 354, None)
        c.send(hops_message(50) + b".\r\n")
        check(c.reply(), 554, "5.4.6")
        check(c.cmd("NOOP"), 250, "2.0.0")
        c.quit()
    assert_nothing_stored(ternd)


def test_received_headers_below_limit(ternd):
    msg = hops_message(49)
    send_message(ternd, msg)
    assert parse_stored(ternd.messages("alice")[0]).body == msg


def test_received_lines_in_body_do_not_count(ternd):
    msg = (b"Subject: quoted trace\r\n\r\n" +
           b"Received: from x by y; Sun, 29 Nov 2026 07:00:00 +0000\r\n" * 60)
    send_message(ternd, msg)
    assert parse_stored(ternd.messages("alice")[0]).body == msg


def test_max_hops_configurable(ternd_factory):
    t = ternd_factory("max_hops = 3\n")
    with Client(t) as c:
        c.ehlo()
        transaction(c)
        check(c.cmd("DATA"), 354, None)
        c.send(hops_message(3) + b".\r\n")
        check(c.reply(), 554, "5.4.6")
        transaction(c)
        c.data(hops_message(2))
        c.quit()
    assert parse_stored(t.messages("alice")[0]).body == hops_message(2)


# ---- line endings (SMTP smuggling) ------------------------------------

def test_bare_lf_normalized(ternd):
    with Client(ternd) as c:
        c.ehlo()
        transaction(c)
        check(c.cmd("DATA"), 354, None)
        c.send(b"Subject: lf\r\n\r\none\ntwo\rthree\r\n.\r\n")
        queued(c.reply())
        c.quit()
    body = parse_stored(ternd.messages("alice")[0]).body
    assert body == b"Subject: lf\r\n\r\none\r\ntwo\r\nthree\r\n"


@pytest.mark.parametrize("fake_end", [b"\n.\n", b"\n.\r\n", b"\r\n.\n",
                                      b"\r.\r\n"])
def test_bare_newline_dot_does_not_end_data(ternd, fake_end):
    """<LF>.<LF> and friends must not end the data (RFC 5321 4.1.1.4):
    the smuggled MAIL FROM stays message text."""
    smuggled = (b"MAIL FROM:<evil@attacker.example>\r\n"
                b"RCPT TO:<bob@example.test>\r\nDATA\r\n"
                b"Subject: smuggled\r\n\r\nevil\r\n")
    with Client(ternd) as c:
        c.ehlo()
        transaction(c)
        check(c.cmd("DATA"), 354, None)
        c.send(b"Subject: first\r\n\r\nhello" + fake_end + smuggled +
               b".\r\n")
        queued(c.reply())
        check(c.cmd("NOOP"), 250, "2.0.0")
        c.quit()
    [stored] = ternd.messages("alice")
    body = parse_stored(stored).body
    assert b"MAIL FROM:<evil@attacker.example>\r\n" in body
    assert ternd.messages("bob") == []


def test_bare_newline_reject_policy(ternd_factory):
    t = ternd_factory("bare_newline = reject\n")
    with Client(t) as c:
        c.ehlo()
        transaction(c)
        check(c.cmd("DATA"), 354, None)
        c.send(b"Subject: lf\r\n\r\none\ntwo\r\n.\r\n")
        check(c.reply(), 550, "5.5.2")
        transaction(c)
        c.data(simple_message())
        c.quit()
    assert len(t.messages("alice")) == 1


def test_message_at_limit_after_unstuffing(ternd):
    """The limit applies to the message, not to its dot-stuffed form:
    1M of '.' lines is 1.5M on the wire and must be accepted."""
    head = b"Subject: dots\r\n\r\n"
    msg = head + b".\r\n" * ((LIMIT - len(head)) // 3)
    msg += b"x" * (LIMIT - len(msg) - 2) + b"\r\n"
    assert len(msg) == LIMIT
    send_message(ternd, msg)
    assert parse_stored(ternd.messages("alice")[0]).body == msg


def test_byte_at_a_time(ternd):
    """Commands and data split into one-octet writes, including the
    CR LF . CR LF terminator."""
    import socket
    import time
    msg = simple_message(subject="slow", body=".dot\r\n\r\nend")
    wire = (b"EHLO slow.example\r\nMAIL FROM:<s@remote.example>\r\n"
            b"RCPT TO:<alice@example.test>\r\nDATA\r\n")
    with Client(ternd) as c:
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for b in wire:
            c.send(bytes([b]))
        check(c.reply(), 250, None)
        check(c.reply(), 250, "2.1.0")
        check(c.reply(), 250, "2.1.5")
        check(c.reply(), 354, None)
        for b in dot_stuff(msg) + b".\r\n":
            c.send(bytes([b]))
            if b in (13, 10, 46):
                time.sleep(0.002)
        qid = queued(c.reply())
        c.quit()
    st = parse_stored(ternd.messages("alice")[0])
    assert (st.qid, st.body, st.helo) == (qid, msg, "slow.example")


def test_client_disconnect_mid_data(ternd):
    with Client(ternd) as c:
        c.ehlo()
        transaction(c)
        check(c.cmd("DATA"), 354, None)
        c.send(b"Subject: cut off\r\n\r\nsome text\r\n")
    # the server goes on serving others; nothing of the cut message stays
    m = simple_message()
    qid = send_message(ternd, m)
    [stored] = ternd.messages("alice")
    assert parse_stored(stored).qid == qid
    assert tmp_files(ternd) == []


def test_quit_ends_pipeline(ternd):
    """Nothing is answered after 221 (RFC 5321 3.8)."""
    with Client(ternd) as c:
        c.send(b"NOOP\r\nQUIT\r\nNOOP\r\nEHLO x.example\r\n")
        check(c.reply(), 250, "2.0.0")
        check(c.reply(), 221, "2.0.0")
        c.wait_closed()


def test_return_path_from_source_routed_sender(ternd):
    m = simple_message()
    with Client(ternd) as c:
        c.ehlo()
        check(c.cmd("MAIL FROM:<@relay.example:a@b.example>"), 250, "2.1.0")
        c.rcpt()
        c.data(m)
        c.quit()
    st = parse_stored(ternd.messages("alice")[0])
    assert st.return_path == "a@b.example"


def test_return_path_quoted_sender(ternd):
    m = simple_message()
    with Client(ternd) as c:
        c.ehlo()
        check(c.cmd('MAIL FROM:<"john doe"@b.example>'), 250, "2.1.0")
        c.rcpt()
        c.data(m)
        c.quit()
    st = parse_stored(ternd.messages("alice")[0])
    assert st.return_path == '"john doe"@b.example'
    assert st.body == m


def test_stored_file_mode(ternd):
    send_message(ternd, simple_message())
    [f] = maildir_files(ternd, "alice")
    assert (f.stat().st_mode & 0o777) == 0o600
