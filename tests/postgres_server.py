"""A PostgreSQL cluster of the test's own, from Debian's ``postgresql`` package (``.ci/run`` installs it): ``initdb``
in a fresh folder, the server on 127.0.0.1 and a free port (no Unix socket), password authentication.

PostgreSQL refuses to run as root; under root the cluster belongs to the ``postgres`` user the Debian package
creates, in a folder of its own under /var/tmp (a test's tmp_path sits under a folder only root may enter).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.local_servers import die_with_parent, free_port, wait_for

SUPERUSER = "tiepulse"
PASSWORD = "catalog-test-password"  # a throwaway cluster's; given to clients through PGPASSWORD only
START_SECONDS = 120.0


def _binaries() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    assert found, "PostgreSQL is missing: install Debian's postgresql (.ci/run does)"
    return found[-1].parent


class Postgres:
    """One cluster: ``catalog(database)`` is the DuckLake catalog setting that reaches a database of it."""

    def __init__(self, folder: Path) -> None:
        self.bin = _binaries()
        self.owner = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        password_file = folder / "password"
        password_file.write_text(PASSWORD + "\n")
        self._own(folder, password_file)
        self._run(
            "initdb", "-D", "data", "-U", SUPERUSER, f"--pwfile={password_file}", "--auth=scram-sha-256",
            "--no-sync", "--encoding=UTF8", "--locale=C",
        )  # fmt: skip

    def _own(self, *paths: Path) -> None:
        if self.owner is not None:
            for path in paths:
                os.chown(path, self.owner.pw_uid, self.owner.pw_gid)

    def _as_owner(self) -> dict[str, object]:
        if self.owner is None:
            return {"preexec_fn": die_with_parent}
        owner = self.owner
        return {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": [], "preexec_fn": die_with_parent}

    def _run(self, program: str, *args: str) -> None:
        subprocess.run(
            [str(self.bin / program), *args], cwd=self.folder, check=True, capture_output=True, **self._as_owner()
        )

    def catalog(self, database: str) -> str:
        return f"postgres:host=127.0.0.1 port={self.port} dbname={database} user={SUPERUSER} connect_timeout=10"

    def start(self) -> None:
        settings = ["listen_addresses=127.0.0.1", "unix_socket_directories=", "fsync=off", "max_connections=200"]
        command = [str(self.bin / "postgres"), "-D", "data", "-p", str(self.port)]
        command += [word for setting in settings for word in ("-c", setting)]
        log = (self.folder / "server.log").open("ab")
        self.process = subprocess.Popen(
            command, cwd=self.folder, stdout=log, stderr=subprocess.STDOUT, **self._as_owner()
        )
        wait_for(self._ready, f"PostgreSQL on port {self.port}", START_SECONDS)

    def _ready(self) -> bool:
        assert self.process is not None and self.process.poll() is None, "PostgreSQL exited while starting"
        ready = [str(self.bin / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)]
        return subprocess.run(ready, check=False).returncode == 0

    def stop(self) -> None:
        """A fast shutdown: clients are disconnected, nothing is lost."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            self.process.wait(timeout=60)
        self.process = None

    def _psql(self, database: str) -> list[str]:
        return [
            str(self.bin / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER, "-d", database,
            "-v", "ON_ERROR_STOP=1", "-q", "-t", "-A",
        ]  # fmt: skip

    def query(self, database: str, sql: str) -> str:
        found = subprocess.run(
            [*self._psql(database), "-c", sql], check=True, capture_output=True, text=True, env=_with_password()
        )
        return found.stdout.strip()

    def create_database(self, name: str) -> None:
        self.query("postgres", f'create database "{name}"')

    def sessions_waiting_for_a_lock(self, database: str) -> int:
        sql = f"select count(*) from pg_stat_activity where datname = '{database}' and wait_event_type = 'Lock'"
        return int(self.query("postgres", sql))

    @contextmanager
    def holding(self, database: str, lock: str) -> Iterator[None]:
        """``lock`` (``lock table ... in ... mode``) held by a session of its own until the block ends."""
        session = subprocess.Popen(
            self._psql(database), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=_with_password()
        )
        assert session.stdin is not None and session.stdout is not None
        session.stdin.write(f"begin;\n{lock};\n\\echo held\n")
        session.stdin.flush()
        assert session.stdout.readline().strip() == "held", "psql could not take the lock"
        try:
            yield
        finally:
            session.communicate("commit;\n", timeout=60)


def _with_password() -> dict[str, str]:
    return {**os.environ, "PGPASSWORD": PASSWORD}


@contextmanager
def postgres_server() -> Iterator[Postgres]:
    """A running cluster, stopped and removed at the end."""
    folder = Path(tempfile.mkdtemp(prefix="tiepulse-postgres-", dir="/var/tmp" if os.geteuid() == 0 else None))
    try:
        server = Postgres(folder)
        server.start()
        try:
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
