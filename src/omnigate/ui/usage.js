// Usage: requests, tokens and credits by day, model and key as charts (/v2/usage and
// /v2/usage/detail), the request log a page at a time (/v2/logs), and a CSV export.

import { ApiError, accounts, call, session } from "./api.js";
import { barChart, columnChart } from "./chart.js";
import { count, cursorPager, downloadCsv, el, notice, table, usd, when } from "./util.js";

const TZ = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
const RANGES = { "24h": "Last 24 hours", "7d": "Last 7 days", "30d": "Last 30 days", "90d": "Last 90 days" };
const METRICS = {
  credits: { label: "Credits (USD)", value: (r) => r.credits, format: usd },
  requests: { label: "Requests", value: (r) => r.requests, format: count },
  tokens: { label: "Tokens", value: (r) => r.prompt_tokens + r.completion_tokens, format: count },
};
const CSV_COLUMNS = ["day", "model", "key_prefix", "requests", "failed", "prompt_tokens", "completion_tokens", "credits", "usd_spent"];

function isoDay(date) {
  return date.toLocaleDateString("en-CA", { timeZone: TZ }); // YYYY-MM-DD in the browser's zone
}

// The query of a range: the service's periods, or whole days up to today.
function rangeQuery(range) {
  if (range === "24h" || range === "7d") return { period: range, tz: TZ };
  const days = range === "30d" ? 30 : 90;
  const start = new Date(Date.now() - (days - 1) * 86_400_000);
  return { start: isoDay(start), end: isoDay(new Date()), tz: TZ };
}

// Every day of the range, zeros included, so quiet days show as gaps.
function allDays(query, rows) {
  const byDay = new Map(rows.map((r) => [r.day, r]));
  const periodMs = { "24h": 86_400_000, "7d": 7 * 86_400_000 }[query.period];
  const first = query.start || isoDay(new Date(Date.now() - periodMs));
  const last = query.end || isoDay(new Date());
  const days = [];
  // Calendar arithmetic on the date strings themselves: no time zone can shift them.
  for (let t = Date.parse(`${first}T00:00:00Z`); t <= Date.parse(`${last}T00:00:00Z`); t += 86_400_000) {
    days.push(new Date(t).toISOString().slice(0, 10));
  }
  const zero = { requests: 0, failed: 0, prompt_tokens: 0, completion_tokens: 0, credits: 0 };
  return days.map((day) => byDay.get(day) || { day, ...zero });
}

export async function usagePage(page) {
  page.append(el("h1", {}, "Usage"));
  const all = await accounts();
  const state = { range: "7d", metric: "credits", account: session.me.account, key: "" };
  const select = (name, options, onchange) =>
    el(
      "select",
      { name, onchange: (e) => ((state[name] = e.target.value), onchange()) },
      Object.entries(options).map(([value, label]) => el("option", { value, selected: state[name] === value }, label)),
    );
  const keyInput = el("input", { name: "key", placeholder: "all keys", size: 10 });
  keyInput.addEventListener("change", () => ((state.key = keyInput.value.trim()), show()));
  const controls = el(
    "div",
    { class: "card row" },
    el("label", {}, "Range", select("range", RANGES, show)),
    el("label", {}, "Show", select("metric", Object.fromEntries(Object.entries(METRICS).map(([k, m]) => [k, m.label])), show)),
    all.length ? el("label", {}, "Account", select("account", Object.fromEntries(all.map((a) => [a.name, a.name])), show)) : null,
    el("label", {}, "Key prefix", keyInput),
    el("button", { class: "secondary", id: "refresh", onclick: () => show() }, "Refresh"),
    el("button", { class: "secondary", id: "csv", onclick: () => exportCsv(state) }, "Export CSV"),
  );
  const body = el("div");
  page.append(controls, body);

  async function show() {
    const query = { ...rangeQuery(state.range), account: state.account, key_prefix: state.key };
    let byDay, byModel, byKey;
    try {
      [byDay, byModel, byKey] = await Promise.all([
        call("/v2/usage", { query: { ...query, group_by: "day" } }),
        call("/v2/usage", { query: { ...query, group_by: "model" } }),
        call("/v2/usage/detail", { query }),
      ]);
    } catch (err) {
      // A gateway without the usage routes answers "no route" (an unknown account is a 404 too).
      const missing = err instanceof ApiError && err.status === 404 && err.message.startsWith("Not found: no route");
      body.replaceChildren(notice(missing ? "The usage API is not available on this gateway." : err.message, "error"));
      return;
    }
    const metric = METRICS[state.metric];
    const totals = byDay.totals;
    body.replaceChildren(
      el(
        "div",
        { class: "card row", id: "usage-totals" },
        el("div", {}, el("div", { class: "muted" }, "Requests"), el("div", { class: "big" }, count(totals.requests))),
        el("div", {}, el("div", { class: "muted" }, "Failed"), el("div", { class: "big" }, count(totals.failed))),
        el("div", {}, el("div", { class: "muted" }, "Tokens in / out"), el("div", { class: "big" }, `${count(totals.prompt_tokens)} / ${count(totals.completion_tokens)}`)),
        el("div", {}, el("div", { class: "muted" }, "Spent"), el("div", { class: "big", id: "usage-spent" }, usd(totals.credits))),
      ),
      el(
        "div",
        { class: "charts" },
        el("div", { class: "card chart wide", id: "chart-day" }, columnChart(`${metric.label} by day`, allDays(query, byDay.data).map((r) => ({ label: r.day.slice(5), value: metric.value(r) })), metric.format)),
        el("div", { class: "card chart", id: "chart-model" }, barChart(`${metric.label} by model`, byModel.data.map((r) => ({ label: r.model, value: metric.value(r) })), metric.format)),
        el("div", { class: "card chart", id: "chart-key" }, barChart(`${metric.label} by key`, byKey.data.map((r) => ({ label: r.key_prefix, value: metric.value(r) })), metric.format)),
      ),
      el("h2", {}, "Requests"),
      requestLog(query),
    );
  }
  await show();
}

function requestLog(query) {
  const columns = [
    { label: "When", value: (r) => when(r.created_at) },
    { label: "Route", value: (r) => `${r.method} ${r.route}` },
    { label: "Model", value: (r) => r.model || "" },
    { label: "Key", value: (r) => r.key_prefix },
    { label: "Status", value: (r) => el("span", { class: `badge ${r.status < 400 ? "good" : "bad"}` }, r.status) },
    { label: "Tokens in/out", num: true, value: (r) => `${count(r.prompt_tokens)} / ${count(r.completion_tokens)}` },
    { label: "Cost", num: true, value: (r) => usd(r.credits) },
    { label: "ms", num: true, value: (r) => Math.round(r.duration_ms) },
  ];
  return cursorPager(
    (cursor) => call("/v2/logs", { query: { ...query, cursor, limit: 25 } }),
    (rows) => (rows.length ? table(columns, rows, { id: "request-log" }) : el("p", { class: "muted" }, "No requests in this range.")),
  );
}

async function exportCsv(state) {
  const query = { ...rangeQuery(state.range), account: state.account, key_prefix: state.key, group_by: "day,model" };
  try {
    const answer = await call("/v2/usage/detail", { query });
    downloadCsv(`usage-${answer.account}-${state.range}.csv`, CSV_COLUMNS, answer.data);
  } catch (err) {
    alert(err.message);
  }
}
