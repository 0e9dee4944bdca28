"""A built-in chat backend on llama.cpp (llama-cpp-python), for GGUF models on the CPU.

Generation runs in the engine's own thread, one request at a time (see scheduler.py for the
queue); tokens travel to the event loop as they are sampled, so the loop never blocks. A stopped
stream sets a flag the generation loop checks at every token. Grammars built from JSON schemas
make `json_object`, `json_schema` and forced tool calls well-formed by construction.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import logging
import os
import secrets
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omnigate.engines.chat_format import OutputPlan, output_plan, template_messages, tool_calls_from
from omnigate.engines.grammar import GrammarError, parses, schema_grammar
from omnigate.engines.scheduler import FairScheduler
from omnigate.engines.turns import acquire
from omnigate.errors import BODY_VALIDATION, ApiError, bad_request
from omnigate.providers.base import StreamBroken, UpstreamFailure

log = logging.getLogger(__name__)

# Streamed text leaves the engine at most this often (seconds); see LocalChunkStream.
STREAM_FLUSH_S = 0.02

# Sampling defaults when a request leaves them out: llama.cpp's own recommended values.
DEFAULTS = {"temperature": 0.8, "top_p": 0.95, "top_k": 40, "min_p": 0.05, "repetition_penalty": 1.0}


def default_threads() -> int:
    """Every core. Measured on 2 cores: 2 threads give 97 tokens/s through the gateway, 1 gives
    70 (llama-cpp-python's own default is half the cores)."""
    return os.cpu_count() or 1


@dataclass(slots=True)
class Generation:
    """One request's generation settings, prepared on the event loop."""

    messages: list[dict[str, str]]
    plan: OutputPlan
    max_tokens: int | None
    stops: list[str]
    seed: int
    sampling: dict[str, float]
    # Filled in the engine thread by `prepare`: the templated prompt's tokens, and the grammar
    # (GBNF) the plan's schema becomes.
    prompt: list[int] | None = None
    grammar: str | None = None


@dataclass(slots=True)
class Outcome:
    finish_reason: str = "stop"
    prompt_tokens: int = 0
    completion_tokens: int = 0


class LlamaChatEngine:
    local = True

    def __init__(
        self, model_id: str, path: Path, *, n_ctx: int, threads: int | None, max_waiting: int
    ) -> None:
        self.name = model_id
        self.model_id = model_id
        self.path = path
        self.n_ctx = n_ctx
        self.threads = threads or default_threads()
        self.scheduler = FairScheduler(max_waiting)
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="llama")
        self._llm: Any = None
        self._formatter: Any = None

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    # -- the backend protocol ----------------------------------------------------------------
    async def open_stream(self, body: dict, *, account_id: int) -> LocalChunkStream:
        generation = _prepare(body)
        await acquire(self.scheduler, self.model_id, account_id)
        try:
            # Preparing first lets an over-long prompt or a refused schema fail before any byte is
            # streamed; it runs in the engine thread, as a large schema takes a while to convert.
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._executor, self.prepare, generation)
        except BaseException:
            self.scheduler.release()
            raise
        return LocalChunkStream(
            self, generation, include_usage=_wants_usage(body), flush_every_s=STREAM_FLUSH_S
        )

    async def complete(self, body: dict, *, account_id: int) -> dict:
        stream = await self.open_stream(body, account_id=account_id)
        stream.flush_every_s = float("inf")  # nobody reads the pieces before the end
        try:
            async for _ in stream:
                pass
        except StreamBroken as exc:
            raise UpstreamFailure(exc.error, retryable=False) from exc
        finally:
            await stream.aclose()
        message: dict[str, Any] = {"role": "assistant", "content": stream.text, "refusal": None}
        if stream.tool_calls:
            message["content"] = None
            message["tool_calls"] = stream.tool_calls
        return {
            "id": stream.id,
            "object": "chat.completion",
            "created": stream.created,
            "model": self.model_id,
            "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": stream.finish_reason}
            ],
            "usage": stream.usage,
        }

    # -- generation, in the engine thread ----------------------------------------------------
    def _load(self) -> Any:
        if self._llm is None:
            from llama_cpp import Llama
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            started = time.perf_counter()
            llm = Llama(str(self.path), n_ctx=self.n_ctx, n_threads=self.threads, verbose=False)
            eos = llm.token_eos()
            self._formatter = Jinja2ChatFormatter(
                template=llm.metadata["tokenizer.chat_template"],
                eos_token=llm._model.token_get_text(eos),
                bos_token=llm._model.token_get_text(llm.token_bos()),
                stop_token_ids=[eos],
            )
            self._llm = llm
            log.info("loaded %s from %s in %.2fs", self.model_id, self.path, time.perf_counter() - started)
        return self._llm

    def prepare(self, generation: Generation) -> None:
        """Fill in the grammar and the prompt's tokens; 400 for a schema the engine refuses or a
        prompt that leaves no room to answer."""
        self._load()
        generation.grammar = self._grammar(generation.plan)
        generation.prompt = self._tokenize(generation)

    def _grammar(self, plan: OutputPlan) -> str | None:
        if plan.schema is None:
            return None
        try:
            return self._checked_grammar(plan.schema)
        except GrammarError as whole:
            # Of several client schemas (tool_choice "required"), name the first refused alone.
            refusal, culprit = whole, "tools" if plan.mode == "tool" else "response_format"
            for param, schema in plan.sources:
                try:
                    self._checked_grammar(schema)
                except GrammarError as own:
                    refusal, culprit = own, param
                    break
            raise UpstreamFailure(
                bad_request(f"{BODY_VALIDATION} {culprit}: {refusal}", param=culprit, code="body_validation"),
                retryable=False,
            ) from refusal

    def _checked_grammar(self, schema: Any) -> str:
        grammar = schema_grammar(schema)
        if not parses(grammar, self._llm._model.vocab):
            raise GrammarError("llama.cpp cannot parse the grammar this schema becomes")
        return grammar

    def _tokenize(self, generation: Generation) -> list[int]:
        llm = self._llm
        formatted = self._formatter(messages=generation.messages)
        tokens = llm.tokenize(formatted.prompt.encode(), add_bos=not formatted.added_special, special=True)
        if len(tokens) >= self.n_ctx:
            raise UpstreamFailure(
                bad_request(
                    f"The prompt has {len(tokens)} tokens; {self.model_id} has a context of {self.n_ctx}.",
                    param="messages",
                    code="context_length_exceeded",
                ),
                retryable=False,
            )
        return tokens

    def generate(self, generation: Generation, emit: Callable[[str], None], stop: threading.Event) -> Outcome:
        """Run one generation, calling `emit` with each piece of text; returns how it ended."""
        import llama_cpp
        from llama_cpp.llama_grammar import LlamaGrammar

        assert generation.prompt is not None, "open_stream prepares every generation"
        llm = self._llm
        tokens = generation.prompt
        room = self.n_ctx - len(tokens)
        outcome = Outcome(prompt_tokens=len(tokens), finish_reason="length")
        budget = min(generation.max_tokens or room, room)
        llm.set_seed(generation.seed)
        # Evaluate the whole prompt every time: reusing a cached prefix changes the logits in the
        # last bits, and then the same seed no longer gives the same text.
        llm.reset()
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        held: str | None = ""  # text that may be the start of a stop string
        s = generation.sampling
        for token in llm.generate(
            tokens,
            temp=s["temperature"],
            top_p=s["top_p"],
            top_k=int(s["top_k"]),
            min_p=s["min_p"],
            repeat_penalty=s["repetition_penalty"],
            presence_penalty=s.get("presence_penalty", 0.0),
            frequency_penalty=s.get("frequency_penalty", 0.0),
            grammar=LlamaGrammar.from_string(generation.grammar) if generation.grammar else None,
        ):
            if stop.is_set():
                outcome.finish_reason = "cancelled"
                break
            if llama_cpp.llama_vocab_is_eog(llm._model.vocab, token):
                outcome.finish_reason = "stop"
                break
            outcome.completion_tokens += 1
            held += decoder.decode(llm.detokenize([token]))
            cut = _find_stop(held, generation.stops)
            if cut is not None:
                emit(held[:cut])
                held = None  # nothing after a stop string is ever sent
                outcome.finish_reason = "stop"
                break
            safe = len(held) - _partial_stop(held, generation.stops)
            if safe:
                emit(held[:safe])
                held = held[safe:]
            if outcome.completion_tokens >= budget:
                break
        if held is not None:
            emit(held + decoder.decode(b"", final=True))
        return outcome


class LocalChunkStream:
    """The chunks of one local generation, in OpenAI's `chat.completion.chunk` shape."""

    def __init__(
        self, engine: LlamaChatEngine, generation: Generation, *, include_usage: bool, flush_every_s: float
    ) -> None:
        self.engine = engine
        self.generation = generation
        self.include_usage = include_usage
        self.flush_every_s = flush_every_s
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())
        self.text = ""
        self.tool_calls: list[dict] = []
        self.outcome = Outcome()
        self._stop = threading.Event()
        self._job: asyncio.Future[Outcome] | None = None
        self._released = False

    @property
    def finish_reason(self) -> str:
        if self.tool_calls:
            return "tool_calls"
        return "length" if self.outcome.finish_reason == "length" else "stop"

    @property
    def usage(self) -> dict:
        o = self.outcome
        return {
            "prompt_tokens": o.prompt_tokens,
            "completion_tokens": o.completion_tokens,
            "total_tokens": o.prompt_tokens + o.completion_tokens,
        }

    def _chunk(self, delta: dict, finish_reason: str | None = None) -> dict:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.engine.model_id,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
        }

    async def __aiter__(self) -> AsyncIterator[dict]:
        loop = asyncio.get_running_loop()
        pieces: asyncio.Queue[str | None] = asyncio.Queue()
        tool_mode = self.generation.plan.mode == "tool"

        unsent: list[str] = []
        last_sent = 0.0

        def emit(piece: str) -> None:
            # Runs in the engine thread. Waking the event loop (and, through it, the client) for
            # every token costs the generation threads their cores; pieces are sent at most every
            # `flush_every_s`, the first one at once.
            nonlocal last_sent
            unsent.append(piece)
            now = time.monotonic()
            if now - last_sent >= self.flush_every_s:
                last_sent = now
                loop.call_soon_threadsafe(pieces.put_nowait, "".join(unsent))
                unsent.clear()

        def run() -> Outcome:
            try:
                return self.engine.generate(self.generation, emit, self._stop)
            finally:
                loop.call_soon_threadsafe(pieces.put_nowait, "".join(unsent))
                loop.call_soon_threadsafe(pieces.put_nowait, None)

        self._job = loop.run_in_executor(self.engine._executor, run)
        yield self._chunk({"role": "assistant", "content": ""})
        while (piece := await pieces.get()) is not None:
            if piece:
                self.text += piece
                if not tool_mode:
                    yield self._chunk({"content": piece})
        try:
            self.outcome = await self._job
        except Exception as exc:
            log.exception("local generation failed")
            raise StreamBroken(
                ApiError(500, f"The local engine {self.engine.model_id!r} failed: {exc}", code="engine_error")
            ) from exc
        if tool_mode and self.outcome.finish_reason == "stop":
            self.tool_calls = tool_calls_from(self.text, self.generation.plan)
            self.text = ""
            for index, call in enumerate(self.tool_calls):
                opening = {"index": index, "id": call["id"], "type": "function"}
                yield self._chunk(
                    {
                        "tool_calls": [
                            {**opening, "function": {"name": call["function"]["name"], "arguments": ""}}
                        ]
                    }
                )
                yield self._chunk(
                    {
                        "tool_calls": [
                            {"index": index, "function": {"arguments": call["function"]["arguments"]}}
                        ]
                    }
                )
        yield self._chunk({}, self.finish_reason)
        if self.include_usage:
            yield {**self._chunk({}), "choices": [], "usage": self.usage}

    async def aclose(self) -> None:
        self._stop.set()
        if self._job is not None:
            # Wait for the thread to notice, so the next request never overlaps this one.
            with contextlib.suppress(Exception):
                await asyncio.shield(self._job)
        if not self._released:
            self._released = True
            self.engine.scheduler.release()


def _prepare(body: dict) -> Generation:
    try:
        plan = output_plan(body)
    except ValueError as exc:
        raise bad_request(str(exc), param="tool_choice") from exc
    stop = body.get("stop")
    # An empty stop string would end every answer before it starts. A tool call is never cut: its
    # arguments must parse whole (tool_calls_from).
    stops = [] if plan.mode == "tool" else [s for s in ([stop] if isinstance(stop, str) else stop or ()) if s]
    sampling = {k: float(body[k]) if body.get(k) is not None else v for k, v in DEFAULTS.items()}
    for penalty in ("presence_penalty", "frequency_penalty"):
        if body.get(penalty) is not None:
            sampling[penalty] = float(body[penalty])
    seed = body.get("seed")
    return Generation(
        messages=template_messages(body),
        plan=plan,
        max_tokens=body.get("max_completion_tokens") or body.get("max_tokens"),
        stops=stops,
        # The rules let integral floats (7.0) through as integers.
        seed=int(seed) if isinstance(seed, int | float) else secrets.randbits(31),
        sampling=sampling,
    )


def _wants_usage(body: dict) -> bool:
    return bool((body.get("stream_options") or {}).get("include_usage"))


def _find_stop(text: str, stops: list[str]) -> int | None:
    hits = [i for i in (text.find(s) for s in stops) if i >= 0]
    return min(hits) if hits else None


def _partial_stop(text: str, stops: list[str]) -> int:
    """Length of the longest end of `text` that could still grow into a stop string."""
    longest = 0
    for s in stops:
        for size in range(min(len(s) - 1, len(text)), longest, -1):
            if text.endswith(s[:size]):
                longest = size
                break
    return longest
