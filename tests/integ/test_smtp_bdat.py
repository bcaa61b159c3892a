"""BDAT (RFC 3030 CHUNKING): chunk replies, exact content (no dot
processing), refusals that still read the chunk, the size limit, and
mixing with DATA."""
from smtp_helpers import (Client, check, queued, simple_message,
                          parse_stored, assert_nothing_stored, maildir_files,
                          check_maildir_name, tmp_files)


def start(ternd, rcpts=("alice@example.test",), params=""):
    c = Client(ternd)
    c.ehlo()
    c.mail("s@remote.example", params)
    for r in rcpts:
        c.rcpt(r)
    return c


def bdat(c, chunk, last=False):
    c.send(b"BDAT %d%s\r\n" % (len(chunk), b" LAST" if last else b"")
           + chunk)
    return c.reply()


def check_chunk_ok(r, n):
    check(r, 250, "2.0.0")
    assert r.text == f"{n} octets received", r


def test_bdat_chunks(ternd):
    parts = [b"Subject: chunks\r\n", b"\r\nfirst part, ",
             b"second part\r\n.\r\n..not stuffed\r\n", b"last\r\n"]
    with start(ternd) as c:
        check_chunk_ok(bdat(c, parts[0]), len(parts[0]))
        check_chunk_ok(bdat(c, parts[1]), len(parts[1]))
        check_chunk_ok(bdat(c, parts[2]), len(parts[2]))
        qid = queued(bdat(c, parts[3], last=True))
        c.quit()
    [f] = maildir_files(ternd, "alice")
    st = parse_stored(f.read_bytes())
    assert st.qid == qid and st.proto == "ESMTP"
    assert st.body == b"".join(parts)
    check_maildir_name(f, qid, ternd.proc.pid)
    assert tmp_files(ternd) == []


def test_bdat_single_last(ternd):
    msg = simple_message(body=".\r\n..\r\n.x")
    with start(ternd) as c:
        qid = queued(bdat(c, msg, last=True))
        c.quit()
    st = parse_stored(ternd.messages("alice")[0])
    assert (st.qid, st.body) == (qid, msg)


def test_bdat_zero_last(ternd):
    msg = simple_message()
    with start(ternd) as c:
        check_chunk_ok(bdat(c, msg), len(msg))
        qid = queued(bdat(c, b"", last=True))
        c.quit()
    st = parse_stored(ternd.messages("alice")[0])
    assert (st.qid, st.body) == (qid, msg)


def test_bdat_zero_last_only(ternd):
    with start(ternd) as c:
        qid = queued(bdat(c, b"", last=True))
        c.quit()
    st = parse_stored(ternd.messages("alice")[0])
    assert (st.qid, st.body) == (qid, b"")


def test_bdat_binary(ternd):
    alphabet = bytes(b for b in range(256) if b not in (10, 13))
    msg = b"Subject: bin\r\n\r\n" + (alphabet + b"\r\n") * 50
    with start(ternd, params="BODY=8BITMIME") as c:
        # split at awkward places, including between CR and LF
        cut = msg.index(b"\r\n", 100) + 1
        check_chunk_ok(bdat(c, msg[:cut]), cut)
        queued(bdat(c, msg[cut:], last=True))
        c.quit()
    assert parse_stored(ternd.messages("alice")[0]).body == msg


def test_bdat_case_and_command_in_chunk(ternd):
    """Chunk octets are content even when they look like commands."""
    chunk = b"QUIT\r\nRSET\r\n.\r\n"
    with start(ternd) as c:
        c.send(b"bdat %d last\r\n" % len(chunk) + chunk)
        queued(c.reply())
        check(c.cmd("NOOP"), 250, "2.0.0")
        c.quit()
    assert parse_stored(ternd.messages("alice")[0]).body == chunk


def test_bdat_without_mail(ternd):
    chunk = b"NOOP\r\n" * 10
    with Client(ternd) as c:
        c.ehlo()
        check(bdat(c, chunk), 503, "5.5.1")
        # the chunk was read: the next command is in sync
        check(c.cmd("NOOP"), 250, "2.0.0")
        check(bdat(c, chunk, last=True), 503, "5.5.1")
        check(c.cmd("NOOP"), 250, "2.0.0")
        c.mail()
        c.rcpt()
        queued(bdat(c, simple_message(), last=True))
        c.quit()
    assert len(ternd.messages("alice")) == 1


def test_bdat_before_ehlo(ternd):
    with Client(ternd) as c:
        check(bdat(c, b"RSET\r\n"), 503, "5.5.1")
        check(c.cmd("NOOP"), 250, "2.0.0")
        c.quit()
    assert_nothing_stored(ternd)


def test_bdat_without_rcpt(ternd):
    with Client(ternd) as c:
        c.ehlo()
        c.mail()
        check(bdat(c, b"NOOP\r\n", last=True), 503, "5.5.1")
        check(c.cmd("NOOP"), 250, "2.0.0")
        c.quit()
    assert_nothing_stored(ternd)


def test_bdat_all_rcpts_rejected(ternd):
    with Client(ternd) as c:
        c.ehlo()
        c.mail()
        check(c.cmd("RCPT TO:<nobody@example.test>"), 550, "5.1.1")
        check(bdat(c, b"x\r\n", last=True), 554, "5.5.1")
        check(c.cmd("NOOP"), 250, "2.0.0")
        c.quit()
    assert_nothing_stored(ternd)


def test_data_after_bdat(ternd):
    with start(ternd) as c:
        check_chunk_ok(bdat(c, b"Subject: x\r\n"), 12)
        check(c.cmd("DATA"), 503, "5.5.1")
        # the transaction is over: a new one works
        check(c.cmd("RSET"), 250, "2.0.0")
        c.mail()
        c.rcpt()
        queued(bdat(c, b"fresh\r\n", last=True))
        c.quit()
    [stored] = ternd.messages("alice")
    assert parse_stored(stored).body == b"fresh\r\n"


def test_bdat_after_data_rejected_message(ternd):
    with start(ternd) as c:
        check(c.cmd("DATA x"), 501, "5.5.4")
        qid = queued(bdat(c, b"ok\r\n", last=True))
        c.quit()
    assert parse_stored(ternd.messages("alice")[0]).qid == qid


def test_bdat_syntax(ternd):
    with start(ternd) as c:
        check(c.cmd("BDAT x"), 501, "5.5.4")
        check(c.cmd("BDAT"), 501, "5.5.4")
        check(c.cmd("BDAT -1"), 501, "5.5.4")
        check(c.cmd("BDAT 10 FIRST"), 501, "5.5.4")
        check(c.cmd("BDAT 10 LAST x"), 501, "5.5.4")
        # nothing was read as chunk data; the transaction is intact
        queued(bdat(c, b"ok\r\n", last=True))
        c.quit()
    assert parse_stored(ternd.messages("alice")[0]).body == b"ok\r\n"


def test_bdat_over_limit_then_pipelined_bdat(ternd):
    part = b"y" * (600 * 1024)
    with start(ternd) as c:
        check_chunk_ok(bdat(c, part), len(part))
        # second chunk passes 1M, third is pipelined right behind it
        c.send(b"BDAT %d\r\n" % len(part) + part +
               b"BDAT 5 LAST\r\nhello" + b"NOOP\r\n")
        check(c.reply(), 552, "5.3.4")
        check(c.reply(), 503, "5.5.1")
        check(c.reply(), 250, "2.0.0")
        # RSET clears the failed transfer; a new message goes through
        check(c.cmd("RSET"), 250, "2.0.0")
        c.mail()
        c.rcpt()
        qid = queued(bdat(c, b"small\r\n", last=True))
        c.quit()
    [stored] = ternd.messages("alice")
    st = parse_stored(stored)
    assert (st.qid, st.body) == (qid, b"small\r\n")
    assert tmp_files(ternd) == []


def test_bdat_single_chunk_over_limit(ternd):
    big = b"z" * (1024 * 1024 + 1)
    with start(ternd) as c:
        check(bdat(c, big, last=True), 552, "5.3.4")
        check(c.cmd("NOOP"), 250, "2.0.0")
        c.quit()
    assert_nothing_stored(ternd)


def test_bdat_at_limit(ternd):
    msg = b"Subject: max\r\n\r\n"
    msg += b"m" * (1024 * 1024 - len(msg))
    with start(ternd) as c:
        queued(bdat(c, msg, last=True))
        c.quit()
    assert parse_stored(ternd.messages("alice")[0]).body == msg


def test_bdat_pipelined_transaction(ternd):
    msg = simple_message(subject="pipelined bdat")
    with Client(ternd) as c:
        c.ehlo()
        c.send(b"MAIL FROM:<s@remote.example>\r\n"
               b"RCPT TO:<alice@example.test>\r\n"
               b"RCPT TO:<bob@example.test>\r\n"
               b"BDAT %d LAST\r\n" % len(msg) + msg)
        check(c.reply(), 250, "2.1.0")
        check(c.reply(), 250, "2.1.5")
        check(c.reply(), 250, "2.1.5")
        qid = queued(c.reply())
        c.quit()
    for u in ("alice", "bob"):
        st = parse_stored(ternd.messages(u)[0])
        assert (st.qid, st.body, st.for_rcpt) == (qid, msg, None)


def test_bdat_too_many_hops(ternd):
    msg = b"Received: from a by b; Sun, 29 Nov 2026 07:00:00 +0000\r\n" * 50
    msg += b"\r\nbody\r\n"
    with start(ternd) as c:
        check(bdat(c, msg, last=True), 554, "5.4.6")
        c.quit()
    assert_nothing_stored(ternd)


def test_bdat_data_timeout(ternd_factory):
    t = ternd_factory(args=("-o", "data_timeout=2s"))
    with start(t) as c:
        c.send(b"BDAT 100 LAST\r\nonly a few octets")
        r = c.reply()
        check(r, 421, "4.4.2")
        assert r.text.startswith("mx.test.example "), r
        c.wait_closed()
    assert_nothing_stored(t)


def test_bdat_zero_not_last(ternd):
    with start(ternd) as c:
        check_chunk_ok(bdat(c, b""), 0)
        check_chunk_ok(bdat(c, b"abc\r\n"), 5)
        check_chunk_ok(bdat(c, b""), 0)
        queued(bdat(c, b"", last=True))
        c.quit()
    assert parse_stored(ternd.messages("alice")[0]).body == b"abc\r\n"
