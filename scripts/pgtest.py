"""Run a command with a throwaway PostgreSQL server, for the tests.

    python scripts/pgtest.py -- pytest -q

* ``BATON_TEST_PG`` already set: use that server as it is.
* Otherwise: find PostgreSQL's binaries (installing Debian's ``postgresql`` package
  with apt-get when missing), create a cluster in a temp directory owned by the
  ``postgres`` user, start it on 127.0.0.1 on a free port, export ``BATON_TEST_PG``
  (plus ``BATON_TEST_PG_DATA``/``BATON_TEST_PG_BIN``/``BATON_TEST_PG_USER`` so tests
  can restart it), run the command, stop the server, remove the directory.

If PostgreSQL truly cannot be installed, it says so loudly and runs the command
without it (the PostgreSQL tests then skip, saying why) — except under CI, where that
is an error.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PASSWORD = "baton-test"


def say(msg: str) -> None:
    print(f"[pgtest] {msg}", file=sys.stderr, flush=True)


def pg_bin() -> Path | None:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    return Path(found[-1]).parent if found else None


def install() -> Path | None:
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        return None
    say("PostgreSQL not found: installing Debian's postgresql package")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], env=env, check=False)
    done = subprocess.run(["apt-get", "install", "-y", "-qq", "postgresql"], env=env, check=False)
    return pg_bin() if done.returncode == 0 else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def as_user(user: str | None, cmd: list[str]) -> list[str]:
    return ["runuser", "-u", user, "--", *cmd] if user else cmd


def start(bindir: Path) -> tuple[str, dict[str, str], Path]:
    root = Path(tempfile.mkdtemp(prefix="baton-pg-"))
    data = root / "data"
    user = "postgres" if os.geteuid() == 0 else None
    if user:
        pw = pwd.getpwnam(user)
        os.chown(root, pw.pw_uid, pw.pw_gid)
    pwfile = root / "pw"
    pwfile.write_text(PASSWORD)
    if user:
        os.chown(pwfile, pw.pw_uid, pw.pw_gid)
    subprocess.run(
        as_user(
            user,
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "baton",
                "--auth=scram-sha-256",
                f"--pwfile={pwfile}",
                "-E",
                "UTF8",
                "--locale=C",
            ],
        ),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    port = free_port()
    opts = f"-h 127.0.0.1 -p {port} -k {root} -c max_connections=300 -c fsync=off"
    subprocess.run(
        as_user(
            user,
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                opts,
                "-l",
                str(root / "log"),
                "-w",
                "start",
            ],
        ),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    url = f"postgresql://baton:{PASSWORD}@127.0.0.1:{port}/postgres"
    env = {
        "BATON_TEST_PG": url,
        "BATON_TEST_PG_DATA": str(data),
        "BATON_TEST_PG_BIN": str(bindir),
        "BATON_TEST_PG_USER": user or "",
        "BATON_TEST_PG_OPTS": opts,
    }
    say(f"started PostgreSQL on 127.0.0.1:{port} (data in {data}; fsync=off: a test cluster)")
    return url, env, root


def stop(bindir: Path, env: dict[str, str], root: Path) -> None:
    user = env["BATON_TEST_PG_USER"] or None
    subprocess.run(
        as_user(
            user,
            [str(bindir / "pg_ctl"), "-D", env["BATON_TEST_PG_DATA"], "-m", "immediate", "stop"],
        ),
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    shutil.rmtree(root, ignore_errors=True)


def main(argv: list[str]) -> int:
    cmd = argv[argv.index("--") + 1 :] if "--" in argv else argv
    if not cmd:
        say("usage: python scripts/pgtest.py -- COMMAND ...")
        return 2
    if os.environ.get("BATON_TEST_PG"):
        say("using BATON_TEST_PG as given")
        return subprocess.call(cmd)
    bindir = pg_bin() or install()
    if bindir is None:
        msg = "PostgreSQL cannot be installed here (no apt-get or not root): its tests will SKIP"
        if os.environ.get("CI"):
            say(msg.replace("will SKIP", "are required under CI") + " — failing")
            return 1
        say("!" * 70)
        say(msg)
        say("!" * 70)
        return subprocess.call(cmd)
    _url, env, root = start(bindir)
    started = time.monotonic()
    try:
        return subprocess.call(cmd, env={**os.environ, **env})
    finally:
        stop(bindir, env, root)
        say(f"stopped PostgreSQL after {time.monotonic() - started:.0f}s")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
