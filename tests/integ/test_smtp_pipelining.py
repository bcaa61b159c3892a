"""PIPELINING (RFC 2920): groups of commands in one write, replies in
order, several transactions per write, state kept across refusals."""
import socket
import threading

import pytest

from smtp_helpers import (Client, check, queued, simple_message,
                          parse_stored, dot_stuff, assert_nothing_stored)


def test_pipelined_transaction(ternd):
    msg = simple_message(subject="pipelined")
    with Client(ternd) as c:
        c.ehlo()
        c.send(b"MAIL FROM:<s@remote.example>\r\n"
               b"RCPT TO:<alice@example.test>\r\n"
               b"RCPT TO:<nobody@example.test>\r\n"
               b"RCPT TO:<bob@example.test>\r\n"
               b"DATA\r\n")
        check(c.reply(), 250, "2.1.0")
        check(c.reply(), 250, "2.1.5")
        check(c.reply(), 550, "5.1.1")
        check(c.reply(), 250, "2.1.5")
        check(c.reply(), 354, None)
        c.send(dot_stuff(msg) + b".\r\n")
        qid = queued(c.reply())
        c.quit()
    for u in ("alice", "bob"):
        st = parse_stored(ternd.messages(u)[0])
        assert (st.qid, st.body) == (qid, msg)


def test_pipelined_data_and_message_in_one_write(ternd):
    """A client that does not wait for 354 (not RFC 2920 conformant, but
    it must not desynchronise the server)."""
    msg = simple_message(subject="eager")
    with Client(ternd) as c:
        c.ehlo()
        c.send(b"MAIL FROM:<s@remote.example>\r\n"
               b"RCPT TO:<alice@example.test>\r\n"
               b"DATA\r\n" + dot_stuff(msg) + b".\r\nNOOP\r\n")
        check(c.reply(), 250, "2.1.0")
        check(c.reply(), 250, "2.1.5")
        check(c.reply(), 354, None)
        qid = queued(c.reply())
        check(c.reply(), 250, "2.0.0")
        c.quit()
    st = parse_stored(ternd.messages("alice")[0])
    assert (st.qid, st.body) == (qid, msg)


def test_pipelined_refused_data_keeps_sync(ternd):
    """All RCPTs refused: DATA gets 554 and the commands behind it are
    still answered, in order."""
    with Client(ternd) as c:
        c.ehlo()
        c.send(b"MAIL FROM:<s@remote.example>\r\n"
               b"RCPT TO:<nobody@example.test>\r\n"
               b"DATA\r\n"
               b"RSET\r\n"
               b"NOOP\r\n")
        check(c.reply(), 250, "2.1.0")
        check(c.reply(), 550, "5.1.1")
        check(c.reply(), 554, "5.5.1")
        check(c.reply(), 250, "2.0.0")
        check(c.reply(), 250, "2.0.0")
        c.quit()
    assert_nothing_stored(ternd)


# unsafe_no_fsync commits on the loop thread instead of the worker pool
# (commit_now): the same replies, in the same order, must come out, and
# the same bytes be stored. half_close: the client shuts down its sending
# side right after the last command, which must not lose a reply.
@pytest.mark.parametrize("extra,half_close", [
    ("", False), ("", True),
    ("unsafe_no_fsync = yes\n", False), ("unsafe_no_fsync = yes\n", True)],
    ids=["fsync", "fsync-half-close", "no-fsync", "no-fsync-half-close"])
def test_several_transactions_in_one_write(ternd_factory, extra, half_close):
    ternd = ternd_factory(extra)
    msgs = [simple_message(subject=f"bdat {i}", msgid=f"<m{i}@client.example>")
            for i in range(5)]
    rcpt = ["alice@example.test", "bob@example.test"]
    wire = b""
    for i, m in enumerate(msgs):
        wire += (b"MAIL FROM:<s%d@remote.example>\r\n" % i +
                 b"RCPT TO:<%s>\r\n" % rcpt[i % 2].encode() +
                 b"BDAT %d LAST\r\n" % len(m) + m)
    # one plain DATA transaction too, with its message (pipelined blindly)
    data_msg = simple_message(subject="data", msgid="<d@client.example>")
    wire += (b"MAIL FROM:<d@remote.example>\r\nRCPT TO:<alice@example.test>"
             b"\r\nDATA\r\n" + dot_stuff(data_msg) + b".\r\n")
    # and one to both mailboxes through the alias (one file, two links)
    team_msg = simple_message(subject="team", msgid="<t@client.example>")
    wire += (b"MAIL FROM:<t@remote.example>\r\nRCPT TO:<team@example.test>"
             b"\r\nBDAT %d LAST\r\n" % len(team_msg) + team_msg)
    wire += b"QUIT\r\n"
    with Client(ternd) as c:
        c.ehlo()
        c.send(wire)
        if half_close:
            c.sock.shutdown(socket.SHUT_WR)
        qids = []
        for i in range(5):
            check(c.reply(), 250, "2.1.0")
            check(c.reply(), 250, "2.1.5")
            qids.append(queued(c.reply()))
        check(c.reply(), 250, "2.1.0")
        check(c.reply(), 250, "2.1.5")
        check(c.reply(), 354, None)
        qids.append(queued(c.reply()))
        check(c.reply(), 250, "2.1.0")
        check(c.reply(), 250, "2.1.5")
        qids.append(queued(c.reply()))
        check(c.reply(), 221, "2.0.0")
        c.wait_closed()
    assert len(set(qids)) == 7
    got = {}
    for u in ("alice", "bob"):
        for data in ternd.messages(u):
            st = parse_stored(data)
            got[(u, st.qid)] = (st.return_path, st.body)
    want = {(["alice", "bob"][i % 2], qids[i]):
            (f"s{i}@remote.example", msgs[i]) for i in range(5)}
    want[("alice", qids[5])] = ("d@remote.example", data_msg)
    for u in ("alice", "bob"):
        want[(u, qids[6])] = ("t@remote.example", team_msg)
    assert got == want
    warned = "ev=unsafe-no-fsync" in ternd.log_text()
    assert warned == ("unsafe_no_fsync" in extra)


def test_thousand_noops(ternd):
    with Client(ternd) as c:
        c.send(b"NOOP\r\n" * 1000)
        rs = c.replies(1000)
        for r in rs:
            check(r, 250, "2.0.0")
        c.quit()
    assert_nothing_stored(ternd)


def test_many_mixed_commands_in_order(ternd):
    cmds = []
    want = []
    for i in range(300):
        k = i % 4
        if k == 0:
            cmds.append(b"NOOP %d" % i)
            want.append((250, "2.0.0"))
        elif k == 1:
            cmds.append(b"HELP MAIL")
            want.append((214, "2.0.0"))
        elif k == 2:
            cmds.append(b"VRFY alice")
            want.append((252, "2.5.0"))
        else:
            cmds.append(b"RSET")
            want.append((250, "2.0.0"))
    with Client(ternd) as c:
        c.send(b"".join(x + b"\r\n" for x in cmds))
        for code, esc in want:
            check(c.reply(), code, esc)
        c.quit()
    assert_nothing_stored(ternd)


def test_client_reading_late(ternd):
    """A client that writes a lot before it reads anything still gets
    every reply, in order (the server stops reading while its output is
    backed up, and resumes)."""
    n = 20000
    with Client(ternd) as c:
        t = threading.Thread(target=c.send,
                             args=(b"HELP\r\n" * n + b"QUIT\r\n",))
        t.start()
        t.join(60)      # everything is written before the first read
        assert not t.is_alive()
        for _ in range(n):
            check(c.reply(), 214, "2.0.0")
        check(c.reply(), 221, "2.0.0")
        c.wait_closed()
    assert_nothing_stored(ternd)


def test_large_messages_pipelined(ternd):
    """Several near-limit messages and an oversized one in one stream:
    reading pauses for each commit and resumes; replies stay in order."""
    line = b"p" * 998 + b"\r\n"
    msgs = [b"Subject: big %d\r\n\r\n" % i + line * (900 + i)
            for i in range(4)]
    too_big = b"Subject: too big\r\n\r\n" + line * 1100
    wire = b""
    order = []
    for i, m in enumerate(msgs[:2]):
        wire += (b"MAIL FROM:<s@remote.example>\r\nRCPT TO:<alice@example"
                 b".test>\r\nDATA\r\n" + dot_stuff(m) + b".\r\n")
        order.append(m)
    wire += (b"MAIL FROM:<s@remote.example>\r\nRCPT TO:<alice@example.test>"
             b"\r\nDATA\r\n" + too_big + b".\r\n")
    for m in msgs[2:]:
        wire += (b"MAIL FROM:<s@remote.example>\r\nRCPT TO:<alice@example"
                 b".test>\r\nBDAT %d LAST\r\n" % len(m) + m)
    wire += b"QUIT\r\n"
    with Client(ternd) as c:
        c.ehlo()
        sender = threading.Thread(target=c.send, args=(wire,))
        sender.start()
        qids = []
        for i in range(2):
            check(c.reply(), 250, "2.1.0")
            check(c.reply(), 250, "2.1.5")
            check(c.reply(), 354, None)
            qids.append(queued(c.reply()))
        check(c.reply(), 250, "2.1.0")
        check(c.reply(), 250, "2.1.5")
        check(c.reply(), 354, None)
        check(c.reply(), 552, "5.3.4")
        for i in range(2):
            check(c.reply(), 250, "2.1.0")
            check(c.reply(), 250, "2.1.5")
            qids.append(queued(c.reply()))
        check(c.reply(), 221, "2.0.0")
        c.wait_closed()
        sender.join(60)
    got = {parse_stored(d).qid: parse_stored(d).body
           for d in ternd.messages("alice")}
    assert got == dict(zip(qids, msgs))
