"""MAIL FROM and RCPT TO: syntax, parameters, address checks, local
delivery targets (case folding, quoting, source routes, aliases,
postmaster), duplicates and the recipient limit."""
from smtp_helpers import (Cases, Client, check, simple_message,
                          parse_stored, send_message, assert_nothing_stored,
                          config_with, maildir_files)


def session(ternd, esmtp=True):
    c = Client(ternd)
    if esmtp:
        c.ehlo()
    else:
        c.helo()
    return c


# ---- MAIL -------------------------------------------------------------

def test_mail_ok(ternd):
    with session(ternd) as c:
        check(c.cmd("MAIL FROM:<a@b.example>"), 250, "2.1.0", "a@b.example")
        c.quit()
    assert_nothing_stored(ternd)


def test_mail_case_insensitive_keyword(ternd):
    with session(ternd) as c:
        check(c.cmd("mail from:<a@b.example>"), 250, "2.1.0")
        c.quit()
    assert_nothing_stored(ternd)


def test_mail_space_after_colon(ternd):
    with session(ternd) as c:
        check(c.cmd("MAIL FROM: <a@b.example>"), 250, "2.1.0")
        c.quit()
    assert_nothing_stored(ternd)


def test_null_sender_delivery(ternd):
    msg = simple_message(subject="bounce")
    qid = send_message(ternd, msg, sender="")
    [stored] = ternd.messages("alice")
    st = parse_stored(stored)
    assert stored.startswith(b"Return-Path: <>\r\n")
    assert st.return_path == ""
    assert st.qid == qid
    assert st.body == msg


MAIL_SYNTAX = [
    "MAIL FROM:a@b.example",
    "MAIL FROM:<a@b.example",
    "MAIL FROM",
    "MAIL TO:<a@b.example>",
    "MAIL",
    "MAIL FROM:<a@b.example>SIZE=10",
]


def test_mail_syntax(ternd):
    cases = Cases()
    for line in MAIL_SYNTAX:
        with cases.case(line), session(ternd) as c:
            check(c.cmd(line), 501, "5.5.4")
            c.mail()        # same state: MAIL is still possible
            c.quit()
    cases.done()
    assert_nothing_stored(ternd)


MAIL_BAD_PARAMS = [
    ("FOO=1", 555, "5.5.4"),
    ("FOO", 555, "5.5.4"),
    ("SIZE=abc", 501, "5.5.4"),
    ("SIZE=", 501, "5.5.4"),
    ("SIZE=2000000", 552, "5.3.4"),
    ("SIZE=1048577", 552, "5.3.4"),
    # RFC 1870: size-value is 1*20DIGIT; 20 digits are valid (and huge)
    ("SIZE=99999999999999999999", 552, "5.3.4"),
    ("SIZE=999999999999999999999", 501, "5.5.4"),
    ("SIZE=10 SIZE=10", 501, "5.5.4"),
    ("BODY=BINARYMIME", 555, "5.5.4"),
    ("BODY=8BITMIME BODY=8BITMIME", 501, "5.5.4"),
    ("SMTPUTF8=x", 501, "5.5.4"),
    ("RET=HDRS", 555, "5.5.4"),
    ("AUTH=<>", 555, "5.5.4"),
]


def test_mail_bad_parameters(ternd):
    cases = Cases()
    for params, code, esc in MAIL_BAD_PARAMS:
        with cases.case(params), session(ternd) as c:
            check(c.cmd(f"MAIL FROM:<a@b.example> {params}"), code, esc)
            c.mail()        # no transaction was opened
            c.quit()
    cases.done()
    assert_nothing_stored(ternd)


MAIL_GOOD_PARAMS = [
    "SIZE=1048576", "SIZE=0", "size=100", "BODY=8BITMIME", "BODY=7BIT",
    "body=8bitmime", "SMTPUTF8", "SIZE=100 BODY=8BITMIME SMTPUTF8",
    "SIZE=100  BODY=7BIT",
]


def test_mail_good_parameters(ternd):
    cases = Cases()
    for params in MAIL_GOOD_PARAMS:
        with cases.case(params), session(ternd) as c:
            check(c.cmd(f"MAIL FROM:<a@b.example> {params}"), 250, "2.1.0")
            c.quit()
    cases.done()
    assert_nothing_stored(ternd)


MALFORMED_SENDERS = [
    "<a@>", "<@>", "<a..b@x.example>", "<.a@x.example>", "<a.@x.example>",
    "<a@x..example>", "<a@-x.example>", "<a b@x.example>",
    "<" + "l" * 65 + "@x.example>", "<a@[300.1.1.1]>", "<postmaster>",
]


def test_mail_malformed_sender(ternd):
    cases = Cases()
    for sender in MALFORMED_SENDERS:
        with cases.case(sender), session(ternd) as c:
            check(c.cmd(f"MAIL FROM:{sender}"), 553, "5.1.7")
            c.mail()
            c.quit()
    cases.done()
    assert_nothing_stored(ternd)


def test_mail_local_part_64_ok(ternd):
    with session(ternd) as c:
        check(c.cmd("MAIL FROM:<" + "l" * 64 + "@x.example>"), 250, "2.1.0")
        c.quit()
    assert_nothing_stored(ternd)


def test_mail_utf8_sender(ternd):
    with session(ternd) as c:
        check(c.cmd("MAIL FROM:<jörg@bücher.example>"), 553, "5.6.7")
        check(c.cmd("MAIL FROM:<jörg@bücher.example> SMTPUTF8"),
              250, "2.1.0")
        c.quit()
    assert_nothing_stored(ternd)


def test_mail_params_after_helo(ternd):
    with session(ternd, esmtp=False) as c:
        check(c.cmd("MAIL FROM:<a@b.example> SIZE=100"), 555, "5.5.4")
        check(c.cmd("MAIL FROM:<a@b.example> BODY=8BITMIME"), 555, "5.5.4")
        check(c.cmd("MAIL FROM:<a@b.example>"), 250, "2.1.0")
        c.quit()
    assert_nothing_stored(ternd)


def test_mail_invalid_utf8(ternd):
    with session(ternd) as c:
        r = c.cmd(b"MAIL FROM:<j\xf6rg@b.example> SMTPUTF8")
        check(r, 500, "5.5.2")
        c.mail()
        c.quit()


# ---- RCPT -------------------------------------------------------------
    assert_nothing_stored(ternd)

RCPT_REPLIES = [
    ("<alice@example.test>", 250, "2.1.5"),
    ("<bob@localhost>", 250, "2.1.5"),
    ("<nobody@example.test>", 550, "5.1.1"),
    ("<nobody@localhost>", 550, "5.1.1"),
    ("<alice@elsewhere.example>", 550, "5.7.1"),
    ("<alice@sub.example.test>", 550, "5.7.1"),
    ("<x@[127.0.0.1]>", 550, "5.7.1"),
    ("<alice@>", 553, "5.1.3"),
    ("<@>", 553, "5.1.3"),
    ("<alice..x@example.test>", 553, "5.1.3"),
    ("<alice>", 553, "5.1.3"),
    ("<>", 553, "5.1.3"),
    ("<" + "l" * 65 + "@example.test>", 553, "5.1.3"),
    ("alice@example.test", 501, "5.5.4"),
    ("<alice@example.test", 501, "5.5.4"),
]


def test_rcpt_replies(ternd):
    cases = Cases()
    for rcpt, code, esc in RCPT_REPLIES:
        with cases.case(rcpt), session(ternd) as c:
            c.mail()
            r = c.cmd(f"RCPT TO:{rcpt}")
            check(r, code, esc)
            if code == 550:
                assert rcpt.strip("<>") in r.text, r
            c.quit()
    cases.done()
    assert_nothing_stored(ternd)


def test_rcpt_space_after_colon(ternd):
    with session(ternd) as c:
        c.mail()
        check(c.cmd("RCPT TO: <alice@example.test>"), 250, "2.1.5")
        c.quit()
    assert_nothing_stored(ternd)


def test_rcpt_parameter_rejected(ternd):
    with session(ternd) as c:
        c.mail()
        check(c.cmd("RCPT TO:<alice@example.test> NOTIFY=NEVER"),
              555, "5.5.4")
        check(c.cmd("RCPT TO:<alice@example.test> ORCPT=rfc822;a@b"),
              555, "5.5.4")
        # the transaction is still open and has no recipient
        check(c.cmd("DATA"), 503, "5.5.1")
        c.rcpt()
        c.quit()
    assert_nothing_stored(ternd)


def test_rcpt_utf8_without_smtputf8(ternd):
    with session(ternd) as c:
        c.mail()
        check(c.cmd("RCPT TO:<jörg@example.test>"), 553, "5.6.7")
        c.quit()
    assert_nothing_stored(ternd)


def test_rcpt_utf8_with_smtputf8_unknown(ternd):
    with session(ternd) as c:
        c.mail(params="SMTPUTF8")
        check(c.cmd("RCPT TO:<jörg@example.test>"), 550, "5.1.1")
        c.quit()
    assert_nothing_stored(ternd)


def deliver_to(ternd, rcpt_path, msg=None):
    msg = msg or simple_message()
    with session(ternd) as c:
        c.mail()
        check(c.cmd(f"RCPT TO:{rcpt_path}"), 250, "2.1.5")
        qid = c.data(msg)
        c.quit()
    return qid, msg


def test_postmaster_without_domain(ternd):
    qid, msg = deliver_to(ternd, "<postmaster>")
    [stored] = ternd.messages("postmaster")
    st = parse_stored(stored)
    assert st.qid == qid and st.body == msg
    assert st.for_rcpt == "postmaster"


def test_postmaster_any_case(ternd):
    qid, msg = deliver_to(ternd, "<PostMaster@EXAMPLE.test>")
    [stored] = ternd.messages("postmaster")
    st = parse_stored(stored)
    assert st.qid == qid and st.body == msg
    assert ternd.messages("postmaster", "localhost") == []


def test_postmaster_bare_any_case(ternd):
    deliver_to(ternd, "<POSTMASTER>")
    assert len(ternd.messages("postmaster")) == 1


def test_case_insensitive_mailbox(ternd):
    qid, msg = deliver_to(ternd, "<ALICE@Example.Test>")
    [stored] = ternd.messages("alice")
    st = parse_stored(stored)
    assert st.qid == qid and st.body == msg
    # the address is kept as the client wrote it
    assert st.for_rcpt == "ALICE@Example.Test"


def test_quoted_local_part(ternd):
    qid, msg = deliver_to(ternd, '<"alice"@example.test>')
    [stored] = ternd.messages("alice")
    assert parse_stored(stored).body == msg


def test_source_route_ignored(ternd):
    qid, msg = deliver_to(ternd, "<@relay.example:alice@example.test>")
    [stored] = ternd.messages("alice")
    st = parse_stored(stored)
    assert st.qid == qid and st.body == msg


def test_source_route_two_hops(ternd):
    deliver_to(ternd, "<@a.example,@b.example:bob@example.test>")
    assert len(ternd.messages("bob")) == 1


def test_other_local_domain(ternd):
    deliver_to(ternd, "<bob@localhost>")
    assert len(ternd.messages("bob", "localhost")) == 1
    assert ternd.messages("bob") == []


def test_alias_to_two_mailboxes_hard_linked(ternd):
    qid, msg = deliver_to(ternd, "<team@example.test>")
    [a] = maildir_files(ternd, "alice")
    [b] = maildir_files(ternd, "bob")
    assert a.stat().st_ino == b.stat().st_ino, "want one file, hard-linked"
    assert a.read_bytes() == b.read_bytes()
    st = parse_stored(a.read_bytes())
    assert st.qid == qid and st.body == msg
    assert st.for_rcpt == "team@example.test"
    assert ternd.messages("postmaster") == []


def test_alias_domain_wide(ternd):
    qid, msg = deliver_to(ternd, "<abuse@localhost>")
    [stored] = ternd.messages("postmaster", "localhost")
    assert parse_stored(stored).body == msg
    assert ternd.messages("postmaster") == []
    deliver_to(ternd, "<Abuse@example.test>")
    assert len(ternd.messages("postmaster")) == 1


def test_alias_is_domain_specific(ternd):
    with session(ternd) as c:
        c.mail()
        check(c.cmd("RCPT TO:<team@localhost>"), 550, "5.1.1")
        c.quit()
    assert_nothing_stored(ternd)


def test_same_mailbox_twice_stored_once(ternd):
    msg = simple_message()
    with session(ternd) as c:
        c.mail()
        c.rcpt("alice@example.test")
        c.rcpt("ALICE@example.test")
        c.rcpt("team@example.test")
        c.rcpt("bob@example.test")
        qid = c.data(msg)
        c.quit()
    [a] = ternd.messages("alice")
    [b] = ternd.messages("bob")
    st = parse_stored(a)
    assert st.qid == qid and st.body == msg and a == b
    assert st.for_rcpt is None    # 4 recipients: no "for" clause


def test_rejected_rcpt_does_not_block_others(ternd):
    msg = simple_message()
    with session(ternd) as c:
        c.mail()
        check(c.cmd("RCPT TO:<nobody@example.test>"), 550, "5.1.1")
        c.rcpt("bob@example.test")
        check(c.cmd("RCPT TO:<x@elsewhere.example>"), 550, "5.7.1")
        qid = c.data(msg)
        c.quit()
    [b] = ternd.messages("bob")
    st = parse_stored(b)
    assert st.qid == qid and st.body == msg
    assert st.for_rcpt == "bob@example.test"


# ---- recipient limit --------------------------------------------------

def test_max_recipients_same_mailbox(ternd):
    msg = simple_message()
    with session(ternd) as c:
        c.mail()
        # pipelined, as a real client would: 101 RCPTs in one write
        c.send(b"RCPT TO:<alice@example.test>\r\n" * 101)
        rs = c.replies(101)
        for r in rs[:100]:
            check(r, 250, "2.1.5")
        check(rs[100], 452, "4.5.3")
        qid = c.data(msg)
        c.quit()
    [stored] = ternd.messages("alice")
    st = parse_stored(stored)
    assert st.qid == qid and st.body == msg


def test_max_recipients_distinct_mailboxes(ternd_factory, tmp_path):
    users = [f"u{i:03d}" for i in range(101)]
    (tmp_path / "mailboxes.txt").write_text(
        "# test users\n" + "\n".join(users + ["alice", "bob"]) + "\n")
    t = ternd_factory(config=config_with(
        mailboxes=f"file:{tmp_path}/mailboxes.txt"))
    msg = simple_message()
    with Client(t) as c:
        c.ehlo()
        c.mail()
        for u in users[:100]:
            c.rcpt(f"{u}@example.test")
        check(c.cmd(f"RCPT TO:<{users[100]}@example.test>"), 452, "4.5.3")
        # still 452 for any further one, even a duplicate
        check(c.cmd("RCPT TO:<u000@example.test>"), 452, "4.5.3")
        qid = c.data(msg)
        c.quit()
    inodes = set()
    for u in users[:100]:
        [f] = maildir_files(t, u)
        st = parse_stored(f.read_bytes())
        assert st.qid == qid and st.body == msg and st.for_rcpt is None
        inodes.add(f.stat().st_ino)
    assert len(inodes) == 1
    assert t.messages(users[100]) == []
    assert t.messages("alice") == []


def test_max_recipients_counts_rejected_rcpt_separately(ternd):
    """Rejected recipients are not accepted recipients: 100 good ones
    still fit after some rejects."""
    with session(ternd) as c:
        c.mail()
        for _ in range(5):
            check(c.cmd("RCPT TO:<nobody@example.test>"), 550, "5.1.1")
        c.send(b"RCPT TO:<bob@example.test>\r\n" * 100)
        for r in c.replies(100):
            check(r, 250, "2.1.5")
        check(c.cmd("RCPT TO:<bob@example.test>"), 452, "4.5.3")
        c.data(simple_message())
        c.quit()
    assert len(ternd.messages("bob")) == 1


def test_nothing_stored_without_data(ternd):
    with session(ternd) as c:
        c.mail()
        c.rcpt()
        c.quit()
    assert_nothing_stored(ternd)


def test_mail_path_256_boundary(ternd):
    dom = ".".join(["d" * 60] * 4) + ".example"
    local = "l" * 64
    ok = f"<{local}@{dom[:189]}>"
    assert len(ok) == 256
    long = f"<{local}@{dom[:190]}x>"
    assert len(long) == 258
    with session(ternd) as c:
        check(c.cmd(f"MAIL FROM:{long}"), 553, "5.1.7")
        check(c.cmd(f"MAIL FROM:{ok}"), 250, "2.1.0")
        c.quit()
    assert_nothing_stored(ternd)

