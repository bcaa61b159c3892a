"""End-to-end tests of `tern explain` on a corpus of real-world replies.

Each file in corpus/explain/ starts with "#: key: value" lines:
  source   where the text comes from (public documentation of the
           provider or server software)
  mode     "arg" (the text is one command-line argument) or "stdin"
  expect   one per reply found: "CODE ESC VERDICT [RECIPIENT]", "-" for
           none; or "none" when no reply code is in the text
  hint     the source of a text hint that must be shown (optional)
  remote   the Remote-MTA that must be reported (optional)
The rest of the file is the input, fed to `tern explain --json` and to the
text form, and checked with exact assertions.
"""
import json
import os
import re

import pytest

from tern_helpers_cli import ROOT, run_tern

CORPUS = os.path.join(ROOT, "tests", "integ", "corpus", "explain")
VERDICT_WORDS = {
    "failed": "Failed for good",
    "retry": "Will be retried",
    "delivered": "Delivered",
    "in-progress": "In progress",
    "invalid": "Invalid",
    "unknown": "Unknown",
}


def load(name):
    meta = {"expect": []}
    body = []
    with open(os.path.join(CORPUS, name), encoding="utf-8") as f:
        lines = f.read().split("\n")
    i = 0
    while i < len(lines) and lines[i].startswith("#: "):
        key, _, val = lines[i][3:].partition(": ")
        if key == "expect":
            meta["expect"].append(val)
        else:
            meta[key] = val
        i += 1
    body = "\n".join(lines[i:])
    return meta, body


CASES = sorted(f for f in os.listdir(CORPUS) if f.endswith(".txt"))


def test_corpus_is_big_enough():
    assert len(CASES) >= 40
    for name in CASES:
        meta, _ = load(name)
        assert meta.get("source"), name
        assert meta["expect"], name


def invoke(meta, body, json_out):
    args = ["explain"] + (["--json"] if json_out else [])
    if meta["mode"] == "arg":
        return run_tern(args + [body.rstrip("\n")])
    assert meta["mode"] == "stdin"
    return run_tern(args, input=body.encode())


@pytest.mark.parametrize("name", CASES)
def test_corpus_json(name):
    meta, body = load(name)
    r = invoke(meta, body, True)
    assert r.stderr == b""
    doc = json.loads(r.stdout)
    if meta["expect"] == ["none"]:
        assert r.returncode == 1
        assert doc["code"] is None
        assert doc["enhanced"] is None
        assert doc["verdict"] == "unknown"
        return
    assert r.returncode == 0
    items = doc if isinstance(doc, list) else [doc]
    if len(meta["expect"]) > 1:
        assert isinstance(doc, list)
    got = []
    for it in items:
        s = "%s %s %s" % (it["code"] if it["code"] is not None else "-",
                          it["enhanced"] or "-", it["verdict"])
        want_rcpt = any(len(e.split()) > 3 for e in meta["expect"])
        if want_rcpt:
            s += " " + (it["recipient"] or "-")
        got.append(s)
    assert got == meta["expect"]
    for it in items:
        v = it["verdict"]
        assert it["permanent"] == (v == "failed")
        assert it["transient"] == (v == "retry")
        assert it["summary"] and len(it["summary"]) <= 100
        for k in ("meaning", "causes", "sender_action", "admin_action",
                  "verdict_text"):
            assert it[k], k
        if it["code"] is not None:
            assert it["first_digit"]["digit"] == it["code"] // 100
            assert it["second_digit"]["digit"] == it["code"] // 10 % 10
        if it["enhanced"] is not None:
            cls, subj, _ = it["enhanced"].split(".")
            assert it["enhanced_class"]["digit"] == int(cls)
            assert it["enhanced_subject"]["number"] == int(subj)
    if "hint" in meta:
        assert meta["hint"] in [h["source"] for h in items[0]["hints"]]
    if "remote" in meta:
        assert items[0]["remote_mta"] == meta["remote"]


@pytest.mark.parametrize("name", CASES)
def test_corpus_text(name):
    meta, body = load(name)
    r = invoke(meta, body, False)
    out = r.stdout.decode()
    assert b"\x1b" not in r.stdout  # not a terminal: no colour
    if meta["expect"] == ["none"]:
        assert r.returncode == 1
        assert "No SMTP reply code found" in out
        return
    assert r.returncode == 0
    for e in meta["expect"]:
        assert "Verdict:   " + VERDICT_WORDS[e.split()[2]] in out
    for line in out.split("\n"):
        # lines fit 80 columns unless one word (a URL) is longer
        assert len(line) <= 80 or len(line.split()) <= 2, line
    assert "Likely causes" in out
    assert "What the sender should do" in out
    assert "What the receiving administrator should check" in out


def test_gmail_json_exact():
    r = run_tern(["explain", "--json", "550-5.1.1 The email account that you "
                  "tried to reach does not exist. Please try",
                  "\n550 5.1.1 double-checking."])
    doc = json.loads(r.stdout)
    assert doc["code"] == 550
    assert doc["enhanced"] == "5.1.1"
    assert doc["text"] == ("The email account that you tried to reach does not "
                           "exist. Please try double-checking.")
    assert doc["verdict"] == "failed"
    assert doc["summary"] == "The recipient's mailbox does not exist"
    assert doc["first_digit"]["name"] == "Permanent Negative Completion reply"
    assert doc["second_digit"]["name"] == "Mail system"
    assert doc["basic"]["code"] == 550
    assert doc["basic"]["standard"] is True
    assert doc["enhanced_detail"]["registry_code"] == "X.1.1"
    assert doc["enhanced_detail"]["exact"] is True
    assert doc["enhanced_class"]["name"] == "Permanent Failure"
    assert doc["enhanced_subject"]["name"] == "Addressing Status"
    assert doc["conflict"] is False


def test_second_digit_unspecified():
    r = run_tern(["explain", "--json", "530"])
    doc = json.loads(r.stdout)
    assert doc["second_digit"]["name"] == "Unspecified"
    assert doc["basic"]["code"] == 530


def test_first_digit_1_not_smtp():
    r = run_tern(["explain", "--json", "150"])
    doc = json.loads(r.stdout)
    assert doc["verdict"] == "invalid"
    assert "not valid in SMTP" in doc["first_digit"]["name"]


def test_unknown_codes_never_crash():
    for arg in ["999", "000", "4.9.9", "5.1.999", "777 7.7.7", "-", "550-",
                "5", "55", "5500", "\x01\x02", "550 " + "x" * 100000]:
        r = run_tern(["explain", "--json", arg], input=b"")
        assert r.returncode in (0, 1), arg
        json.loads(r.stdout)


def test_json_escaping():
    r = run_tern(["explain", "--json", '550 5.7.1 "quoted" \\ back\x7f'])
    doc = json.loads(r.stdout)
    assert doc["text"] == '"quoted" \\ back'


def test_color_only_when_asked_or_tty():
    r = run_tern(["explain", "--color=always", "550"])
    assert b"\x1b[" in r.stdout
    r = run_tern(["explain", "550"])
    assert b"\x1b[" not in r.stdout
    r = run_tern(["explain", "--no-color", "550"])
    assert b"\x1b[" not in r.stdout


def test_color_on_a_terminal_unless_no_color():
    import pty
    import subprocess
    from tern_helpers_cli import tern_bin
    for no_color, want in ((None, True), ("1", False)):
        master, slave = pty.openpty()
        env = dict(os.environ)
        env.pop("NO_COLOR", None)
        if no_color:
            env["NO_COLOR"] = no_color
        p = subprocess.run([tern_bin(), "explain", "421"], stdout=slave,
                           stderr=slave, env=env, timeout=30)
        os.close(slave)
        out = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        os.close(master)
        assert p.returncode == 0
        assert (b"\x1b[" in out) == want


def test_table_markdown():
    r = run_tern(["explain", "--table", "markdown"])
    assert r.returncode == 0
    out = r.stdout.decode()
    assert "| 550 | permanent: failed |" in out
    assert "| X.7.26 | Multiple authentication checks failed |" in out
    for code in ["211", "214", "220", "221", "235", "250", "251", "252",
                 "334", "354", "421", "432", "450", "451", "452", "454",
                 "455", "500", "501", "502", "503", "504", "521", "530",
                 "534", "535", "538", "550", "551", "552", "553", "554",
                 "555", "556"]:
        assert "| %s |" % code in out
    r = run_tern(["explain", "--table", "html"])
    assert r.returncode == 64


def test_help_and_usage():
    r = run_tern(["--help"])
    assert r.returncode == 0
    assert b"explain" in r.stdout and b"send" in r.stdout
    r = run_tern(["explain", "--help"])
    assert r.returncode == 0
    assert b"usage: tern explain" in r.stdout
    r = run_tern(["frobnicate"])
    assert r.returncode == 64
    r = run_tern([])
    assert r.returncode == 64
    r = run_tern(["explain", "--bogus"])
    assert r.returncode == 64


@pytest.mark.parametrize("doc", [("docs", "understanding-smtp-errors.md"),
                                 ("README.md",)])
def test_doc_table_is_current(doc):
    """The docs page and the README embed the generated table."""
    r = run_tern(["explain", "--table", "markdown"])
    path = os.path.join(ROOT, *doc)
    with open(path, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"<!-- BEGIN GENERATED TABLE.*?-->\n(.*?)<!-- END GENERATED TABLE -->",
                  text, re.S)
    assert m, "markers missing"
    assert m.group(1) == r.stdout.decode(), \
        "regenerate with scripts/gen-smtp-errors-table.sh"
