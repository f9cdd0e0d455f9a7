"""Polling with a deadline: the one wait helper tests, the journey and benchmarks share."""

from __future__ import annotations

import time
from typing import Callable, TypeVar

T = TypeVar("T")


def wait_for(
    predicate: Callable[[], T],
    timeout: float = 60,
    interval: float = 0.5,
    what: str = "condition",
    retry_on: tuple[type[BaseException], ...] = (),
) -> T:
    """Returns the first truthy value of ``predicate()``. Exceptions listed in ``retry_on`` count
    as "not yet" (the last one is reported); on timeout an AssertionError names ``what``."""
    end = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < end:
        try:
            last = predicate()
            if last:
                return last  # type: ignore[return-value]
        except retry_on as exc:
            last = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")
