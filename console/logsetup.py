"""The console's own log: $XDG_STATE_HOME/pilothouse/pilothouse.log, bounded, never on the terminal.

SDK loggers are held at WARNING: their DEBUG output includes request headers (tokens, signatures). Warnings
from any other library (the kubernetes client reports a failed exec credential plugin on the root logger)
go to the same file instead of Python's last-resort handler, which prints them on stderr.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
from pathlib import Path
from typing import Any

from pilothouse.console.config import state_home
from pilothouse.console.private_files import open_private_append, private_dir

LOG_BYTES = 1_000_000
LOG_BACKUPS = 2
QUIET_LOGGERS = ("botocore", "boto3", "urllib3", "kubernetes", "docker", "s3transfer", "asyncio", "werkzeug")


class _PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """Every file it opens (rotated ones too) is 0600: the log names clusters and services."""

    def _open(self) -> Any:
        fd = open_private_append(Path(self.baseFilename))
        return os.fdopen(fd, "a", encoding=self.encoding, errors=self.errors)


def _ours_or_a_warning(record: logging.LogRecord) -> bool:
    return record.name.startswith("pilothouse") or record.levelno >= logging.WARNING


def setup_logging(level: int = logging.INFO) -> None:
    ours, everyone = logging.getLogger("pilothouse"), logging.getLogger()
    path = state_home() / "pilothouse.log"
    current = [handler for logger in (ours, everyone) for handler in logger.handlers
               if isinstance(handler, logging.handlers.RotatingFileHandler)]
    if len(current) == 2 and current[0] is current[1] and current[0].baseFilename == str(path.absolute()):
        return  # already set up, on both loggers
    # The state dir changed (tests, or XDG_STATE_HOME set between runs in one process): follow it.
    for handler in current:
        ours.removeHandler(handler)
        everyone.removeHandler(handler)
        handler.close()
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        private_dir(path.parent)
        handler = _PrivateRotatingFileHandler(path, maxBytes=LOG_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8")
    except OSError:
        # A read-only home must not stop the console; it just runs without a log file.
        return
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    # One handler (one rotating file) on both loggers: ours at `level`, anyone else's warnings and worse.
    handler.addFilter(_ours_or_a_warning)
    ours.addHandler(handler)
    ours.setLevel(level)
    ours.propagate = False
    everyone.addHandler(handler)
