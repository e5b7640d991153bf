"""State files (audit log, console log) are private: 0600 files inside 0700 directories.

They name clusters, services and who changed what; other users on a shared bastion have no business reading
them. Modes are set on creation and tightened when an existing file or directory is laxer.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def _tighten(path: Path, mode: int) -> None:
    """Drop group/other bits from something we own; a path owned by someone else is left alone."""
    try:
        info = os.stat(path)
    except OSError:
        return
    if info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) & 0o077:
        with contextlib.suppress(OSError):
            os.chmod(path, stat.S_IMODE(info.st_mode) & ~0o077 & 0o7777)


def private_dir(path: Path, *, tighten: bool = True) -> None:
    """Create `path` (and parents) 0700; tighten an existing one we own. Raises OSError."""
    try:
        path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    except FileExistsError:  # a regular file stands where the directory should be: say that, not "exists"
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(path)) from None
    if tighten:
        _tighten(path, DIR_MODE)


def open_private_append(path: Path, *, tighten_dir: bool = True) -> int:
    """An O_APPEND descriptor on `path`, created 0600 (an existing laxer file is tightened). Raises OSError."""
    private_dir(path.parent, tighten=tighten_dir)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, FILE_MODE)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise IsADirectoryError(f"{path} is not a regular file")
        if stat.S_IMODE(info.st_mode) & 0o077 and info.st_uid == os.getuid():
            os.fchmod(fd, FILE_MODE)
    except BaseException:
        os.close(fd)
        raise
    return fd
