// The dashboard shell: log in with a key, then one page per #hash.

import { ApiError, call, session } from "./api.js";
import { balancePage } from "./balance.js";
import { keysPage } from "./keys.js";
import { modelsPage } from "./models.js";
import { playgroundPage } from "./playground.js";
import { usagePage } from "./usage.js";
import { el, notice } from "./util.js";

const PAGES = {
  balance: balancePage,
  keys: keysPage,
  usage: usagePage,
  models: modelsPage,
  playground: playgroundPage,
};

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const who = document.getElementById("who");
const logout = document.getElementById("logout");

logout.addEventListener("click", () => {
  session.clear();
  session.me = null;
  location.hash = "";
  start();
});
window.addEventListener("hashchange", () => session.me && route());

function loginForm(message) {
  const input = el("input", { type: "password", name: "key", placeholder: "og-…", autocomplete: "off", required: true });
  const form = el(
    "form",
    { class: "card login" },
    el("h1", {}, "Log in"),
    el("p", { class: "muted" }, "Your API key is kept in this browser tab's session only."),
    message ? notice(message, "error") : null,
    el("label", {}, "API key", input),
    el("p", {}, el("button", { type: "submit" }, "Log in")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    session.set(input.value.trim());
    await start();
  });
  return form;
}

async function start() {
  nav.hidden = true;
  logout.hidden = true;
  who.textContent = "";
  if (!session.key()) {
    main.replaceChildren(loginForm());
    return;
  }
  try {
    session.me = (await call("/v1/key")).data;
  } catch (err) {
    session.clear();
    const why = err instanceof ApiError && err.status === 401 ? "That key is not valid." : err.message;
    main.replaceChildren(loginForm(why));
    return;
  }
  nav.hidden = false;
  logout.hidden = false;
  const me = session.me;
  who.textContent = `${me.name || me.prefix} · ${me.account}${me.admin ? " · admin" : ""}`;
  route();
}

async function route() {
  const name = location.hash.slice(1) in PAGES ? location.hash.slice(1) : "balance";
  for (const link of nav.querySelectorAll("a")) link.classList.toggle("active", link.hash === `#${name}`);
  const page = el("section", { id: `page-${name}` });
  main.replaceChildren(page);
  try {
    await PAGES[name](page);
  } catch (err) {
    page.append(notice(err.message, "error"));
  }
}

start();
