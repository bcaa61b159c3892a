"""The crash test in CI: scripts/crash-test.py against $TERND.

Eight clients send mail without pause while ternd is killed with SIGKILL
20 times (during DATA, right after the final dot, while idle, at random)
and restarted on the same Maildir root. The script proves that every
message that got 250 is stored exactly once per mailbox and byte-exact,
that nothing partial is visible in new/ or cur/, and that start-up removes
tmp/ leftovers. Bounded: the kill phase is about 30 s, the whole run well
under two minutes even with the ASan build.
"""
import os
import re
import signal
import subprocess
import sys

from conftest import ROOT, TERND

SCRIPT = ROOT / "scripts" / "crash-test.py"
SUMMARY_RE = re.compile(
    r"^acknowledged (\d+), stored (\d+), lost (\d+), duplicated (\d+)$")


def test_kill9_under_load_loses_nothing(tmp_path):
    assert os.access(TERND, os.X_OK), f"no ternd binary at {TERND}"
    work = tmp_path / "crash"
    cmd = [sys.executable, str(SCRIPT), "--ternd", TERND, "--kills", "20",
           "--clients", "8", "--seconds", "30", "--workdir", str(work)]
    # its own process group, so that a timeout also ends its ternd
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, start_new_session=True)
    try:
        stdout, stderr = p.communicate(timeout=110)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        stdout, stderr = p.communicate()
        raise AssertionError(f"crash test did not finish in 110 s:\n"
                             f"{stdout}\n{stderr}")
    out = stdout + stderr
    assert p.returncode == 0, f"crash test failed ({p.returncode}):\n{out}"
    lines = stdout.splitlines()
    m = SUMMARY_RE.match(lines[0])
    assert m, f"first line is not the summary:\n{out}"
    acked = int(m.group(1))
    assert lines[0] == (f"acknowledged {acked}, stored {acked}, lost 0, "
                        f"duplicated 0"), out
    # enough traffic that the kills hit real work
    assert acked >= 200, out
    assert re.match(r"^kills 20 \(", lines[1]), out
    assert re.search(r", bad 0; ", lines[3]), out
    assert lines[3].endswith("not removed at start-up 0"), out
    assert lines[-1] == "OK", out
    print("\n" + stdout, end="")
    # every start after a kill found the Maildirs and served again
    assert re.search(r"starts 21,", lines[1]), out
    log = (work / "ternd.log").read_text(errors="replace")
    assert "ev=tmp-cleaned" in log, "start-up never cleaned a leftover"
