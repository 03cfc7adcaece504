"""A private virtual network for the many-hosts test: one network namespace for the
database server and one per worker "host", each host joined to the server's namespace
by its own veth pair. All of it is made by the test and removed afterwards; the
addresses (10.213.<n>.0/30) exist only inside those namespaces, and the root namespace
gets no interface and no address.

The PostgreSQL server for it is a separate throwaway cluster started inside the
server's namespace, listening on the veth addresses there, and on a Unix socket in a
temp dir — the test itself (in the root namespace) talks to it over that socket, which
network namespaces do not separate.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

PASSWORD = "baton-hosts"
PORT = 5432  # free by construction: nothing else lives in the server's namespace
SUBNET = "10.213"


def _run(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=60)


def why_not() -> str | None:
    """Why namespaces cannot be made here, or None if they can (tried for real)."""
    if shutil.which("ip") is None:
        return "the `ip` command (iproute2) is missing"
    if os.geteuid() != 0:
        return "making network namespaces needs root"
    probe = f"btprobe{uuid.uuid4().hex[:6]}"
    try:
        _run("ip", "netns", "add", probe)
    except subprocess.CalledProcessError as exc:
        return f"`ip netns add` is not permitted here: {exc.stderr.strip()}"
    try:
        _run("ip", "-n", probe, "link", "add", "bpa", "type", "veth", "peer", "name", "bpb")
    except subprocess.CalledProcessError as exc:
        return f"veth pairs are not permitted here: {exc.stderr.strip()}"
    finally:
        subprocess.run(["ip", "netns", "del", probe], check=False, capture_output=True)
    return None


@dataclass
class Network:
    hosts: int
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    made: list[str] = field(default_factory=list)

    @property
    def server_ns(self) -> str:
        return f"btdb{self.tag}"

    def host_ns(self, i: int) -> str:
        return f"bth{i}{self.tag}"

    def server_addr(self, i: int) -> str:
        """The server's address on host ``i``'s link."""
        return f"{SUBNET}.{i}.1"

    def host_addr(self, i: int) -> str:
        return f"{SUBNET}.{i}.2"

    def up(self) -> None:
        for ns in [self.server_ns, *(self.host_ns(i) for i in range(1, self.hosts + 1))]:
            _run("ip", "netns", "add", ns)
            self.made.append(ns)
            _run("ip", "-n", ns, "link", "set", "lo", "up")
        for i in range(1, self.hosts + 1):
            near, far = f"bd{i}{self.tag}", f"bh{i}{self.tag}"
            _run(
                *("ip", "link", "add", near, "netns", self.server_ns, "type", "veth"),
                *("peer", "name", far, "netns", self.host_ns(i)),
            )
            for ns, dev, addr in (
                (self.server_ns, near, self.server_addr(i)),
                (self.host_ns(i), far, self.host_addr(i)),
            ):
                _run("ip", "-n", ns, "addr", "add", f"{addr}/30", "dev", dev)
                _run("ip", "-n", ns, "link", "set", dev, "up")

    def exec_in(self, ns: str, cmd: list[str]) -> list[str]:
        return ["ip", "netns", "exec", ns, *cmd]

    def addresses(self, ns: str) -> set[str]:
        out = subprocess.run(
            ["ip", "-n", ns, "-o", "-4", "addr"], check=True, capture_output=True, text=True
        ).stdout
        return {line.split()[3].split("/")[0] for line in out.splitlines()}

    def down(self) -> None:
        for ns in reversed(self.made):  # deleting a namespace deletes its veth ends
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)
        self.made.clear()


class Server:
    """A throwaway PostgreSQL cluster running inside ``net``'s server namespace."""

    def __init__(self, bindir: str, net: Network) -> None:
        self.bindir, self.net = bindir, net
        self.root = Path(tempfile.mkdtemp(prefix="baton-hosts-pg-"))
        self.data = self.root / "data"
        self.user = "postgres"

    def _as_pg(self, cmd: list[str]) -> list[str]:
        return ["runuser", "-u", self.user, "--", *cmd]

    def start(self) -> None:
        pw = pwd.getpwnam(self.user)
        os.chown(self.root, pw.pw_uid, pw.pw_gid)
        pwfile = self.root / "pw"
        pwfile.write_text(PASSWORD)
        os.chown(pwfile, pw.pw_uid, pw.pw_gid)
        initdb = [f"{self.bindir}/initdb", "-D", str(self.data), "-U", "baton"]
        initdb += ["--auth=scram-sha-256", f"--pwfile={pwfile}", "-E", "UTF8", "--locale=C"]
        _run(*self._as_pg(initdb))
        with (self.data / "pg_hba.conf").open("a") as hba:  # the hosts' link addresses
            hba.write(f"host all all {SUBNET}.0.0/16 scram-sha-256\n")
        listen = ",".join(self.net.server_addr(i) for i in range(1, self.net.hosts + 1))
        opts = f"-h {listen} -p {PORT} -k {self.root} -c fsync=off -c max_connections=100"
        pg_ctl = [f"{self.bindir}/pg_ctl", "-D", str(self.data), "-o", opts]
        pg_ctl += ["-l", str(self.root / "log"), "-w", "start"]
        _run(*self.net.exec_in(self.net.server_ns, self._as_pg(pg_ctl)))

    def local_url(self, db: str) -> str:
        """For the test, in the root namespace: over the Unix socket."""
        return f"postgresql://baton:{PASSWORD}@/{db}?host={self.root}&port={PORT}"

    def url_from_host(self, i: int, db: str) -> str:
        return f"postgresql://baton:{PASSWORD}@{self.net.server_addr(i)}:{PORT}/{db}"

    def stop(self) -> None:
        subprocess.run(
            self._as_pg([f"{self.bindir}/pg_ctl", "-D", str(self.data), "-m", "immediate", "stop"]),
            check=False,
            capture_output=True,
        )
        shutil.rmtree(self.root, ignore_errors=True)
