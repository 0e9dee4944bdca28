"""One turn of a run, by the runner that holds its lease: from `queued` to `completed`,
`incomplete`, `failed`, `cancelled` or `requires_action` (or `expired`, for a run that waited too
long for its tool outputs).

A turn makes at most one model call, through the pipeline like any chat request (`admit`: the
key's scopes and limits, the model's rules, the worst case held; then settled). Its ledger entry
id is `run:<run id>:<n>`, n counting the run's model calls: a turn a dead runner left half done is
run again by the next one, and its charge, written under the same id, counts once.

Every change is written to the database before its event is sent, so what a client polls and
what a stream tells agree. The turn streams the model's answer whether or not a client listens:
`emit` is a streamed request's queue, or nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from omnigate.api.chat_call import CHAT, estimated_usage, open_chat_stream, token_estimate
from omnigate.api.chat_stream import StreamTally
from omnigate.api.pipeline import admit
from omnigate.assistants import context, events, objects
from omnigate.assistants.answer import Answer, Hit
from omnigate.assistants.objects import stamp
from omnigate.billing.pricing import Used, upstream_credits
from omnigate.errors import ApiError
from omnigate.gateway import Gateway
from omnigate.providers.base import StreamBroken
from omnigate.responses.items import TranslationError
from omnigate.store.assistants import RunRow

log = logging.getLogger(__name__)
Emit = Callable[[str, dict], None]


class Interrupted(Exception):
    """The run is no longer this runner's to write (a client cancelled it, or the lease ran out)."""


@dataclass
class Turn:
    gw: Gateway
    row: RunRow
    owner: str
    emit: Emit
    stop: asyncio.Event = field(default_factory=asyncio.Event)  # set: a client asked to cancel
    run: dict[str, Any] = field(init=False)
    state: dict[str, Any] = field(init=False)
    partial: str = ""  # the text of the message being written, so far (kept if the run stops)

    def __post_init__(self) -> None:
        self.run = dict(self.row.body)
        self.state = {"calls": 0, "usage": [0, 0], "history": [], "open": {}, **self.row.state}

    @property
    def account_id(self) -> int:
        return self.row.account_id

    async def go(self) -> None:
        try:
            await self._go()
        except Interrupted:
            fresh = await asyncio.to_thread(self.gw.db.run, self.row.id)
            if fresh is not None and fresh.status == "cancelling" and fresh.lease_owner == self.owner:
                await self._end("cancelled")
            else:
                log.warning("run %s: another runner took it over; this turn stops", self.row.id)

    async def _go(self) -> None:
        status = self.row.status
        if status == "cancelling":
            await self._end("cancelled")
            return
        if status == "requires_action":  # claimed because it waited past its expiry
            await self._end("expired")
            return
        if status == "queued":
            self.run.update(status="in_progress", started_at=self.run.get("started_at") or stamp())
            await self._save()
            self.emit("thread.run.in_progress", self.run)
        key = self.gw.keys.by_prefix(self.row.key_prefix)
        if key is None or key.disabled:
            await self._fail("invalid_prompt", "The key that created this run is disabled or deleted.")
            return
        thread = await asyncio.to_thread(self.gw.db.get_object, "thread", self.row.thread_id, self.account_id)
        if thread is None:
            return  # deleted with its runs: nothing left to write
        assistant = await asyncio.to_thread(
            self.gw.db.get_object, "assistant", self.run["assistant_id"], self.account_id
        )
        messages = await asyncio.to_thread(self.gw.db.thread_messages, self.row.thread_id, self.account_id)
        if await self._search(key, thread, assistant, messages):
            await self._answer(key, messages)

    # -- file_search ------------------------------------------------------------------------------
    async def _search(self, key: Any, thread: dict, assistant: dict | None, messages: list[dict]) -> bool:
        """Once a run, before its first model call: the retrieval step, when file_search is on and
        files are named for it. False when it ended the run (failed)."""
        if "hits" in self.state:
            return True
        file_ids = context.search_file_ids(self.run, thread, assistant, messages)
        if not file_ids:
            self.state["hits"] = []
            return True
        try:
            from omnigate.knowledge.search import search_files  # built beside this (knowledge/)
        except ImportError:
            await self._fail("server_error", "file_search is not available in this build of the gateway.")
            return False
        query = next((objects.message_text(m) for m in reversed(messages) if m["role"] == "user"), "")
        step = objects.step(self.run, "tool_calls", {"tool_calls": []})
        self.state["open"] = {"step": step}  # a run that stops here ends it with itself
        await self._save(step)
        self.emit("thread.run.step.created", step)
        self.emit("thread.run.step.in_progress", step)
        try:
            hits = await search_files(self.gw, key, file_ids, query, k=5, request_id=f"{self.row.id}-search")
        except ApiError as err:
            await self._fail_with(err)  # the open step fails with the run
            return False
        call = context.file_search_call(objects.new_id("call"), hits)
        step.update(status="completed", completed_at=stamp(), usage=objects.usage(0, 0))
        step["step_details"]["tool_calls"] = [call]
        self.state["hits"] = [
            {"file_id": h.file_id, "filename": h.filename, "text": h.text, "score": h.score} for h in hits
        ]
        self.state["open"] = {}
        await self._save(step)
        self.emit("thread.run.step.delta", events.step_delta(step["id"], [{"index": 0, **call}]))
        self.emit("thread.run.step.completed", step)
        return True

    # -- the model call ---------------------------------------------------------------------------
    async def _answer(self, key: Any, thread_messages: list[dict]) -> None:
        prompt_used, completion_used = self.state["usage"]
        max_prompt, max_completion = self.run.get("max_prompt_tokens"), self.run.get("max_completion_tokens")
        if max_prompt and prompt_used >= max_prompt:
            await self._end("incomplete", reason="max_prompt_tokens")
            return
        if max_completion and completion_used >= max_completion:
            await self._end("incomplete", reason="max_completion_tokens")
            return
        model = self.gw.catalog.lookup(self.run["model"])
        window = model.context_length if model is not None else None
        if max_prompt:
            window = min(window or max_prompt, max_prompt)
        hits = [Hit(**h) for h in self.state["hits"]]
        try:
            messages = context.cut(
                context.chat_messages(thread_messages), self.run["truncation_strategy"], window
            )
        except TranslationError as exc:
            await self._end("incomplete", reason="max_prompt_tokens") if max_prompt else await self._fail(
                "invalid_prompt", str(exc)
            )
            return
        body = context.chat_body(
            self.run,
            messages,
            history=self.state["history"],
            sources=context.sources_text(hits) if hits else None,
            max_tokens=max_completion - completion_used if max_completion else None,
        )
        answer = await self._call(key, body)
        if answer is None:
            return
        if answer.failure is not None:
            await self._fail_with(answer.failure)
        elif self.stop.is_set():
            await self._end("cancelled")
        elif answer.tool_calls:
            await self._require_action(answer)
        else:
            reason = None
            if max_completion and answer.finish == "length":
                reason = "max_completion_tokens"
            elif max_prompt and self.state["usage"][0] > max_prompt:
                reason = "max_prompt_tokens"
            await self._finish_text(answer, hits, reason)

    async def _call(self, key: Any, body: dict) -> Answer | None:
        n = self.state["calls"]
        size = len(orjson.dumps(body))
        try:
            call = await admit(
                self.gw,
                key,
                body,
                family=CHAT,
                estimate=token_estimate(size, self.gw.settings.billing),
                request_id=f"{self.row.id}-{n}",
                body_size=size,
            )
        except ApiError as err:
            await self._fail_with(err)
            return None
        answer = Answer()
        try:
            try:
                chunks = await open_chat_stream(call)
            except ApiError as err:
                await self._fail_with(err)
                return None
            tally = StreamTally()
            stopped: Interrupted | None = None  # a client cancelled while the answer came
            try:
                await self._relay(chunks, tally, answer)
            except StreamBroken as broken:
                answer.failure = broken.error
            except Interrupted as exc:
                stopped = exc
            finally:
                await chunks.aclose()
            usage = tally.usage or estimated_usage(call, tally.completion_estimate())
            used = Used.from_usage(usage)
            answer.usage = used
            # Written first: a runner that stops before its next write leaves this call's charge to
            # the ledger, by its entry id, and the call is made again (charged once) by the next.
            await call.settle(
                used,
                upstream_credits=upstream_credits(tally.usage_chunk),
                note=f"assistant run {self.row.id} call {n}",
                entry_id=f"run:{self.row.id}:{n}",
            )
        finally:
            await call.release()
        self.state["calls"] = n + 1
        self.state["usage"] = [
            self.state["usage"][0] + used.prompt_tokens,
            self.state["usage"][1] + used.completion_tokens,
        ]
        if stopped is not None:  # charged above for what it used; the run ends cancelled
            raise stopped
        return answer

    async def _relay(self, chunks: Any, tally: StreamTally, answer: Answer) -> None:
        async for item in chunks:
            for chunk in item if isinstance(item, list) else (item,):
                tally.observe(chunk)
                for choice in chunk.get("choices") or ():
                    delta = choice.get("delta") or {}
                    if delta.get("content"):
                        await self._text(delta["content"], answer)
                    for part in delta.get("tool_calls") or ():
                        answer.add_tool_delta(part)
                    if choice.get("finish_reason"):
                        answer.finish = choice["finish_reason"]
            if self.stop.is_set():
                return

    async def _text(self, piece: str, answer: Answer) -> None:
        opened = self.state["open"]
        if "message" not in opened:
            message = objects.assistant_message(self.run)
            step = objects.step(
                self.run, "message_creation", {"message_creation": {"message_id": message["id"]}}
            )
            opened.update(message=message, step=step)
            await self._save(step, message)
            self.emit("thread.run.step.created", step)
            self.emit("thread.run.step.in_progress", step)
            self.emit("thread.message.created", message)
            self.emit("thread.message.in_progress", message)
        answer.text += piece
        self.partial = answer.text
        self.emit("thread.message.delta", events.message_delta(opened["message"]["id"], piece))

    # -- endings ----------------------------------------------------------------------------------
    async def _finish_text(self, answer: Answer, hits: list[Any], reason: str | None) -> None:
        opened = self.state["open"]
        text, annotations = context.cite(answer.text, hits)
        if "message" not in opened:
            await self._text(text, answer)  # an empty answer still leaves its message
        elif text != answer.text or annotations:
            extra = text[len(answer.text) :]
            self.emit(
                "thread.message.delta",
                events.message_delta(opened["message"]["id"], extra, annotations),
            )
        message, step = opened["message"], opened["step"]
        message["content"] = [objects.text_part(text, annotations)]
        if reason is None:
            message.update(status="completed", completed_at=stamp())
        else:
            message.update(
                status="incomplete", incomplete_at=stamp(), incomplete_details={"reason": "max_tokens"}
            )
        step.update(status="completed", completed_at=stamp(), usage=answer.step_usage())
        self.state["open"] = {}
        await self._end("incomplete" if reason else "completed", reason=reason, done=[message, step])

    async def _require_action(self, answer: Answer) -> None:
        opened = self.state["open"]
        done = []
        if "message" in opened:  # text before the tool calls: a message of its own, complete
            message, text_step = opened["message"], opened["step"]
            message.update(status="completed", completed_at=stamp(), content=[objects.text_part(answer.text)])
            text_step.update(status="completed", completed_at=stamp(), usage=objects.usage(0, 0))
            done = [message, text_step]
        calls = answer.calls()
        step = objects.step(
            self.run,
            "tool_calls",
            {"tool_calls": [{**c, "function": {**c["function"], "output": None}} for c in calls]},
        )
        step["usage"] = answer.step_usage()
        self.state["open"] = {"step": step}
        self.state["history"].append(
            {"role": "assistant", "content": answer.text or None, "tool_calls": calls}
        )
        expires = stamp() + objects.EXPIRES_S
        self.run.update(
            status="requires_action",
            expires_at=expires,
            required_action={"type": "submit_tool_outputs", "submit_tool_outputs": {"tool_calls": calls}},
        )
        await self._save(*done, step, release=True, expires_at=expires)
        for obj in done:
            self.emit(f"{events.prefix(obj)}.completed", obj)
        self.emit("thread.run.step.created", step)
        self.emit("thread.run.step.in_progress", step)
        self.emit(
            "thread.run.step.delta",
            events.step_delta(
                step["id"],
                [
                    {"index": i, **c, "function": {**c["function"], "output": None}}
                    for i, c in enumerate(calls)
                ],
            ),
        )
        self.emit("thread.run.requires_action", self.run)

    async def _fail_with(self, err: ApiError, *done: dict) -> None:
        await self._fail(events.last_error(err)["code"], err.message, *done)

    async def _fail(self, code: str, message: str, *done: dict) -> None:
        self.run["last_error"] = {"code": code, "message": message}
        await self._end("failed", done=list(done))

    async def _end(self, status: str, *, reason: str | None = None, done: list[dict] | None = None) -> None:
        """End the run with `status`; objects still open end with it (a message incomplete, a
        step cancelled, failed or expired)."""
        finished = list(done or [])
        now = stamp()
        for obj in self.state["open"].values():
            if obj["object"] == "thread.message":
                obj.update(
                    status="incomplete", incomplete_at=now, incomplete_details={"reason": f"run_{status}"}
                )
                if self.partial:
                    obj["content"] = [objects.text_part(self.partial)]
            else:
                step_status = {"cancelled": "cancelled", "expired": "expired"}.get(status, "failed")
                obj.update(status=step_status, **{events.ENDED_AT[step_status]: now})
                if step_status == "failed":
                    obj["last_error"] = events.step_error(self.run.get("last_error"))
            finished.append(obj)
        self.state["open"] = {}
        stamp_field = {"cancelled": "cancelled_at", "failed": "failed_at", "completed": "completed_at"}.get(
            status
        )
        self.run.update(status=status, required_action=None, usage=objects.usage(*self.state["usage"]))
        if stamp_field:
            self.run[stamp_field] = now
        if reason:
            self.run["incomplete_details"] = {"reason": reason}
        self.state["history"] = []
        await self._save(*finished, release=True)
        for obj in finished:
            self.emit(f"{events.prefix(obj)}.{events.ended(obj)}", obj)
        self.emit(f"thread.run.{status}", self.run)

    async def _save(self, *changed: dict, release: bool = False, expires_at: int | None = None) -> None:
        rows = [objects.stored(obj, self.account_id) for obj in changed]
        written = await asyncio.to_thread(
            self.gw.db.write_run,
            self.row.id,
            self.owner,
            body=self.run,
            state=self.state,
            objects=rows,
            release=release,
            next_run_at=events.when(expires_at) if expires_at else None,
        )
        if not written:
            raise Interrupted(self.row.id)
