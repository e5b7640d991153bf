"""The console's own log: $XDG_STATE_HOME/pilothouse/pilothouse.log, bounded, never on the terminal.

SDK loggers are held at WARNING: their DEBUG output includes request headers (tokens, signatures).
"""

from __future__ import annotations

import logging
import logging.handlers

from console.config import state_home

LOG_BYTES = 1_000_000
LOG_BACKUPS = 2
QUIET_LOGGERS = ("botocore", "boto3", "urllib3", "kubernetes", "docker", "s3transfer", "asyncio", "werkzeug")


def setup_logging(level: int = logging.INFO) -> None:
    root = logging.getLogger("pilothouse")
    path = state_home() / "pilothouse.log"
    for handler in list(root.handlers):
        if isinstance(handler, logging.handlers.RotatingFileHandler):
            if handler.baseFilename == str(path.absolute()):
                return
            # The state dir changed (tests, or XDG_STATE_HOME set between runs in one process): follow it.
            root.removeHandler(handler)
            handler.close()
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=LOG_BYTES, backupCount=LOG_BACKUPS,
                                                       encoding="utf-8")
    except OSError:
        # A read-only home must not stop the console; it just runs without a log file.
        return
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False
