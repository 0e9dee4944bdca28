// Playground: chat with a served model, the answer streamed in as it comes (fetch + server-sent
// events from /v1/chat/completions), with controls built from the model's rules; image, speech
// and transcription tabs when this gateway serves those families.

import { call } from "./api.js";
import { controls } from "./rules.js";
import { eventData } from "./sse.js";
import { count, el, notice, usd } from "./util.js";

// The models each family serves here, from /openapi.json's model enums (the routed ids).
async function served() {
  const doc = await (await fetch("/openapi.json")).json();
  const ids = (name) => doc.components.schemas[name]?.enum || [];
  return { chat: ids("ChatModel"), image: ids("ImageModel"), speech: ids("TtsModel"), stt: ids("SttModel") };
}

function modelPath(id) {
  return `/model/${id.split("/").map(encodeURIComponent).join("/")}`;
}

export async function playgroundPage(page) {
  page.append(el("h1", {}, "Playground"));
  const families = await served();
  const tabs = { Chat: () => chatTab(families.chat) };
  if (families.image.length) tabs.Image = () => imageTab(families.image);
  if (families.speech.length) tabs.Speech = () => speechTab(families.speech);
  if (families.stt.length) tabs.Transcription = () => transcriptionTab(families.stt);
  const body = el("div");
  const bar = el("div", { class: "tabs" });
  const select = (name) => {
    for (const b of bar.children) b.classList.toggle("active", b.textContent === name);
    body.replaceChildren(tabs[name]());
  };
  for (const name of Object.keys(tabs)) bar.append(el("button", { type: "button", onclick: () => select(name) }, name));
  page.append(Object.keys(tabs).length > 1 ? bar : "", body);
  select("Chat");
}

function modelSelect(ids, preferred) {
  const first = ids.find((id) => id.startsWith("local/")) || ids[0];
  return el("select", { name: "model" }, ids.map((id) => el("option", { value: id, selected: id === (preferred || first) }, id)));
}

function chatTab(ids) {
  if (!ids.length) return notice("No chat model is routed on this gateway.", "warn");
  const model = modelSelect(ids);
  const system = el("input", { name: "system", placeholder: "optional system message", size: 40 });
  const params = el("div", { class: "params" });
  const chat = el("div", { class: "chat", id: "chat" });
  const prompt = el("textarea", { name: "prompt", placeholder: "Say something… (Ctrl+Enter sends)" });
  const send = el("button", { type: "submit", id: "send" }, "Send");
  const stop = el("button", { type: "button", class: "secondary", disabled: true }, "Stop");
  const info = el("div", { class: "muted", id: "chat-usage" });
  const history = [];
  let inputs = [];
  let running = null;

  async function loadRules() {
    inputs = [];
    params.replaceChildren(el("span", { class: "muted" }, "loading the model's rules…"));
    try {
      const detail = (await call(modelPath(model.value))).data;
      inputs = controls(detail.parameters);
      params.replaceChildren(...inputs.map((c) => el("label", {}, c.name, c.input)));
      if (!inputs.length) params.replaceChildren(el("span", { class: "muted" }, "This model has no parameter rules."));
      info.textContent = detail.routed ? "" : "This model is not routed here.";
    } catch (err) {
      params.replaceChildren(notice(err.message, "error"));
    }
  }
  model.addEventListener("change", () => {
    history.length = 0;
    chat.replaceChildren();
    loadRules();
  });
  stop.addEventListener("click", () => running?.abort());

  const form = el(
    "form",
    { class: "card" },
    el("div", { class: "row" }, el("label", {}, "Model", model), el("label", {}, "System", system)),
    el("h2", {}, "Parameters"),
    params,
    el("h2", {}, "Chat"),
    chat,
    el("p", {}, prompt),
    el("div", { class: "row" }, send, stop, info),
  );
  // Ctrl+Enter (⌘+Enter) sends; Enter alone is a new line.
  prompt.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) form.requestSubmit();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = prompt.value.trim();
    if (!text || running) return;
    prompt.value = "";
    history.push({ role: "user", content: text });
    chat.append(el("div", { class: "msg user" }, text));
    const answer = el("div", { class: "msg assistant", "aria-live": "polite" });
    chat.append(answer);
    const body = {
      model: model.value,
      messages: [...(system.value ? [{ role: "system", content: system.value }] : []), ...history],
      stream: true,
      stream_options: { include_usage: true },
    };
    for (const c of inputs) {
      const value = c.read();
      if (value !== undefined) body[c.name] = value;
    }
    running = new AbortController();
    send.disabled = true;
    stop.disabled = false;
    info.textContent = "streaming…";
    let usage = null;
    let credits = null;
    try {
      const response = await call("/v1/chat/completions", { method: "POST", body, raw: true, signal: running.signal });
      for await (const data of eventData(response)) {
        if (data === "[DONE]") break;
        const chunk = JSON.parse(data);
        if (chunk.error) throw new Error(chunk.error.message || "the stream failed");
        const delta = chunk.choices?.[0]?.delta?.content;
        if (delta) answer.textContent += delta;
        if (chunk.usage) usage = chunk.usage;
        if (chunk.meta?.usage?.tokens_used !== undefined) credits = chunk.meta.usage.tokens_used;
      }
      history.push({ role: "assistant", content: answer.textContent });
      info.textContent = usage
        ? `${count(usage.prompt_tokens)} tokens in, ${count(usage.completion_tokens)} out` + (credits !== null ? ` · ${usd(credits)}` : "")
        : "done";
      info.dataset.done = "true";
    } catch (err) {
      answer.classList.add("error");
      info.textContent = err.name === "AbortError" ? "stopped" : err.message;
      history.pop();
    } finally {
      running = null;
      send.disabled = false;
      stop.disabled = true;
    }
  });
  loadRules();
  return form;
}

// A media tab: a model, the controls its rules allow, one input (text or a file) and the answer.
function mediaTab(ids, { input, button, run, rules = true }) {
  const model = modelSelect(ids);
  const params = el("div", { class: "params" });
  const out = el("div", { class: "media-out" });
  let inputs = [];
  async function loadRules() {
    if (!rules) return;
    try {
      inputs = controls((await call(modelPath(model.value))).data.parameters);
      params.replaceChildren(...inputs.map((c) => el("label", {}, c.name, c.input)));
    } catch (err) {
      params.replaceChildren(notice(err.message, "error"));
    }
  }
  model.addEventListener("change", loadRules);
  const form = el(
    "form",
    { class: "card" },
    el("div", { class: "row" }, el("label", {}, "Model", model), input, el("button", { type: "submit" }, button)),
    rules ? el("h2", {}, "Parameters") : "",
    params,
    out,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const extra = {};
    for (const c of inputs) {
      const value = c.read();
      if (value !== undefined) extra[c.name] = value;
    }
    out.replaceChildren(el("span", { class: "muted" }, "working…"));
    try {
      out.replaceChildren(await run(model.value, extra));
    } catch (err) {
      out.replaceChildren(notice(err.message, "error"));
    }
  });
  loadRules();
  return form;
}

function imageTab(ids) {
  const prompt = el("input", { name: "prompt", size: 50, value: "A lighthouse at dusk" });
  return mediaTab(ids, {
    input: el("label", {}, "Prompt", prompt),
    button: "Generate",
    run: async (model, extra) => {
      const answer = await call("/v1/images/generations", { method: "POST", body: { ...extra, model, prompt: prompt.value } });
      const image = answer.data?.[0] || {};
      const src = image.url || (image.b64_json ? `data:image/png;base64,${image.b64_json}` : null);
      return src ? el("img", { src, alt: prompt.value, class: "generated" }) : notice("No image came back.", "warn");
    },
  });
}

function speechTab(ids) {
  const text = el("input", { name: "input", size: 50, value: "Hello from Omnigate." });
  return mediaTab(ids, {
    input: el("label", {}, "Text", text),
    button: "Speak",
    run: async (model, extra) => {
      const response = await call("/v1/audio/speech", { method: "POST", body: { ...extra, model, input: text.value }, raw: true });
      return el("audio", { controls: true, src: URL.createObjectURL(await response.blob()), class: "generated" });
    },
  });
}

function transcriptionTab(ids) {
  const file = el("input", { name: "file", type: "file", accept: "audio/*,video/*", required: true });
  return mediaTab(ids, {
    input: el("label", {}, "Audio file", file),
    button: "Transcribe",
    // Only the model and the file: the rules' many switches stay at their defaults here.
    rules: false,
    run: async (model) => {
      const form = new FormData();
      form.append("model", model);
      form.append("file", file.files[0]);
      const answer = await call("/v1/audio/transcriptions", { method: "POST", form });
      return el("p", { class: "transcript" }, answer.text ?? JSON.stringify(answer));
    },
  });
}
