"""Shared helpers for the tests of the `tern` command-line tool.

Only loopback addresses are used; nothing here looks up a name in DNS.
"""
import os
import subprocess

from conftest import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def tern_bin():
    """Path of the tern binary under test (env TERN_BIN, default build/tern)."""
    path = os.environ.get("TERN_BIN", os.path.join(ROOT, "build", "tern"))
    if not os.path.isabs(path):
        path = os.path.join(ROOT, path)
    return path


def run_tern(args, input=None, env=None, timeout=30, argv0=None):
    """Run tern with args (as argv0 when given, e.g. "sendmail");
    return the CompletedProcess with bytes stdout and stderr."""
    e = dict(os.environ)
    e.pop("NO_COLOR", None)
    e.pop("TERN_SMTP_SERVER", None)
    if env:
        e.update(env)
    exe = tern_bin()
    return subprocess.run([argv0 or exe] + list(args), executable=exe,
                          input=input, capture_output=True, env=e,
                          timeout=timeout)


def closed_port():
    """A port on 127.0.0.1 where nothing listens (connection refused)."""
    return free_port()
