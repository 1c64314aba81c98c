"""The loop the delivery worker and the channel fallback both run: turn after turn until
stopped, pausing (0.1 s doubling to 5 s) through a Redis outage or an unexpected error, and
resuming by itself."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from verify_service.domain.errors import StoreUnavailable

log = logging.getLogger(__name__)

FIRST_PAUSE_S = 0.1
LONGEST_PAUSE_S = 5.0


def run_until_stopped(name: str, stop: threading.Event, turn: Callable[[], float]) -> None:
    """Call `turn` until `stop` is set; it returns how long to wait before the next turn (0
    for none). `name` says whose loop it is in the log."""
    pause_s = FIRST_PAUSE_S
    while not stop.is_set():
        try:
            wait_s = turn()
            pause_s = FIRST_PAUSE_S
            if wait_s > 0:
                stop.wait(wait_s)
        except StoreUnavailable:
            log.warning("%s: store unavailable, retrying in %.1f s", name, pause_s)
            stop.wait(pause_s)
            pause_s = min(pause_s * 2, LONGEST_PAUSE_S)
        except Exception:  # a bug or a bad entry must not stop the loop for good
            log.exception("%s: unexpected error, going on in %.1f s", name, pause_s)
            stop.wait(pause_s)
            pause_s = min(pause_s * 2, LONGEST_PAUSE_S)
