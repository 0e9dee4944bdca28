"""Processes and measurements for bench/gateway.py: the mock, the gateways, the load generators."""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STREAM_CHUNKS = 50
MODEL = "gpt-4o"
STREAM_MODEL = "gpt-4o-mini"
BODY = json.dumps(
    {"model": MODEL, "messages": [{"role": "user", "content": "Hello, how are you?"}], "max_tokens": 64}
)
STREAM_BODY = json.dumps(
    {
        "model": STREAM_MODEL,
        "messages": [{"role": "user", "content": "Hello"}],
        "max_tokens": 64,
        "stream": True,
    }
)

COMPLETION = {
    "id": "chatcmpl-bench0000000000000000000000",
    "object": "chat.completion",
    "created": 1762343744,
    "model": "gpt-4o-2024-08-06",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Hello! I'm just a program, but I'm here and ready to help. How can I assist?",
                "refusal": None,
                "annotations": [],
            },
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 13,
        "completion_tokens": 22,
        "total_tokens": 35,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    },
    "service_tier": "default",
    "system_fingerprint": "fp_bench",
}


def sse_body() -> str:
    base = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 1762343744,
        "model": "gpt-4o-mini",
    }
    events = [
        {
            **base,
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}],
            "usage": None,
        }
    ]
    for i in range(STREAM_CHUNKS - 2):
        events.append(
            {
                **base,
                "choices": [{"index": 0, "delta": {"content": f" tok{i}"}, "finish_reason": None}],
                "usage": None,
            }
        )
    events.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": None})
    usage = {"prompt_tokens": 8, "completion_tokens": STREAM_CHUNKS - 2, "total_tokens": STREAM_CHUNKS + 6}
    events.append({**base, "choices": [], "usage": usage})
    return "".join(f"data: {json.dumps(e, separators=(',', ':'))}\n\n" for e in events) + "data: [DONE]\n\n"


@dataclass
class Target:
    name: str
    url: str
    key: str | None
    pid: int | None


@dataclass
class Started:
    proc: subprocess.Popen
    url: str


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pinned(command: list[str], core: str | None) -> list[str]:
    return ["taskset", "-c", core, *command] if core is not None else command


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{proc.args} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{proc.args} did not open port {port}")


def start(command: list[str], port: int, core: str | None, **kwargs) -> subprocess.Popen:
    proc = subprocess.Popen(
        pinned(command, core), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kwargs
    )
    wait_port(port, proc)
    return proc


def _nginx_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"


def start_nginx(work: Path, port: int, core: str | None) -> subprocess.Popen:
    conf = work / "nginx.conf"
    stream_file = work / "static" / "stream" / "v1" / "chat" / "completions"
    stream_file.parent.mkdir(parents=True, exist_ok=True)
    stream_file.write_text(sse_body())
    for folder in (work, *stream_file.parents):  # nginx's worker runs unprivileged
        if folder.is_relative_to(work):
            folder.chmod(0o755)
    conf.write_text(
        textwrap.dedent(
            f"""
            worker_processes 1;
            daemon off;
            pid {work}/nginx.pid;
            error_log {work}/nginx-error.log error;
            events {{ worker_connections 8192; }}
            http {{
              access_log off;
              keepalive_requests 10000000;
              client_body_temp_path {work}/body;
              server {{
                listen 127.0.0.1:{port} backlog=4096;
                location = /v1/chat/completions {{
                  default_type application/json;
                  return 200 {_nginx_string(json.dumps(COMPLETION, separators=(",", ":")))};
                }}
                location = /stream/v1/chat/completions {{
                  # The 50-chunk body is longer than an nginx config string may be, so it is a
                  # file; nginx refuses POST to files (405), served again as 200.
                  default_type text/event-stream;
                  root {work}/static;
                  error_page 405 =200 $uri;
                }}
              }}
            }}
            """
        )
    )
    nginx = "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else "nginx"
    return start([nginx, "-p", str(work), "-c", str(conf)], port, core)


def start_redis(work: Path, core: str | None) -> tuple[subprocess.Popen, str]:
    """A redis-server of the benchmark's own, on the clients' core, keeping nothing on disk."""
    port = free_port()
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    return start([*command, "--dir", str(work)], port, core), f"redis://127.0.0.1:{port}/0"


# The key's limits in the Redis run: high enough never to refuse, so every request pays for
# checking them (requests, tokens, concurrency and a monthly budget).
LIMIT_FLAGS = [
    "--rpm",
    "100000000",
    "--tpm",
    "1000000000000",
    "--concurrency",
    "100000",
    "--budget",
    str(10**15),
]


def start_omnigate(
    work: Path, mock_url: str, core: str | None, *, redis_url: str = "", limits: bool = False
) -> tuple[Started, str]:
    data = work / ("omnigate-redis" if redis_url else "omnigate")
    config = work / ("omnigate-redis.toml" if redis_url else "omnigate.toml")
    config.write_text(
        textwrap.dedent(
            f"""
            data_dir = "{data}"
            [redis]
            url = "{redis_url}"
            [engines]
            builtin = false
            [providers.mock]
            kind = "openai"
            base_url = "{mock_url}/v1"
            api_key = "sk-mock"
            [providers.mock-stream]
            kind = "openai"
            base_url = "{mock_url}/stream/v1"
            api_key = "sk-mock"
            [[routes]]
            model = "{MODEL}"
            provider = "mock"
            [[routes]]
            model = "{STREAM_MODEL}"
            provider = "mock-stream"
            [[prices]]
            model = "{MODEL}"
            input_per_million = 2.5
            output_per_million = 10.0
            [[prices]]
            model = "{STREAM_MODEL}"
            input_per_million = 0.15
            output_per_million = 0.6
            """
        )
    )
    env = {**os.environ, "OMNIGATE_CONFIG": str(config)}
    cli = [sys.executable, "-m", "omnigate.cli"]
    key = subprocess.run(
        [*cli, "keys", "create", "--account", "default", *(LIMIT_FLAGS if limits else [])],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    subprocess.run(
        [*cli, "accounts", "topup", "default", "--credits", str(10**15)],
        env=env,
        check=True,
        capture_output=True,
    )
    port = free_port()
    proc = start([*cli, "serve", "--port", str(port)], port, core, env=env)
    return Started(proc, f"http://127.0.0.1:{port}"), key


def start_litellm(work: Path, mock_url: str, core: str | None) -> Started:
    venv = Path.home() / ".cache" / "omnigate" / "litellm-venv"
    litellm = venv / "bin" / "litellm"
    if not litellm.exists():
        print("installing litellm[proxy] into", venv, "(once)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", "litellm[proxy]"], check=True)
    config = work / "litellm.yaml"
    config.write_text(
        textwrap.dedent(
            f"""
            model_list:
              - model_name: {MODEL}
                litellm_params: {{model: openai/{MODEL}, api_base: "{mock_url}/v1", api_key: sk-mock}}
              - model_name: {STREAM_MODEL}
                litellm_params:
                  {{model: openai/{STREAM_MODEL}, api_base: "{mock_url}/stream/v1", api_key: sk-mock}}
            general_settings:
              master_key: sk-bench
            litellm_settings:
              telemetry: false
            """
        )
    )
    port = free_port()
    env = {**os.environ, "LITELLM_LOG": "ERROR", "LITELLM_TELEMETRY": "False"}
    proc = start(
        [str(litellm), "--config", str(config), "--port", str(port), "--num_workers", "1"],
        port,
        core,
        env=env,
    )
    return Started(proc, f"http://127.0.0.1:{port}")


def _connection(target: Target) -> tuple[http.client.HTTPConnection, dict[str, str], str]:
    host_port = target.url.removeprefix("http://")
    conn = http.client.HTTPConnection(host_port)
    headers = {"Content-Type": "application/json"}
    if target.key:
        headers["Authorization"] = f"Bearer {target.key}"
    return conn, headers, "/v1/chat/completions"


def _percentiles(samples: list[float]) -> dict[str, float]:
    samples = sorted(samples)
    pick = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))]  # noqa: E731
    return {"p50": pick(0.50), "p90": pick(0.90), "p99": pick(0.99), "mean": statistics.fmean(samples)}


def sequential(target: Target, count: int) -> dict[str, float]:
    """One request at a time on one keep-alive connection; milliseconds."""
    conn, headers, path = _connection(target)
    times = []
    for i in range(count + 50):
        started = time.perf_counter()
        conn.request("POST", path, body=BODY, headers=headers)
        response = conn.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - started
        if response.status != 200:
            raise SystemExit(f"{target.name}: {response.status} {body[:300]!r}")
        if i >= 50:  # warm-up excluded
            times.append(elapsed * 1000)
    conn.close()
    return _percentiles(times)


def streaming(target: Target, count: int) -> dict[str, float]:
    """Time to the first byte of the body and to the end of a 50-chunk stream; milliseconds."""
    conn, headers, _ = _connection(target)
    # The mock and the floor pick the stream by path; gateways by model (routed to the stream path).
    path = "/stream/v1/chat/completions" if target.key is None else "/v1/chat/completions"
    first, total = [], []
    for i in range(count + 10):
        started = time.perf_counter()
        conn.request("POST", path, body=STREAM_BODY, headers=headers)
        response = conn.getresponse()
        response.read1(1)
        ttfb = time.perf_counter() - started
        rest = response.read()
        elapsed = time.perf_counter() - started
        if response.status != 200 or b"[DONE]" not in rest:
            raise SystemExit(f"{target.name}: stream failed ({response.status})")
        if i >= 10:
            first.append(ttfb * 1000)
            total.append(elapsed * 1000)
    conn.close()
    return {"ttfb_p50": _percentiles(first)["p50"], "total_p50": _percentiles(total)["p50"]}


def wrk(target: Target, connections: int, seconds: int, core: str | None) -> dict[str, float]:
    script = Path(os.environ.get("TMPDIR", "/tmp")) / f"wrk-{target.name}.lua"
    auth = f'wrk.headers["Authorization"] = "Bearer {target.key}"\n' if target.key else ""
    lines = [
        'wrk.method = "POST"',
        f"wrk.body = {json.dumps(BODY)}",
        'wrk.headers["Content-Type"] = "application/json"',
    ]
    script.write_text("\n".join(lines) + "\n" + auth)
    command = pinned(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(script),
            target.url + "/v1/chat/completions",
        ],
        core,
    )
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": _wrk_ms(re.search(r"50%\s+([\d.]+\w+)", out).group(1)),
        "p99_ms": _wrk_ms(re.search(r"99%\s+([\d.]+\w+)", out).group(1)),
        "errors": errors,
        "requests": requests,
    }


def _wrk_ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int, *, peak: bool = False) -> float:
    key = "VmHWM" if peak else "VmRSS"
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) / 1024
    return 0.0
