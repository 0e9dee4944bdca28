// Models: the catalogue (/models, no key) filtered by type, developer and feature; each model's
// parameters, price and routing from /model/{id}.

import { call } from "./api.js";
import { parameters } from "./rules.js";
import { arrayPager, count, el, notice, table } from "./util.js";

const PRICE_UNITS = {
  input_per_token: ["input", 1e6, "per million tokens"],
  output_per_token: ["output", 1e6, "per million tokens"],
  cached_input_per_token: ["cached input", 1e6, "per million tokens"],
  reasoning_output_per_token: ["reasoning output", 1e6, "per million tokens"],
  input_per_image: ["input", 1, "per image"],
  output_per_image: ["output", 1, "per image"],
  output_per_second: ["output", 1, "per second"],
  input_per_second: ["input", 1, "per second"],
  input_per_character: ["input", 1e6, "per million characters"],
  per_page: ["", 1, "per page"],
  per_request: ["", 1, "per request"],
};

export function priceLines(price) {
  if (!price) return ["no list price"];
  return Object.entries(price).map(([field, value]) => {
    const [side, scale, unit] = PRICE_UNITS[field] || [field, 1, ""];
    return `${side} $${+(value * scale).toFixed(6)} ${unit}`.trim();
  });
}

export async function modelsPage(page) {
  page.append(el("h1", {}, "Models"));
  const models = (await call("/models")).data;
  const values = (pick) => [...new Set(models.flatMap(pick))].filter(Boolean).sort();
  const filters = { type: "", developer: "", feature: "", text: "" };
  const choice = (name, options) =>
    el(
      "select",
      { name, onchange: (e) => ((filters[name] = e.target.value), show()) },
      el("option", { value: "" }, `any ${name}`),
      options.map((o) => el("option", { value: o }, o)),
    );
  const search = el("input", { type: "search", name: "text", placeholder: "name or id" });
  search.addEventListener("input", () => ((filters.text = search.value.toLowerCase()), show()));
  const list = el("div");
  const detail = el("div", { id: "model-detail" });
  page.append(
    el(
      "div",
      { class: "card row" },
      el("label", {}, "Type", choice("type", values((m) => [m.type]))),
      el("label", {}, "Developer", choice("developer", values((m) => [m.info.developer]))),
      el("label", {}, "Feature", choice("feature", values((m) => m.features))),
      el("label", {}, "Search", search),
    ),
    detail,
    list,
  );

  function show() {
    const shown = models.filter(
      (m) =>
        (!filters.type || m.type === filters.type) &&
        (!filters.developer || m.info.developer === filters.developer) &&
        (!filters.feature || m.features.includes(filters.feature)) &&
        (!filters.text || m.id.toLowerCase().includes(filters.text) || (m.info.name || "").toLowerCase().includes(filters.text)),
    );
    const columns = [
      { label: "Model", value: (m) => el("a", { href: "#models", onclick: (e) => (e.preventDefault(), open(m.id)) }, m.id) },
      { label: "Name", value: (m) => m.info.name },
      { label: "Type", value: (m) => m.type },
      { label: "Developer", value: (m) => m.info.developer },
      { label: "Context", num: true, value: (m) => (m.info.contextLength ? count(m.info.contextLength) : "") },
      { label: "Features", num: true, value: (m) => m.features.length },
    ];
    list.replaceChildren(arrayPager(shown, 25, (rows) => table(columns, rows, { id: "models" })));
  }

  async function open(id) {
    let model;
    try {
      model = (await call(`/model/${id.split("/").map(encodeURIComponent).join("/")}`)).data;
    } catch (err) {
      detail.replaceChildren(notice(err.message, "error"));
      return;
    }
    const params = parameters(model.parameters);
    detail.replaceChildren(
      el(
        "div",
        { class: "card" },
        el("h2", {}, `${model.info.name} `, el("span", { class: "muted" }, model.id)),
        el("p", {}, model.routed ? el("span", { class: "badge good" }, "routed here") : el("span", { class: "badge bad" }, "not routed here"), model.local ? el("span", { class: "badge" }, "local") : ""),
        model.info.description ? el("p", {}, model.info.description) : "",
        el("p", {}, el("strong", {}, "Price: "), priceLines(model.price).join(" · ")),
        el("p", {}, el("strong", {}, "Endpoints: "), model.endpoints.join(", ")),
        el("p", {}, el("strong", {}, "Features: "), model.features.map((f) => el("span", { class: "badge" }, f))),
        params.length
          ? table(
              [
                { label: "Parameter", value: (p) => p.name + (p.required ? " *" : "") },
                { label: "Type", value: (p) => p.type },
                { label: "Allowed", value: (p) => p.summary },
              ],
              params,
              { id: "model-parameters" },
            )
          : el("p", { class: "muted" }, "No parameter rules: the body is passed on as it is."),
      ),
    );
    detail.scrollIntoView({ block: "nearest" });
  }
  show();
}
