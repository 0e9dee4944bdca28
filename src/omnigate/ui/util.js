// Small DOM and formatting helpers shared by the pages.

export const CREDITS_PER_USD = 2_000_000;

// el("tag", {class, onclick, ...}, ...children): attributes starting with "on" become listeners.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "class") node.className = value;
    else if (name === "value" || name === "checked") node[name] = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export function usd(credits) {
  const value = credits / CREDITS_PER_USD;
  // Small charges would round to $0.00: show them to the credit.
  const digits = value !== 0 && Math.abs(value) < 1 ? 6 : 2;
  return (value < 0 ? "-$" : "$") + Math.abs(value).toFixed(digits);
}

export function count(n) {
  return Number(n || 0).toLocaleString("en-US");
}

export function when(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "medium" });
}

export function notice(text, kind = "info") {
  return el("div", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
}

// columns: [{label, value: row => text or node, num: right-aligned, nowrap}]
export function table(columns, rows, attrs = {}) {
  return el(
    "table",
    attrs,
    el("thead", {}, el("tr", {}, columns.map((c) => el("th", { class: c.num ? "num" : null }, c.label)))),
    el(
      "tbody",
      {},
      rows.map((row) =>
        el("tr", {}, columns.map((c) => el("td", { class: [c.num && "num", c.nowrap && "nowrap"].filter(Boolean).join(" ") || null }, c.value(row)))),
      ),
    ),
  );
}

// A page of a list the server pages with a cursor: fetchPage(cursor) answers
// {data, pagination: {next_cursor, has_more}}; render(rows) makes the node shown.
export function cursorPager(fetchPage, render, onError) {
  const box = el("div", { class: "paged" });
  const cursors = [null]; // the cursor of each page seen, for "Newer"
  let page = 0;
  async function show() {
    let answer;
    try {
      answer = await fetchPage(cursors[page]);
    } catch (err) {
      box.replaceChildren(onError ? onError(err) : notice(err.message, "error"));
      return;
    }
    const next = answer.pagination?.has_more ? answer.pagination.next_cursor : null;
    cursors[page + 1] = next;
    const newer = el("button", { class: "secondary", disabled: page === 0, onclick: () => go(-1) }, "← Newer");
    const older = el("button", { class: "secondary", disabled: !next, onclick: () => go(1) }, "Older →");
    box.replaceChildren(
      render(answer.data),
      el("div", { class: "pager" }, newer, el("span", { class: "muted" }, `page ${page + 1}`), older),
    );
  }
  function go(step) {
    page += step;
    show();
  }
  show();
  return box;
}

// A page at a time of a list already in the browser (keys, models): never the whole list in the DOM.
export function arrayPager(items, size, render) {
  const box = el("div", { class: "paged" });
  let page = 0;
  const pages = Math.max(1, Math.ceil(items.length / size));
  function show() {
    const rows = items.slice(page * size, (page + 1) * size);
    box.replaceChildren(
      render(rows),
      el(
        "div",
        { class: "pager" },
        el("button", { class: "secondary", disabled: page === 0, onclick: () => ((page -= 1), show()) }, "← Previous"),
        el("span", { class: "muted" }, `page ${page + 1} of ${pages} · ${count(items.length)} in all`),
        el("button", { class: "secondary", disabled: page >= pages - 1, onclick: () => ((page += 1), show()) }, "Next →"),
      ),
    );
  }
  show();
  return box;
}

export function downloadCsv(filename, columns, rows) {
  const quote = (v) => {
    const text = v === null || v === undefined ? "" : String(v);
    return /[",\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  };
  const lines = [columns.map(quote).join(","), ...rows.map((r) => columns.map((c) => quote(r[c])).join(","))];
  const url = URL.createObjectURL(new Blob([lines.join("\n") + "\n"], { type: "text/csv" }));
  const link = el("a", { href: url, download: filename });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
