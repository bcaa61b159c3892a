"""Hostile and malformed input, end to end (issue "ternd under attack
and failure").

1. SMTP smuggling (CVE-2023-51764/51765/51766 class): only
   <CR><LF>.<CR><LF> ends DATA and only the byte count ends a BDAT
   chunk. Every known fake end of data, with a whole second transaction
   hidden behind it, sent three ways (after the 354, pipelined in one
   write with the commands, and trickled byte by byte across reads),
   under both bare_newline policies: normalize stores exactly one
   message per transaction, with the smuggled text as content and no
   bare CR or LF; reject answers 550 5.5.2 and stores nothing. The
   complete list of replies up to QUIT's 221 is compared, so an extra
   reply (a second transaction) cannot go unnoticed.
2. Malformed and hostile input: NUL and 8-bit bytes, a 10 MB command
   line, 5000-octet text lines, a 900 KB and a 2 MB header section,
   10,000 pipelined RCPTs and NOOPs, garbage before EHLO, a TLS
   ClientHello on the plain port, megabytes of random bytes. Memory
   stays bounded, other clients are served throughout, and the daemon
   is alive with no sanitizer report after every test.

Many small cases share one daemon per configuration (see
hostile_helpers.SharedTernd): an ASan ternd takes about a second to
start on a loaded machine.
"""
import random
import socket
import time

import pytest

from hostile_helpers import (SMUGGLED, MemWatch, Prober, Sender, SharedTernd,
                             assert_alive, assert_no_bare, bare_endings,
                             codes, deliver_ok, expected_bdat_store,
                             expected_data_store, new_files, no_tmp_left,
                             read_until_close, tls_client_hello, wait_log)
from smtp_helpers import (HOST, Client, all_stored, check,
                          check_greeting_type, parse_stored, queued,
                          simple_message)

REJECT = "bare_newline = reject\n"
NORMALIZE = ""          # the default policy: no key at all

POLICIES = {"normalize": NORMALIZE, "reject": REJECT}


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """ternd instances shared by this module's tests (see SharedTernd)."""
    s = SharedTernd(tmp_path_factory)
    yield s
    s.close()


@pytest.fixture(autouse=True)
def _daemons_alive_after_each_test(shared):
    """Every shared daemon is still running, with no sanitizer report,
    when a test ends (whatever the test itself checked)."""
    yield
    for t in shared.started.values():
        assert_alive(t)


@pytest.fixture
def normal(shared):
    """The shared daemon with the base configuration."""
    t = shared.get(NORMALIZE)
    yield t
    assert_alive(t)


# ---- 1. SMTP smuggling ------------------------------------------------

PREFIX = b"From: <sender@remote.example>\r\nSubject: first\r\n\r\nhello"

# (name, octets before the fake end, the fake end). The content sent
# after the 354 is prefix + fake end + SMUGGLED, then the real ".\r\n".
# None of these may end the data: each has a bare CR or LF next to the
# dot, or no dot line at all.
FAKE_ENDS = [
    ("LF.LF", PREFIX, b"\n.\n"),
    ("CR.CR", PREFIX, b"\r.\r"),
    ("LF.CRLF", PREFIX, b"\n.\r\n"),
    ("CR.LF", PREFIX, b"\r.\n"),
    ("CRLF.LF", PREFIX, b"\r\n.\n"),
    ("CRLF.CR", PREFIX, b"\r\n.\r"),
    ("CRLF.CR-CRLF", PREFIX, b"\r\n.\r\r\n"),
    ("LF.CR-CRLF", PREFIX, b"\n.\r\r\n"),
    ("CR.CRLF", PREFIX, b"\r.\r\n"),
    ("LF.CR", PREFIX, b"\n.\r"),
    ("CRLF-CR.CRLF", PREFIX, b"\r\n\r.\r\n"),
    ("CRLF.LF-CRLF", PREFIX, b"\r\n.\n\r\n"),
    ("LF-LF.LF-LF", PREFIX, b"\n\n.\n\n"),
    ("CR-CR.CR-CR", PREFIX, b"\r\r.\r\r"),
    ("CRLF-SP.CRLF", PREFIX, b"\r\n .\r\n"),
    ("CRLF-TAB.CRLF", PREFIX, b"\r\n\t.\r\n"),
    ("CRLF.SP-CRLF", PREFIX, b"\r\n. \r\n"),
    # right after the DATA line: the data starts at a line start
    ("start .LF", b"", b".\n"),
    ("start .CR", b"", b".\r"),
    ("start .CR-CRLF", b"", b".\r\r\n"),
    ("start LF.CRLF", b"", b"\n.\r\n"),
    ("start CR.CRLF", b"", b"\r.\r\n"),
]


def smuggle_content(prefix, fake):
    return prefix + fake + SMUGGLED


def smuggle_session(t, content, fake_at, fake_len, mode):
    """One transaction carrying content; returns (replies after the
    354 up to the 221 [for 'pipelined': every reply], client)."""
    c = Client(t)
    try:
        if mode == "pipelined":
            c.send(b"EHLO smuggler.example\r\n"
                   b"MAIL FROM:<sender@remote.example>\r\n"
                   b"RCPT TO:<alice@example.test>\r\nDATA\r\n"
                   + content + b".\r\nQUIT\r\n")
            return read_until_close(c)
        c.ehlo("smuggler.example")
        c.mail("sender@remote.example")
        c.rcpt("alice@example.test")
        check(c.cmd("DATA"), 354, None)
        if mode == "after-354":
            c.send(content + b".\r\nQUIT\r\n")
        else:       # trickled: every octet of the fake end in its own read
            c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            c.send(content[:fake_at])
            for b in content[fake_at:fake_at + fake_len]:
                time.sleep(0.02)
                c.send(bytes([b]))
            time.sleep(0.02)
            c.send(content[fake_at + fake_len:] + b".\r\nQUIT\r\n")
        return read_until_close(c)
    finally:
        c.close()


MODES = ("after-354", "pipelined", "trickled")
HEAD = [(250, None), (250, "2.1.0"), (250, "2.1.5"), (354, None)]


@pytest.mark.parametrize("policy", sorted(POLICIES))
@pytest.mark.parametrize("name,prefix,fake", FAKE_ENDS,
                         ids=[f[0] for f in FAKE_ENDS])
def test_smuggling_fake_end_of_data(shared, policy, name, prefix, fake):
    t = shared.get(POLICIES[policy])
    content = smuggle_content(prefix, fake)
    # a space or tab before/after the dot is no bare ending, just text
    refused = policy == "reject" and bool(bare_endings(content))
    before = set(all_stored(t))
    for mode in MODES:
        rs = smuggle_session(t, content, len(prefix), len(fake), mode)
        got = codes(rs)
        if mode == "pipelined":
            assert got[:4] == HEAD, f"[{mode}] {[str(r) for r in rs]}"
            got, rs = got[4:], rs[4:]
        want = [(550, "5.5.2") if refused else (250, "2.0.0"),
                (221, "2.0.0")]
        assert got == want, \
            f"[{mode}] replies {[str(r) for r in rs]}, want {want}"
        if not refused:
            queued(rs[0])
        else:
            assert "bare <CR> or <LF>" in rs[0].text, rs[0]
        check_greeting_type(rs[1], 221, "2.0.0")
    files = new_files(t, before)
    assert not [p for p in files if "/bob/" in str(p)], \
        "the smuggled transaction delivered to bob"
    no_tmp_left(t)
    if refused:
        assert files == {}, f"reject policy stored {sorted(files)}"
    else:
        want = expected_data_store(content)
        assert len(files) == len(MODES), sorted(files)
        for path, data in files.items():
            assert path.parent.parent.name == "alice", path
            assert_no_bare(data)
            st = parse_stored(data)
            assert st.return_path == "sender@remote.example"
            assert st.body == want
            assert b"MAIL FROM:<evil@attacker.example>\r\n" in st.body
    assert_alive(t)


# A bare CR or LF right before a real <CR><LF>.<CR><LF>: the data does
# end there (the terminator is genuine); what follows are commands.
REAL_ENDS = [
    ("CR before CRLF.CRLF", b"hello\r"),
    ("LF before CRLF.CRLF", b"hello\n"),
    ("CR-CR before CRLF.CRLF", b"hello\r\r"),
]


@pytest.mark.parametrize("policy", sorted(POLICIES))
@pytest.mark.parametrize("name,tail", REAL_ENDS,
                         ids=[e[0] for e in REAL_ENDS])
def test_bare_ending_before_real_terminator(shared, policy, name, tail):
    t = shared.get(POLICIES[policy])
    before = set(all_stored(t))
    content = b"Subject: real end\r\n\r\n" + tail + b"\r\n"
    with Client(t) as c:
        c.ehlo()
        c.mail()
        c.rcpt()
        check(c.cmd("DATA"), 354, None)
        c.send(content + b".\r\nNOOP\r\nQUIT\r\n")
        rs = read_until_close(c)
    first = (250, "2.0.0") if policy == "normalize" else (550, "5.5.2")
    assert codes(rs) == [first, (250, "2.0.0"), (221, "2.0.0")], \
        [str(r) for r in rs]
    files = new_files(t, before)
    if policy == "reject":
        assert files == {}
    else:
        [data] = files.values()
        assert_no_bare(data)
        assert parse_stored(data).body == expected_data_store(content)
    no_tmp_left(t)


def bdat_session(t, chunks, pipelined=False):
    """MAIL, RCPT, then BDAT chunks (the last one LAST), QUIT; returns
    the replies after RCPT's up to 221."""
    wire = b""
    for i, ch in enumerate(chunks):
        last = b" LAST" if i == len(chunks) - 1 else b""
        wire += b"BDAT %d%s\r\n" % (len(ch), last) + ch
    wire += b"QUIT\r\n"
    with Client(t) as c:
        c.ehlo("chunker.example")
        c.mail("sender@remote.example")
        c.rcpt("alice@example.test")
        if pipelined:
            c.send(wire)
        else:
            # each chunk (header and octets) in its own write
            for i, ch in enumerate(chunks):
                last = b" LAST" if i == len(chunks) - 1 else b""
                c.send(b"BDAT %d%s\r\n" % (len(ch), last))
                time.sleep(0.01)
                c.send(ch)
                if i < len(chunks) - 1:
                    r = c.reply()
                    check(r, 250, "2.0.0")
                    assert r.text == f"{len(ch)} octets received", r
            c.send(b"QUIT\r\n")
        rs = read_until_close(c)
    if pipelined:
        for ch, r in zip(chunks[:-1], rs):
            check(r, 250, "2.0.0")
            assert r.text == f"{len(ch)} octets received", r
        rs = rs[len(chunks) - 1:]
    return rs


BDAT_CASES = [
    # (name, chunks, has a bare CR/LF)
    ("CRLF.CRLF and a transaction inside one chunk",
     [b"Subject: chunk\r\n\r\nhello\r\n.\r\n" + SMUGGLED + b".\r\n"], False),
    ("transaction after CRLF.CRLF split over chunks",
     [b"Subject: chunk\r\n\r\nhello\r\n.\r", b"\n" + SMUGGLED,
      b".\r\nQUIT\r\n"], False),
    ("CR ending one chunk, LF starting the next",
     [b"Subject: split\r\n\r\nline one\r", b"\nline two\r\n"], False),
    ("dots are content, not stuffing",
     [b"Subject: dots\r\n\r\n..two dots\r\n.\r\n.one\r\n"], False),
    ("bare LF.LF and a transaction",
     [b"Subject: chunk\r\n\r\nhello\n.\n" + SMUGGLED], True),
    ("bare CR.CR and a transaction",
     [b"Subject: chunk\r\n\r\nhello\r.\r" + SMUGGLED], True),
    ("bare CR at the very end of the LAST chunk",
     [b"Subject: end\r\n\r\nhello\r"], True),
    ("CR ending a chunk, then a chunk not starting with LF",
     [b"Subject: split\r\n\r\nline one\r", b"line two\r\n"], True),
]


@pytest.mark.parametrize("policy", sorted(POLICIES))
@pytest.mark.parametrize("name,chunks,bare", BDAT_CASES,
                         ids=[b[0] for b in BDAT_CASES])
def test_smuggling_bdat(shared, policy, name, chunks, bare):
    """Only the octet count ends a chunk: <CR><LF>.<CR><LF> and a whole
    transaction inside a chunk are content; bare CR/LF follow the
    policy like in DATA (a CRLF split between chunks is not bare)."""
    t = shared.get(POLICIES[policy])
    before = set(all_stored(t))
    refused = bare and policy == "reject"
    for pipelined in (False, True):
        rs = bdat_session(t, chunks, pipelined)
        want = [(550, "5.5.2") if refused else (250, "2.0.0"),
                (221, "2.0.0")]
        assert codes(rs) == want, [str(r) for r in rs]
        if not refused:
            queued(rs[0])
    files = new_files(t, before)
    no_tmp_left(t)
    if refused:
        assert files == {}
        return
    assert len(files) == 2, sorted(files)
    want = expected_bdat_store(b"".join(chunks))
    for path, data in files.items():
        assert path.parent.parent.name == "alice", path
        assert_no_bare(data)
        assert parse_stored(data).body == want
    assert_alive(t)


TOKENS = [b"\r", b"\n", b"\r\n", b".", b"..", b"a", b" ", b"\r\n.",
          b"\n.", b"\r."]


def fuzz_contents(seed, n):
    """n random short message contents built from line-ending and dot
    tokens, none holding a real end of data."""
    rnd = random.Random(seed)
    out = []
    while len(out) < n:
        body = b"".join(rnd.choice(TOKENS) for _ in range(rnd.randint(1, 14)))
        content = b"Subject: fuzz %d\r\n\r\n" % len(out) + body + b"x\r\n"
        if b"\r\n.\r\n" in b"\r\n" + content:
            continue
        out.append(content)
    return out


@pytest.mark.parametrize("policy", sorted(POLICIES))
def test_smuggling_fuzzed_line_endings(shared, policy):
    """300 messages of random CR/LF/dot soup, pipelined in one stream:
    exactly one final reply per message (no message is ever split or
    merged), and each stored body is what the model says."""
    t = shared.get(POLICIES[policy])
    contents = fuzz_contents(seed=5176 + len(policy), n=300)
    wire = b"".join(b"MAIL FROM:<fuzz@remote.example>\r\n"
                    b"RCPT TO:<alice@example.test>\r\nDATA\r\n" + ct
                    + b".\r\n" for ct in contents) + b"QUIT\r\n"
    before = set(all_stored(t))
    with Client(t) as c:
        c.ehlo("fuzzer.example")
        s = Sender(c.sock, wire)
        rs = read_until_close(c, timeout=60)
        s.wait()
    want = []
    for ct in contents:
        bare = bool(bare_endings(ct))
        final = (550, "5.5.2") if bare and policy == "reject" \
            else (250, "2.0.0")
        want += [(250, "2.1.0"), (250, "2.1.5"), (354, None), final]
    want.append((221, "2.0.0"))
    got = codes(rs)
    assert len(got) == len(want) and got == want, \
        f"{len(got)} replies, want {len(want)}; first difference at " \
        f"{next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), None)}"
    by_qid = {}
    for i, ct in enumerate(contents):
        r = rs[4 * i + 3]
        if r.code == 250:
            by_qid[queued(r)] = ct
    files = new_files(t, before)
    assert len(files) == len(by_qid)
    for data in files.values():
        assert_no_bare(data)
        st = parse_stored(data)
        assert st.body == expected_data_store(by_qid[st.qid]), st.qid
    no_tmp_left(t)
    assert_alive(t)


def test_explicit_normalize_policy(ternd_factory):
    """bare_newline = normalize written out behaves as the default."""
    t = ternd_factory("bare_newline = normalize\n")
    content = smuggle_content(PREFIX, b"\n.\n")
    before = set(all_stored(t))
    rs = smuggle_session(t, content, len(PREFIX), 3, "after-354")
    assert codes(rs) == [(250, "2.0.0"), (221, "2.0.0")]
    [data] = new_files(t, before).values()
    assert parse_stored(data).body == expected_data_store(content)
    assert_alive(t)


# ---- 2. malformed and hostile input -----------------------------------

def test_nul_bytes_in_commands(normal):
    lines = [b"NOOP\x00", b"\x00NOOP", b"NO\x00OP", b"EHLO a\x00b.example",
             b"\x00" * 100, b"MAIL FROM:<a\x00@remote.example>",
             b"QUIT\x00"]
    with Client(normal) as c:
        for ln in lines:
            r = c.cmd(ln)
            check(r, 500, "5.5.2", "NUL or invalid UTF-8")
        check(c.cmd("NOOP"), 250, "2.0.0")
        c.ehlo()
        check(c.cmd(b"MAIL FROM:<a\x00b@remote.example>"), 500, "5.5.2")
        check(c.cmd(b"RCPT TO:<alice@example.test>\x00"), 500, "5.5.2")
        # the session is intact: a normal transaction still works
        c.mail()
        check(c.cmd(b"RCPT TO:<alice\x00@example.test>"), 500, "5.5.2")
        c.rcpt()
        c.data(simple_message(subject="after NULs"))
        c.quit()


def test_nul_bytes_in_data_stored_as_is(normal):
    msg = (b"Subject: nul\x00in header\r\nX-Nul: \x00\x00\r\n\r\n"
           b"a\x00b\r\n\x00\r\n.\x00dot then nul\r\n\x00.\r\n")
    before = set(all_stored(normal))
    with Client(normal) as c:
        c.ehlo()
        c.mail()
        c.rcpt()
        check(c.cmd("DATA"), 354, None)
        c.send(msg + b".\r\n")
        q1 = queued(c.reply())
        c.mail()
        c.rcpt()
        c.send(b"BDAT %d LAST\r\n" % len(msg) + msg)
        q2 = queued(c.reply())
        c.quit()
    got = {parse_stored(d).qid: parse_stored(d).body
           for d in new_files(normal, before).values()}
    assert got == {q1: expected_data_store(msg), q2: msg}
    assert b"\x00" in got[q1] and got[q1].count(b"\x00") == msg.count(b"\x00")


def test_8bit_and_invalid_utf8_in_commands(normal):
    bad = [b"NOOP \xff", b"\xff\xfe\xfd", b"NOOP \xc3\x28",
           b"NOOP \xc0\xaf",                 # overlong '/'
           b"NOOP \xe0\x80\xaf",             # overlong, 3 octets
           b"NOOP \xed\xa0\x80",             # UTF-16 surrogate
           b"NOOP \xf4\x90\x80\x80",         # past U+10FFFF
           b"NOOP \xe2\x82",                 # truncated
           b"\x80NOOP", b"EHLO h\xe9llo.example",
           b"VRFY j\xf6rg"]
    with Client(normal) as c:
        for ln in bad:
            check(c.cmd(ln), 500, "5.5.2", "NUL or invalid UTF-8")
        # well-formed UTF-8 is not an error
        check(c.cmd("NOOP grüße ✓ 😀"), 250, "2.0.0")
        c.ehlo()
        check(c.cmd(b"MAIL FROM:<j\xf6rg@remote.example>"), 500, "5.5.2")
        c.quit()


def test_ten_megabyte_command_line(normal):
    """10 MB without a line end, then CRLF and NOOP: one 500 5.5.2,
    then 250; the server's memory does not follow the line, and other
    clients are served while it streams in."""
    mem = MemWatch(normal)
    probe = Prober(normal)
    with Client(normal) as c:
        s = Sender(c.sock, b"MAIL FROM:<" + b"A" * (10 << 20) +
                   b"\r\nNOOP\r\n", chunk=1 << 16)
        r1 = c.reply()
        r2 = c.reply()
        s.wait()
        check(r1, 500, "5.5.2", "line too long")
        check(r2, 250, "2.0.0")
        # a second one without any recognisable command, bare LF end
        s = Sender(c.sock, b"\xff" * (4 << 20) + b"\nNOOP\r\n",
                   chunk=1 << 16)
        check(c.reply(), 500, "5.5.2", "line too long")
        check(c.reply(), 250, "2.0.0")
        s.wait()
        c.quit()
    probe.finish()
    mem.check()


def test_command_line_ceiling_boundaries(normal):
    """Around the 12 KB line buffer: every over-long line gets exactly
    one 500 5.5.2, whether it fit the buffer or had to be skipped."""
    with Client(normal) as c:
        for n in (511, 512, 12286, 12287, 12288, 12289, 12290, 24577):
            c.send(b"X" * n + b"\r\n")
            check(c.reply(), 500, "5.5.2")
        check(c.cmd("NOOP"), 250, "2.0.0")
        check(c.cmd(b"NOOP " + b"y" * 505), 250, "2.0.0")   # 512 with CRLF
        c.quit()


def test_long_text_lines_stored_intact(normal):
    body = b"".join(bytes([65 + i % 26]) * 5000 + b"\r\n" for i in range(20))
    body += b"." + b"d" * 4999 + b"\r\n"     # stuffed on the wire
    body += b"z" * 100_000 + b"\r\n"
    msg = b"Subject: long lines\r\n\r\n" + body
    before = set(all_stored(normal))
    with Client(normal) as c:
        c.ehlo()
        c.mail()
        c.rcpt()
        qid = c.data(msg)
        c.quit()
    [data] = new_files(normal, before).values()
    st = parse_stored(data)
    assert (st.qid, st.body) == (qid, msg)


def big_header_message(total):
    """A message whose header section is about total octets: many
    fields and one long folded field, then a short body."""
    fields = []
    size = 0
    i = 0
    while size < total // 2:
        f = b"X-Filler-%06d: " % i + b"h" * 960 + b"\r\n"
        fields.append(f)
        size += len(f)
        i += 1
    folded = b"X-Folded: start"
    while size + len(folded) < total:
        folded += b"\r\n\t" + b"f" * 990
    fields.append(folded + b"\r\n")
    return (b"Subject: big header\r\n" + b"".join(fields)
            + b"\r\nshort body\r\n")


def test_header_section_900k_stored_intact(normal):
    msg = big_header_message(900 * 1024)
    assert 900 * 1024 <= len(msg) < 1024 * 1024
    before = set(all_stored(normal))
    mem = MemWatch(normal)
    with Client(normal) as c:
        c.ehlo()
        c.mail()
        c.rcpt()
        qid = c.data(msg)
        c.quit()
    mem.check()
    [data] = new_files(normal, before).values()
    st = parse_stored(data)
    assert (st.qid, st.body) == (qid, msg)


def test_header_section_2mb_refused_after_end(normal):
    msg = big_header_message(2 << 20)
    before = set(all_stored(normal))
    mem = MemWatch(normal)
    with Client(normal) as c:
        c.ehlo()
        c.mail()
        c.rcpt()
        check(c.cmd("DATA"), 354, None)
        s = Sender(c.sock, msg + b".\r\n")
        check(c.reply(), 552, "5.3.4")
        s.wait()
        # the session goes on: a normal message right after
        c.mail()
        c.rcpt()
        qid = c.data(simple_message(subject="after the big one"))
        c.quit()
    mem.check()
    [data] = new_files(normal, before).values()
    assert parse_stored(data).qid == qid
    no_tmp_left(normal)


def test_ten_thousand_rcpts_pipelined(normal):
    """10,000 RCPTs in one write: the first 100 (max_recipients) are
    accepted, the rest get 452 4.5.3 (they are not errors: no 421), and
    DATA delivers to the accepted ones."""
    n = 10_000
    rcpts = [b"alice@example.test", b"bob@example.test"]
    wire = (b"MAIL FROM:<many@remote.example>\r\n"
            + b"".join(b"RCPT TO:<%s>\r\n" % rcpts[i % 2] for i in range(n))
            + b"DATA\r\n")
    before = set(all_stored(normal))
    msg = simple_message(subject="ten thousand")
    with Client(normal) as c:
        c.ehlo()
        s = Sender(c.sock, wire)
        check(c.reply(), 250, "2.1.0")
        rs = c.replies(n)
        s.wait()
        got = codes(rs)
        assert got[:100] == [(250, "2.1.5")] * 100
        assert got[100:] == [(452, "4.5.3")] * (n - 100), \
            next(str(r) for r in rs[100:] if r.code != 452)
        check(c.reply(), 354, None)
        c.send(msg + b".\r\n")
        qid = queued(c.reply())
        c.quit()
    files = new_files(normal, before)
    assert sorted(p.parent.parent.name for p in files) == ["alice", "bob"]
    for data in files.values():
        st = parse_stored(data)
        assert (st.qid, st.body, st.for_rcpt) == (qid, msg, None)


def test_ten_thousand_recipients_accepted(ternd_factory):
    """max_recipients = 10000: all accepted, one copy per mailbox."""
    t = ternd_factory(args=("-o", "max_recipients=10000"))
    n = 10_000
    names = [b"alice", b"bob", b"postmaster", b"abuse", b"team", b"ALICE"]
    wire = (b"MAIL FROM:<many@remote.example>\r\n"
            + b"".join(b"RCPT TO:<%s@example.test>\r\n" % names[i % 6]
                       for i in range(n)) + b"DATA\r\n")
    msg = simple_message(subject="10k recipients")
    start = time.monotonic()
    mem = MemWatch(t)
    with Client(t) as c:
        c.ehlo()
        s = Sender(c.sock, wire)
        check(c.reply(), 250, "2.1.0")
        rs = c.replies(n)
        s.wait()
        assert codes(rs) == [(250, "2.1.5")] * n
        check(c.reply(), 354, None)
        c.send(msg + b".\r\n")
        qid = queued(c.reply())
        c.quit()
    mem.check()
    assert time.monotonic() - start < 60
    files = all_stored(t)
    assert sorted(p.parent.parent.name for p in files) == \
        ["alice", "bob", "postmaster"]
    for data in files.values():
        assert parse_stored(data).qid == qid
    wait_log(t, rf"ev=accept qid={qid} .* nrcpt={n} ")
    assert_alive(t)


def test_ten_thousand_noops_one_write(normal):
    """10,000 NOOPs (and 20 MAIL/RSET markers) in one write: every reply,
    in order, while another client is served promptly meanwhile."""
    n = 10_000
    cmds, want = [], []
    for i in range(n):
        cmds.append(b"NOOP")
        want.append("250 2.0.0 Ok")
        if i % 500 == 250:
            cmds.append(b"MAIL FROM:<m%d@remote.example>" % i)
            want.append(f"250 2.1.0 Sender <m{i}@remote.example> ok")
            cmds.append(b"RSET")
            want.append("250 2.0.0 Ok")
    probe = Prober(normal)
    with Client(normal) as c:
        c.ehlo()
        s = Sender(c.sock, b"\r\n".join(cmds) + b"\r\n")
        # a third client does a whole transaction while the flood is on
        t0 = time.monotonic()
        deliver_ok(normal, subject="during the NOOP flood")
        assert time.monotonic() - t0 < 10
        got = [str(r) for r in c.replies(len(cmds))]
        s.wait()
        assert got == want
        c.quit()
    probe.finish()


GARBAGE = [b"GET / HTTP/1.1", b"Host: mx.test.example", b"",
           b"User-Agent: curl/8.0", b"\x16\x03\x01\x02\x00\x01",
           b"MAIL FROM:<a@remote.example>", b"RCPT TO:<alice@example.test>",
           b"DATA", b"\x00\x01\x02\x03", b"\xff\xfe", b"USER root",
           b"PASS hunter2", b"AUTH LOGIN", b"+OK", b"* OK IMAP4rev1",
           b"SSH-2.0-OpenSSH_9.0", b"\x1b[2J", b"%s%s%s%n",
           b"'; DROP TABLE mail; --", b"../../../../etc/passwd",
           b"ETRN example.test", b"XCLIENT ADDR=1.2.3.4", b"TURN",
           b"{\"json\": true}", b"<html>"]


def test_garbage_before_ehlo(normal):
    """Junk before EHLO: a 5xx with an enhanced code for each line, and
    after max_errors (20) a 421 4.7.0 and the close; nothing after."""
    assert len(GARBAGE) > 20
    with Client(normal) as c:
        c.send(b"".join(g + b"\r\n" for g in GARBAGE))
        rs = read_until_close(c)
    assert len(rs) == 21, [str(r) for r in rs]
    for g, r in zip(GARBAGE, rs[:20]):
        assert 500 <= r.code < 600 and r.esc and r.esc.startswith("5."), \
            f"{g!r}: {r}"
    check_greeting_type(rs[20], 421, "4.7.0")
    assert "too many errors" in rs[20].text
    wait_log(normal, r"ev=reject .*reason=R_TOO_MANY_ERRORS")


def test_tls_client_hello_on_plain_port(ternd_factory):
    """A TLS ClientHello on the plain SMTP port (before and after the
    greeting): no crash, nothing but 500 5.5.2 replies, then the close
    by the error limit or command_timeout; others are served."""
    t = ternd_factory(args=("-o", "command_timeout=2s"))
    probe = Prober(t, interval=0.2)
    hellos = [tls_client_hello() for _ in range(2)]
    early = Client(t, greet=False)  # a TLS client talks first ...
    early.send(hellos[0])
    late = Client(t)                # ... or after reading the 220
    late.send(hellos[1])
    t0 = time.monotonic()
    for c, hello in ((early, hellos[0]), (late, hellos[1])):
        rs = read_until_close(c, timeout=20)
        c.close()
        if c is early:
            assert rs, "no greeting"
            check_greeting_type(rs[0], 220, None)
            rs = rs[1:]
        assert rs, "no 421 before the close"
        for r in rs[:-1]:
            check(r, 500, "5.5.2")
        assert len(rs) - 1 <= hello.count(b"\n")
        assert (rs[-1].code, rs[-1].esc) in ((421, "4.4.2"), (421, "4.7.0")), \
            rs[-1]
        check_greeting_type(rs[-1], 421, rs[-1].esc)
    assert time.monotonic() - t0 < 15
    probe.finish(min_rounds=2)
    deliver_ok(t, subject="after the ClientHello")
    assert_alive(t)


@pytest.mark.parametrize("seed", [1, 2023, 51764])
def test_random_binary_stream(normal, seed):
    """1 MB of random octets as commands: replies are well formed, the
    session ends with 421 4.7.0 (error limit); the daemon stays up,
    memory stays bounded and a new client delivers mail."""
    data = random.Random(seed).randbytes(1 << 20)
    mem = MemWatch(normal)
    probe = Prober(normal)
    with Client(normal) as c:
        s = Sender(c.sock, data, chunk=1 << 16)
        try:
            rs = read_until_close(c, timeout=30)
            closed = True
        except socket.timeout:
            closed = False      # still talking: it must still answer
        s.join(30)
        if not closed:
            c.send(b"\r\nNOOP\r\n")
            for _ in range(10):
                r = c.reply()
                if r.code == 250:
                    break
            check(r, 250, "2.0.0")
    if closed:
        assert rs, "closed without a reply"
        for r in rs[:-1]:
            assert r.code >= 500 or r.code in (214, 250, 252), r
        check_greeting_type(rs[-1], 421, "4.7.0")
    probe.finish()
    mem.check()
    deliver_ok(normal, subject=f"after random stream {seed}")


@pytest.mark.parametrize("policy", sorted(POLICIES))
def test_random_binary_message(shared, policy):
    """300 KB of random octets as DATA content and as a BDAT chunk:
    stored exactly as the model says (normalize) with no bare CR/LF, or
    refused 550 5.5.2 (reject)."""
    t = shared.get(POLICIES[policy])
    rnd = random.Random(3030)
    content = (b"Subject: noise\r\n\r\n" + rnd.randbytes(300 * 1024)
               + b"\r\n")
    while b"\r\n.\r\n" in content:     # no real end of data inside
        content = content.replace(b"\r\n.\r\n", b"\r\n,\r\n")
    before = set(all_stored(t))
    with Client(t) as c:
        c.ehlo()
        c.mail()
        c.rcpt()
        check(c.cmd("DATA"), 354, None)
        c.send(content + b".\r\n")
        r1 = c.reply()
        c.mail()
        c.rcpt()
        c.send(b"BDAT %d LAST\r\n" % len(content) + content)
        r2 = c.reply()
        c.quit()
    files = new_files(t, before)
    if policy == "reject":
        check(r1, 550, "5.5.2")
        check(r2, 550, "5.5.2")
        assert files == {}
    else:
        got = {parse_stored(d).qid: parse_stored(d).body
               for d in files.values()}
        assert got == {queued(r1): expected_data_store(content),
                       queued(r2): expected_bdat_store(content)}
        for d in files.values():
            assert_no_bare(d)
    no_tmp_left(t)
    assert_alive(t)


def test_binary_garbage_inside_transaction(normal):
    """Random octets after MAIL and RCPT (not after DATA): the errors
    close the session and the open transaction is dropped unstored."""
    data = random.Random(7).randbytes(256 * 1024)
    before = set(all_stored(normal))
    with Client(normal) as c:
        c.ehlo()
        c.mail()
        c.rcpt()
        s = Sender(c.sock, data)
        rs = read_until_close(c, timeout=30)
        s.join(30)
    assert rs and rs[-1].code == 421, [str(r) for r in rs[-3:]]
    assert new_files(normal, before) == {}
    no_tmp_left(normal)


def test_server_host_in_error_limit_reply(normal):
    """The 421 that ends a session names the server (RFC 5321 4.3.1)."""
    with Client(normal) as c:
        c.send(b"\x00\r\n" * 20)
        rs = read_until_close(c)
    assert codes(rs) == [(500, "5.5.2")] * 20 + [(421, "4.7.0")]
    assert rs[-1].text.split(" ")[0] == HOST
