"""A real DNS server on loopback for the relay tests.

DnsServer runs dnsmasq (Debian package dnsmasq-base) on 127.0.0.1 and a
free UDP port with a test zone and nothing else: no upstream servers, no
/etc/hosts, no /etc/resolv.conf. Names under the local zones that are
not configured answer NXDOMAIN (or NODATA when the name exists with
other types), so MX fallback to A/AAAA, null MX and unknown domains all
come from a real server's answers.

    dns = DnsServer(tmp_path, zones=["test"])
    dns.mx("example.test", "mx1.example.test", 10)
    dns.host("mx1.example.test", "127.0.0.1", "::1")
    dns.null_mx("nomail.test")
    dns.start()          # dns.port
    ...
    dns.stop()

StubDns answers every query itself, with SERVFAIL or not at all, for the
failure cases dnsmasq will not produce on demand.
"""
import random
import shutil
import socket
import struct
import subprocess
import threading
import time

DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _encode_name(name):
    out = b""
    for label in name.strip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def query(port, name, qtype, timeout=2.0):
    """Ask 127.0.0.1:port; returns (rcode, answer count) or raises."""
    tid = random.randint(0, 0xFFFF)
    pkt = struct.pack(">HHHHHH", tid, 0x0100, 1, 0, 0, 0)
    pkt += _encode_name(name) + struct.pack(">HH", qtype, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(pkt, ("127.0.0.1", port))
        data, _ = s.recvfrom(4096)
    flags, _qd, an = struct.unpack(">HHH", data[2:8])
    return flags & 0xF, an


class DnsServer:
    def __init__(self, tmp_path, zones=("test",)):
        self.dir = tmp_path
        self.zones = list(zones)
        self.args = []
        self.port = None
        self.proc = None
        self.log = tmp_path / "dnsmasq.log"

    def mx(self, domain, host, pref):
        self.args.append(f"--mx-host={domain},{host},{pref}")

    def host(self, name, *addrs):
        self.args.append("--host-record=" + ",".join([name, *addrs]))

    def null_mx(self, domain):
        # RFC 7505: MX 0 "." - RDATA is preference 0 and the root name
        self.args.append(f"--dns-rr={domain},15,000000")

    def forward(self, zone, port):
        """Send queries for zone to another server on 127.0.0.1:port."""
        self.args.append(f"--server=/{zone}/127.0.0.1#{port}")

    def start(self):
        for _ in range(5):
            self.port = free_udp_port()
            cmd = [DNSMASQ, "--keep-in-foreground", f"--port={self.port}",
                   "--no-resolv", "--no-hosts", "--no-poll",
                   "--listen-address=127.0.0.1", "--bind-interfaces",
                   "--conf-file=/dev/null", "--pid-file=", "--user=root",
                   "--cache-size=0", "--log-queries",
                   f"--log-facility={self.log}"]
            cmd += [f"--local=/{z}/" for z in self.zones]
            cmd += self.args
            self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.PIPE)
            if self._wait_ready():
                return self
            self.stop()
        raise RuntimeError("dnsmasq did not start")

    def _wait_ready(self, timeout=5):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                query(self.port, "ready.invalid", 1, timeout=0.2)
                return True
            except OSError:
                time.sleep(0.05)
        return False

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log_text(self):
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""


class StubDns:
    """Answers every query with rcode (2 = SERVFAIL), or never (None)."""

    def __init__(self, rcode=2):
        self.rcode = rcode
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.queries = 0
        self._stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def _run(self):
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                data, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            self.queries += 1
            if self.rcode is None or len(data) < 12:
                continue
            tid, flags = struct.unpack(">HH", data[:4])
            flags = 0x8000 | (flags & 0x0100) | 0x0080 | self.rcode
            # echo the question only, no answers
            end = 12
            while end < len(data) and data[end] != 0:
                end += data[end] + 1
            question = data[12:end + 5]
            reply = struct.pack(">HHHHHH", tid, flags, 1, 0, 0, 0) + question
            self.sock.sendto(reply, peer)

    def stop(self):
        self._stop = True
        self.thread.join(2)
        self.sock.close()
