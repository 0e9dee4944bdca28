// Balance: the balance and its low-balance state, the ledger a page at a time; admins top up.

import { accounts, call, session } from "./api.js";
import { CREDITS_PER_USD, count, cursorPager, el, notice, table, usd, when } from "./util.js";

export async function balancePage(page) {
  page.append(el("h1", {}, "Balance"));
  const all = await accounts();
  let account = session.me.account;
  const body = el("div");
  if (all.length) {
    const select = el(
      "select",
      { name: "account", onchange: () => ((account = select.value), show()) },
      all.map((a) => el("option", { value: a.name, selected: a.name === account }, a.name)),
    );
    page.append(el("div", { class: "row card" }, el("label", {}, "Account", select)));
  }
  page.append(body);

  async function show() {
    const billing = await call("/v2/billing", { query: { account } });
    const summary = el(
      "div",
      { class: "card" },
      el("div", { class: "muted" }, `Account ${billing.account}`),
      el("div", { class: "big", id: "balance-amount" }, usd(billing.credits)),
      el("div", { class: "muted" }, `${count(billing.credits)} credits (1 USD = ${count(CREDITS_PER_USD)} credits)`),
      billing.low_balance
        ? notice("Low balance: this account is below its low-balance threshold. Top up to keep going.", "warn")
        : el("span", { class: "badge good" }, "balance is current"),
    );
    const parts = [summary];
    if (session.me.admin) parts.push(topUpForm(account, show));
    parts.push(el("h2", {}, "Ledger"), ledger(account));
    body.replaceChildren(...parts);
  }
  await show();
}

function ledger(account) {
  const columns = [
    { label: "When", value: (r) => when(r.created_at) },
    { label: "Kind", value: (r) => el("span", { class: `badge ${r.credits < 0 ? "bad" : "good"}` }, r.kind) },
    { label: "Credits", num: true, value: (r) => count(r.credits) },
    { label: "USD", num: true, value: (r) => usd(r.credits) },
    { label: "Model", value: (r) => r.model || "" },
    { label: "Key", value: (r) => r.key_prefix || "" },
    { label: "Tokens in/out", num: true, value: (r) => (r.model ? `${count(r.prompt_tokens)} / ${count(r.completion_tokens)}` : "") },
    { label: "Note", value: (r) => r.note || "" },
  ];
  return cursorPager(
    (cursor) => call("/v2/billing/transactions", { query: { account, cursor, limit: 25 } }),
    (rows) => (rows.length ? table(columns, rows, { id: "ledger" }) : el("p", { class: "muted" }, "No entries yet.")),
  );
}

function topUpForm(account, done) {
  const amount = el("input", { type: "number", name: "usd", min: "0.01", step: "0.01", value: "10", required: true });
  const note = el("input", { type: "text", name: "note", placeholder: "optional" });
  const status = el("span");
  // One id per top-up the form makes: a double click or a retry is counted once by the gateway.
  const newId = () => `ui-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
  let idempotencyKey = newId();
  const form = el(
    "form",
    { class: "card row" },
    el("label", {}, "Top up (USD)", amount),
    el("label", {}, "Note", note),
    el("button", { type: "submit", id: "topup" }, "Top up"),
    status,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await call(`/v1/admin/accounts/${encodeURIComponent(account)}/topup`, {
        method: "POST",
        body: { credits: Math.round(Number(amount.value) * CREDITS_PER_USD), note: note.value || undefined },
        headers: { "Idempotency-Key": idempotencyKey },
      });
      idempotencyKey = newId();
      await done();
    } catch (err) {
      status.replaceChildren(notice(err.message, "error"));
    }
  });
  return form;
}
