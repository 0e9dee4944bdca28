// Keys: an admin lists, creates and edits keys (name, budget, rate limits, scopes) and disables
// them, through the service's /v1/keys; a user key sees itself (/v1/key), since managing keys
// needs an admin key.

import { accounts, call, session } from "./api.js";
import { arrayPager, el, notice, table, usd, when } from "./util.js";

const RETENTIONS = ["month", "week", "day", "no_reset"];
const RATES = { rpm: "Requests/min", tpm: "Tokens/min", concurrency: "Concurrent" };

// The scopes a key may be limited to, as /openapi.json lists them (http/scopes.py).
async function scopeNames() {
  const doc = await (await fetch("/openapi.json")).json();
  return doc.components.schemas.ServiceKey?.properties?.data?.properties?.scopes?.items?.enum || [];
}

export async function keysPage(page) {
  page.append(el("h1", {}, "Keys"));
  if (!session.me.admin) {
    const me = (await call("/v1/key")).data;
    page.append(
      notice("Creating and changing keys needs an admin key; this is the key you logged in with."),
      keyTable([me], null),
    );
    return;
  }
  const [names, scopes] = await Promise.all([accounts().then((all) => all.map((a) => a.name)), scopeNames()]);
  const editor = el("div", { id: "key-editor" });
  const list = el("div");
  page.append(keyForm({ names, scopes, done: show }), editor, el("h2", {}, "All keys"), list);

  function edit(key) {
    editor.replaceChildren(keyForm({ key, scopes, done: (changed) => (editor.replaceChildren(), show(changed)) }));
    editor.scrollIntoView({ block: "nearest" });
  }

  async function show(created) {
    const keys = (await call("/v1/keys")).data;
    // Newest first: the key just made is on the first page.
    keys.sort((a, b) => (a.created_at < b.created_at ? 1 : -1));
    list.replaceChildren(created?.key ? createdNotice(created) : "", arrayPager(keys, 25, (rows) => keyTable(rows, show, edit)));
  }
  await show();
}

function createdNotice(key) {
  return el(
    "div",
    { class: "notice", id: "created-key" },
    `Key “${key.name || key.prefix}” created. Copy it now, it is not shown again: `,
    el("span", { class: "key-secret" }, key.key),
  );
}

function limitText(key) {
  const parts = [];
  if (key.limit) parts.push(`budget ${usd(key.limit.threshold * 2_000_000)} / ${key.limit.retention.replace("_", " ")}`);
  for (const [name, value] of Object.entries(key.rate_limits || {})) if (value) parts.push(`${value} ${name}`);
  if (key.scopes?.length) parts.push(`only ${key.scopes.join(", ")}`);
  return parts.join(", ") || "none";
}

function keyTable(keys, changed, edit) {
  const columns = [
    { label: "Name", value: (k) => k.name || el("span", { class: "muted" }, "(unnamed)") },
    { label: "Prefix", nowrap: true, value: (k) => k.prefix },
    { label: "Account", value: (k) => k.account || "" },
    {
      label: "State",
      value: (k) =>
        el("span", {}, k.admin ? el("span", { class: "badge" }, "admin") : "", k.disabled
          ? el("span", { class: "badge bad" }, "disabled")
          : el("span", { class: "badge good" }, "active")),
    },
    { label: "Limits", value: limitText },
    { label: "Spent this month", num: true, value: (k) => `$${Number(k.monthly_usage).toFixed(6)}` },
    { label: "Created", value: (k) => when(k.created_at) },
  ];
  if (changed) columns.push({ label: "", nowrap: true, value: (k) => actions(k, changed, edit) });
  return table(columns, keys, { id: "keys" });
}

function actions(key, changed, edit) {
  const toggle = async () => {
    try {
      await call(`/v1/keys/${encodeURIComponent(key.prefix)}`, { method: "PATCH", body: { disabled: !key.disabled } });
      await changed();
    } catch (err) {
      alert(err.message);
    }
  };
  return el(
    "span",
    { class: "actions" },
    el("button", { class: "secondary", onclick: () => edit(key) }, "Edit"),
    el("button", { class: "secondary", onclick: toggle }, key.disabled ? "Enable" : "Disable"),
  );
}

// Creates a key (no `key`) or edits one; an empty field means "no limit".
function keyForm({ key = null, names = [], scopes, done }) {
  const name = el("input", { name: "name", placeholder: "e.g. laptop", value: key?.name ?? "" });
  const account = key
    ? null
    : el("select", { name: "account" }, names.map((a) => el("option", { value: a, selected: a === session.me.account }, a)));
  const budget = el("input", { name: "budget", type: "number", min: "0", step: "0.01", placeholder: "none", value: key?.limit?.threshold ?? "" });
  const retention = el(
    "select",
    { name: "retention" },
    RETENTIONS.map((r) => el("option", { value: r, selected: r === (key?.limit?.retention ?? "month") }, r.replace("_", " "))),
  );
  const rates = Object.fromEntries(
    Object.keys(RATES).map((r) => [r, el("input", { name: r, type: "number", min: "1", placeholder: "none", value: key?.rate_limits?.[r] ?? "" })]),
  );
  const boxes = scopes.map((s) => el("input", { type: "checkbox", name: "scope", value: s, checked: Boolean(key?.scopes?.includes(s)) }));
  const status = el("div");
  const number = (input) => (input.value === "" ? null : Number(input.value));
  const form = el(
    "form",
    { class: "card", id: key ? "edit-key" : "create-key" },
    el("h2", {}, key ? `Edit key ${key.name || key.prefix}` : "Create a key"),
    el(
      "div",
      { class: "row" },
      el("label", {}, "Name", name),
      account ? el("label", {}, "Account", account) : "",
      el("label", {}, "Budget (USD)", budget),
      el("label", {}, "Budget resets", retention),
      Object.entries(RATES).map(([r, label]) => el("label", {}, label, rates[r])),
    ),
    el(
      "p",
      { class: "row" },
      el("span", { class: "muted" }, "Only these models (none ticked: all):"),
      boxes.map((box) => el("label", { class: "inline" }, box, box.value)),
    ),
    el("div", { class: "row" }, el("button", { type: "submit" }, key ? "Save" : "Create key"), key ? el("button", { type: "button", class: "secondary", onclick: () => done() }, "Cancel") : ""),
    status,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {
      name: name.value,
      limit: budget.value === "" ? null : { threshold: Number(budget.value), retention: retention.value },
      rate_limits: Object.fromEntries(Object.entries(rates).map(([r, input]) => [r, number(input)])),
      scopes: boxes.filter((box) => box.checked).map((box) => box.value),
    };
    try {
      let answer;
      if (key) {
        answer = await call(`/v1/keys/${encodeURIComponent(key.prefix)}`, { method: "PATCH", body });
      } else {
        answer = await call("/v1/keys", { method: "POST", body: { ...body, account: account.value || undefined } });
        form.reset();
      }
      status.replaceChildren();
      await done(answer.data);
    } catch (err) {
      status.replaceChildren(notice(err.message, "error"));
    }
  });
  return form;
}
