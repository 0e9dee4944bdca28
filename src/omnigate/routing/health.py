"""Which deployments are worth trying now: a deployment that keeps failing sits out a cool-down."""

from __future__ import annotations

import random
import time


class DeploymentHealth:
    def __init__(self, *, failures_to_cool: int, cooldown_s: float) -> None:
        self.failures_to_cool = failures_to_cool
        self.cooldown_s = cooldown_s
        self._failures: dict[str, int] = {}
        self._cool_until: dict[str, float] = {}
        # Every deployment tried so far, for the metrics of their health.
        self.seen: set[str] = set()

    def available(self, label: str) -> bool:
        until = self._cool_until.get(label)
        return until is None or time.monotonic() >= until

    def failed(self, label: str) -> bool:
        """Count a failure; returns True when it sends the deployment into a cool-down."""
        self.seen.add(label)
        count = self._failures.get(label, 0) + 1
        self._failures[label] = count
        if count >= self.failures_to_cool:
            self._failures[label] = 0
            self._cool_until[label] = time.monotonic() + self.cooldown_s
            return True
        return False

    def failures(self, label: str) -> int:
        """Failures since the last success or cool-down."""
        return self._failures.get(label, 0)

    def succeeded(self, label: str) -> None:
        self.seen.add(label)
        self._failures.pop(label, None)
        self._cool_until.pop(label, None)


def backoff_s(attempt: int, *, base_s: float, max_s: float, retry_after_s: float | None) -> float | None:
    """How long to wait before trying the same deployment again; None: not worth waiting for.

    Full jitter (a random wait up to the exponential bound) keeps many clients from retrying in
    step; an upstream's Retry-After is a floor, and one longer than `max_s` means give up on it.
    """
    if retry_after_s is not None and retry_after_s > max_s:
        return None
    wait = random.uniform(0, min(max_s, base_s * 2 ** (attempt - 1)))
    return max(wait, retry_after_s or 0.0)
