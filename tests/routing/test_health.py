"""Cool-downs and backoff: pure logic, no network."""

from __future__ import annotations

from omnigate.routing.health import DeploymentHealth, backoff_s


def test_a_deployment_cools_down_after_repeated_failures_and_recovers_on_success() -> None:
    health = DeploymentHealth(failures_to_cool=2, cooldown_s=60)
    assert health.failed("p:m") is False and health.available("p:m")
    assert health.failed("p:m") is True and not health.available("p:m")
    health.succeeded("p:m")
    assert health.available("p:m")


def test_a_zero_cooldown_ends_at_once() -> None:
    health = DeploymentHealth(failures_to_cool=1, cooldown_s=0)
    health.failed("p:m")
    assert health.available("p:m")


def test_backoff_is_bounded_jittered_and_honours_retry_after() -> None:
    waits = [backoff_s(3, base_s=0.5, max_s=1.0, retry_after_s=None) for _ in range(200)]
    assert all(0 <= w <= 1.0 for w in waits) and len(set(waits)) > 1
    assert backoff_s(1, base_s=0.1, max_s=5, retry_after_s=2.0) >= 2.0
    assert backoff_s(1, base_s=0.1, max_s=5, retry_after_s=30.0) is None
