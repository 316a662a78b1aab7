"""Files only their owner can read: the home 0700, the warehouse, its WAL, tokens, snapshots and reports 0600.

Whatever the umask: a process that writes tiepulse's files tightens its own umask to 077 (``tighten_umask``), so
files DuckDB, Dagster or a library create for it are private too (DuckDB creates and deletes the WAL as it goes),
and the files and folders that already exist are set explicitly (``private_home``, ``make_private``).
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

HOME_MODE = 0o700
FILE_MODE = 0o600


class PrivatePathError(OSError):
    """The home cannot be made or used; the message names it and says what to do."""


def tighten_umask() -> None:
    """Take group and other permissions off everything this process creates from now on (never loosens)."""
    current = os.umask(0o077)
    os.umask(current | 0o077)


def private_home(home: Path) -> Path:
    """Create ``home`` (and missing parents) if needed and make it 0700."""
    tighten_umask()
    try:
        home.mkdir(parents=True, exist_ok=True)
        _restrict(home, HOME_MODE)
    except OSError as exc:
        raise PrivatePathError(
            f"cannot create or use TIEPULSE_HOME={home}: {exc.strerror or exc}; point TIEPULSE_HOME at a folder "
            "you can write, or create it with write permission for this user"
        ) from None
    return home


def make_private(*paths: Path) -> None:
    """Set each existing file of this user to 0600 (one made by an older tiepulse or under a looser umask)."""
    for path in paths:
        try:
            _restrict(path, FILE_MODE)
        except FileNotFoundError:
            continue


def _restrict(path: Path, mode: int) -> None:
    """Set ``mode`` on what this user owns; a folder or file another account set up keeps the modes it was given."""
    info = path.stat()
    if info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) != mode:
        path.chmod(mode)


def write_private(path: Path, data: str | bytes) -> Path:
    """Write ``data`` to ``path`` atomically with mode 0600; its folder must exist."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
