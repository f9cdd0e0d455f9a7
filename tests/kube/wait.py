"""Polling with a deadline: the one wait helper tests, the journey and benchmarks share."""

from __future__ import annotations

import time
from typing import Callable, TypeVar

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], timeout: float = 60, interval: float = 0.5, what: str = "condition") -> T:
    """Returns the first truthy value of ``predicate()``; AssertionError names ``what`` on timeout."""
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")
