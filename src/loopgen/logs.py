"""Logging for workflow scripts: everything (logging, warnings, tqdm, stray prints) goes to the rule's log."""

from __future__ import annotations

import logging
import sys
import warnings


def log_to(path: str) -> logging.Logger:
    """Send logging, warnings, stdout and stderr of this process to `path`; return the 'loopgen' logger."""
    stream = open(path, "a", buffering=1)
    sys.stdout = stream
    sys.stderr = stream
    logging.basicConfig(
        stream=stream,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    logging.captureWarnings(True)
    warnings.simplefilter("default")
    return logging.getLogger("loopgen")
