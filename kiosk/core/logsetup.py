"""Logging for the CLI and the service: one logger per module, one setup here.

Under systemd (JOURNAL_STREAM is set) records go to stderr with the sd-daemon
"<N>" priority prefix, so the journal keeps their levels and adds its own timestamps.
"""

from __future__ import annotations

import logging
import os
import sys

_SD_PRIORITY = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}


class _JournalFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        prio = _SD_PRIORITY.get(record.levelno, 6)
        return f"<{prio}>{record.name}: {super().format(record)}"


def setup_logging(verbose: int = 0) -> None:
    """Configure the root logger once: INFO by default, DEBUG with -v."""
    level = logging.DEBUG if verbose > 0 else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    if os.environ.get("JOURNAL_STREAM"):
        handler.setFormatter(_JournalFormatter("%(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
