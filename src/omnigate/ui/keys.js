// Keys: an admin lists, creates, names, limits and disables keys (the service's /v1/keys);
// a user key sees itself (/v1/key), since managing keys needs an admin key.

import { accounts, call, session } from "./api.js";
import { arrayPager, el, notice, table, usd, when } from "./util.js";

const RETENTIONS = ["month", "week", "day", "no_reset"];

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
  const names = (await accounts()).map((a) => a.name);
  const list = el("div");
  page.append(createForm(names, show), el("h2", {}, "All keys"), list);

  async function show(created) {
    const keys = (await call("/v1/keys")).data;
    // Newest first: the key just made is on the first page.
    keys.sort((a, b) => (a.created_at < b.created_at ? 1 : -1));
    list.replaceChildren(created ? createdNotice(created) : "", arrayPager(keys, 25, (rows) => keyTable(rows, show)));
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
  return parts.join(", ") || "none";
}

function keyTable(keys, changed) {
  const columns = [
    { label: "Name", value: (k) => k.name || el("span", { class: "muted" }, "(unnamed)") },
    { label: "Prefix", value: (k) => k.prefix },
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
  if (changed) columns.push({ label: "", value: (k) => actions(k, changed) });
  return table(columns, keys, { id: "keys" });
}

function actions(key, changed) {
  const patch = async (body) => {
    try {
      await call(`/v1/keys/${encodeURIComponent(key.prefix)}`, { method: "PATCH", body });
      await changed();
    } catch (err) {
      alert(err.message);
    }
  };
  const rename = () => {
    const name = prompt("New name", key.name);
    if (name !== null) patch({ name });
  };
  const limit = () => {
    const text = prompt("Budget in USD (empty: no budget)", key.limit ? key.limit.threshold : "");
    if (text === null) return;
    if (text.trim() === "") return patch({ limit: null });
    const retention = prompt(`Reset every (${RETENTIONS.join(", ")})`, key.limit?.retention || "month");
    if (retention !== null) patch({ limit: { threshold: Number(text), retention } });
  };
  return el(
    "span",
    { class: "row" },
    el("button", { class: "secondary", onclick: rename }, "Rename"),
    el("button", { class: "secondary", onclick: limit }, "Budget"),
    el("button", { class: "secondary", onclick: () => patch({ disabled: !key.disabled }) }, key.disabled ? "Enable" : "Disable"),
  );
}

function createForm(accountNames, created) {
  const name = el("input", { name: "name", placeholder: "e.g. laptop" });
  const account = el(
    "select",
    { name: "account" },
    accountNames.map((a) => el("option", { value: a, selected: a === session.me.account }, a)),
  );
  const budget = el("input", { name: "budget", type: "number", min: "0", step: "0.01", placeholder: "none" });
  const retention = el("select", { name: "retention" }, RETENTIONS.map((r) => el("option", { value: r }, r.replace("_", " "))));
  const rpm = el("input", { name: "rpm", type: "number", min: "1", placeholder: "none" });
  const tpm = el("input", { name: "tpm", type: "number", min: "1", placeholder: "none" });
  const concurrency = el("input", { name: "concurrency", type: "number", min: "1", placeholder: "none" });
  const status = el("div");
  const number = (input) => (input.value === "" ? null : Number(input.value));
  const form = el(
    "form",
    { class: "card", id: "create-key" },
    el("h2", {}, "Create a key"),
    el(
      "div",
      { class: "row" },
      el("label", {}, "Name", name),
      el("label", {}, "Account", account),
      el("label", {}, "Budget (USD)", budget),
      el("label", {}, "Budget resets", retention),
      el("label", {}, "Requests/min", rpm),
      el("label", {}, "Tokens/min", tpm),
      el("label", {}, "Concurrent", concurrency),
      el("button", { type: "submit" }, "Create key"),
    ),
    status,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {
      name: name.value,
      account: account.value || undefined,
      rate_limits: { rpm: number(rpm), tpm: number(tpm), concurrency: number(concurrency) },
    };
    if (budget.value !== "") body.limit = { threshold: Number(budget.value), retention: retention.value };
    try {
      const key = (await call("/v1/keys", { method: "POST", body })).data;
      status.replaceChildren();
      form.reset();
      await created(key);
    } catch (err) {
      status.replaceChildren(notice(err.message, "error"));
    }
  });
  return form;
}
