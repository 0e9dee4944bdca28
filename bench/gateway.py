"""Gateway overhead, side by side in one run: direct to a mock, the floor, Omnigate, LiteLLM.

    .venv/bin/python bench/gateway.py            # full run (installs LiteLLM into its own venv once)
    .venv/bin/python bench/gateway.py --quick    # a few seconds, no LiteLLM (what CI prints)

The mock upstream is Debian's nginx returning a fixed chat completion and a fixed 50-chunk SSE
stream (no Python in the mock). Omnigate runs as `omnigate serve` with governance on: bearer
auth, parameter rules, a priced model (credit reservation and settlement), usage in the ledger.
The floor is bench/floor_proxy.py: the same server and client stack forwarding bytes, nothing
else. "redis" is Omnigate in its scaled-out mode: one worker with `[redis] url` (a redis-server of
the benchmark's own) and a key with every limit set, so each request checks them.
Processes are pinned when there are two cores or more: the gateway under test on core 0,
nginx and the load generators on core 1, so the figures measure one gateway core.
Prints a table and writes bench/results/gateway.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from harness import (  # noqa: E402
    STREAM_CHUNKS,
    Target,
    cpu_seconds,
    free_port,
    rss_mb,
    sequential,
    start,
    start_litellm,
    start_nginx,
    start_omnigate,
    start_redis,
    streaming,
    wrk,
)


def measure(target: Target, args: argparse.Namespace, client_core: str | None) -> dict:
    result: dict = {"name": target.name}
    seq = sequential(target, args.sequential)
    result["latency_ms"] = seq
    result["stream_ms"] = streaming(target, args.streams)
    result["rss_idle_mb"] = rss_mb(target.pid) if target.pid else None
    cpu_before = cpu_seconds(target.pid) if target.pid else None
    total = 0
    for connections in (32, 64):
        run = wrk(target, connections, args.duration, client_core)
        result[f"wrk{connections}"] = run
        total += run["requests"]
        if target.pid and connections == 32:
            # Growth is measured from here: the first run warms caches and buffer pools.
            result["rss_warm_mb"] = rss_mb(target.pid)
    if target.pid:
        result["cpu_ms_per_request"] = (cpu_seconds(target.pid) - cpu_before) * 1000 / max(total, 1)
        while args.soak and total < args.soak:  # until the RSS figure covers the soak count
            total += wrk(target, 32, args.duration, client_core)["requests"]
        result["requests_served"] = total
        result["rss_peak_mb"] = rss_mb(target.pid, peak=True)
        result["rss_after_mb"] = rss_mb(target.pid)
    return result


def table(results: dict[str, dict]) -> str:
    direct = results["direct"]
    rows = [
        ("seq p50 ms", lambda r: r["latency_ms"]["p50"]),
        ("seq p90 ms", lambda r: r["latency_ms"]["p90"]),
        ("seq p99 ms", lambda r: r["latency_ms"]["p99"]),
        ("overhead p50 ms", lambda r: r["latency_ms"]["p50"] - direct["latency_ms"]["p50"]),
        ("overhead p99 ms", lambda r: r["latency_ms"]["p99"] - direct["latency_ms"]["p99"]),
        ("req/s @32", lambda r: r["wrk32"]["rps"]),
        ("p50 ms @32", lambda r: r["wrk32"]["p50_ms"]),
        ("p99 ms @32", lambda r: r["wrk32"]["p99_ms"]),
        ("errors @32", lambda r: r["wrk32"]["errors"]),
        ("req/s @64", lambda r: r["wrk64"]["rps"]),
        ("p99 ms @64", lambda r: r["wrk64"]["p99_ms"]),
        ("errors @64", lambda r: r["wrk64"]["errors"]),
        ("stream TTFB ms", lambda r: r["stream_ms"]["ttfb_p50"]),
        ("TTFB overhead ms", lambda r: r["stream_ms"]["ttfb_p50"] - direct["stream_ms"]["ttfb_p50"]),
        (f"stream total ms ({STREAM_CHUNKS} ch)", lambda r: r["stream_ms"]["total_p50"]),
        ("stream overhead ms", lambda r: r["stream_ms"]["total_p50"] - direct["stream_ms"]["total_p50"]),
        ("CPU ms/request", lambda r: r.get("cpu_ms_per_request")),
        ("RSS idle MB", lambda r: r.get("rss_idle_mb")),
        ("RSS peak MB", lambda r: r.get("rss_peak_mb")),
        ("RSS warm MB", lambda r: r.get("rss_warm_mb")),
        ("RSS after MB", lambda r: r.get("rss_after_mb")),
        ("RSS growth after warm %", lambda r: 100 * (r["rss_after_mb"] / r["rss_warm_mb"] - 1)),
        ("requests served", lambda r: r.get("requests_served")),
    ]
    names = list(results)
    ratios = [
        (n, d)
        for n, d in (("omnigate", "litellm"), ("omnigate", "floor"), ("redis", "omnigate"))
        if n in results and d in results
    ]
    header = (
        f"{'':<26}"
        + "".join(f"{n:>12}" for n in names)
        + "".join(f"{a[:4]}/{b[:5]:>6}".rjust(12) for a, b in ratios)
    )
    lines = [header]
    for label, get in rows:
        values = {n: _safe(get, results[n]) for n in names}
        line = f"{label:<26}" + "".join(_fmt(values[n]) for n in names)
        for a, b in ratios:
            va, vb = values[a], values[b]
            line += _fmt(va / vb if va is not None and vb not in (None, 0) else None, ratio=True)
        lines.append(line)
    return "\n".join(lines)


def _safe(get, result):
    try:
        return get(result)
    except (KeyError, TypeError):
        return None


def _fmt(value, ratio: bool = False) -> str:
    if value is None:
        return f"{'-':>12}"
    if ratio:
        return f"{value:>11.2f}x"
    return f"{value:>12.3f}" if abs(value) < 100 else f"{value:>12.0f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="a few seconds, no LiteLLM, no soak")
    parser.add_argument("--no-litellm", action="store_true")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--sequential", type=int, default=3000)
    parser.add_argument("--streams", type=int, default=300)
    parser.add_argument("--soak", type=int, default=100_000, help="requests before the last RSS reading")
    args = parser.parse_args()
    if args.quick:
        args.duration, args.sequential, args.streams, args.soak, args.no_litellm = 2, 500, 50, 0, True
    for tool in ("nginx", "wrk"):
        if shutil.which(tool) is None and not Path("/usr/sbin/nginx").exists():
            raise SystemExit(f"{tool} is missing: apt-get install -y nginx-light wrk")
    cores = os.cpu_count() or 1
    gateway_core, client_core = ("0", "1") if cores >= 2 else (None, None)

    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as work:
        work_dir = Path(work)
        mock_port = free_port()
        mock = start_nginx(work_dir, mock_port, client_core)
        procs = [mock]
        try:
            mock_url = f"http://127.0.0.1:{mock_port}"
            results["direct"] = measure(Target("direct", mock_url, None, None), args, client_core)

            floor_port = free_port()
            floor = start(
                [
                    sys.executable,
                    str(ROOT / "bench" / "floor_proxy.py"),
                    "--port",
                    str(floor_port),
                    "--upstream",
                    mock_url,
                ],
                floor_port,
                gateway_core,
            )
            procs.append(floor)
            results["floor"] = measure(
                Target("floor", f"http://127.0.0.1:{floor_port}", None, floor.pid), args, client_core
            )
            floor.terminate()

            omnigate, key = start_omnigate(work_dir, mock_url, gateway_core)
            procs.append(omnigate.proc)
            results["omnigate"] = measure(
                Target("omnigate", omnigate.url, key, omnigate.proc.pid), args, client_core
            )
            omnigate.proc.terminate()

            # The scaled-out mode: one worker with [redis] url, and a key whose limits are checked.
            redis, redis_url = start_redis(work_dir, client_core)
            procs.append(redis)
            scaled, key = start_omnigate(work_dir, mock_url, gateway_core, redis_url=redis_url, limits=True)
            procs.append(scaled.proc)
            results["redis"] = measure(Target("redis", scaled.url, key, scaled.proc.pid), args, client_core)
            scaled.proc.terminate()

            if not args.no_litellm:
                litellm = start_litellm(work_dir, mock_url, gateway_core)
                procs.append(litellm.proc)
                # LiteLLM is ~100x slower; shorter runs keep the benchmark's length sane.
                slow = argparse.Namespace(**{**vars(args), "sequential": 300, "streams": 50, "soak": 0})
                results["litellm"] = measure(
                    Target("litellm", litellm.url, "sk-bench", litellm.proc.pid), slow, client_core
                )
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.terminate()
                    try:
                        proc.wait(timeout=20)
                    except subprocess.TimeoutExpired:
                        proc.kill()

    pinned = (
        f"gateway on core {gateway_core}, nginx and clients on core {client_core}"
        if gateway_core
        else "not pinned"
    )
    print(f"{cores} cores, {pinned}; wrk {args.duration}s per run; {time.strftime('%Y-%m-%d %H:%M')}")
    print(table(results))
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / ("gateway-quick.json" if args.quick else "gateway.json")).write_text(
        json.dumps(results, indent=2) + "\n"
    )


if __name__ == "__main__":
    main()
