// A model's parameter rules (the JSON Schema /model/{id} gives) read as simple parameters.

import { el } from "./util.js";

// Set by the playground itself, never by a control.
const OWN = new Set(["model", "messages", "stream", "stream_options", "n", "user", "input", "prompt", "text"]);

function typeOf(schema) {
  if (schema.enum) return "enum";
  if (schema.type) return Array.isArray(schema.type) ? schema.type.join("|") : schema.type;
  const branches = schema.anyOf || schema.oneOf;
  if (branches) return [...new Set(branches.map(typeOf))].join(" | ");
  return "any";
}

// [{name, type, schema, required, summary}] for every top-level parameter.
export function parameters(rules) {
  const props = rules?.properties || {};
  const required = new Set(rules?.required || []);
  return Object.entries(props).map(([name, schema]) => {
    const limits = [];
    if (schema.minimum !== undefined) limits.push(`≥ ${schema.minimum}`);
    if (schema.maximum !== undefined) limits.push(`≤ ${schema.maximum}`);
    if (schema.enum) limits.push(schema.enum.join(", "));
    if (schema.default !== undefined) limits.push(`default ${JSON.stringify(schema.default)}`);
    return { name, type: typeOf(schema), schema, required: required.has(name), summary: limits.join("; ") };
  });
}

// Inputs for the parameters a form can set (numbers, booleans, choices); an input left
// empty is not sent, so the model's own default applies.
export function controls(rules) {
  const made = [];
  for (const p of parameters(rules)) {
    if (OWN.has(p.name)) continue;
    const s = p.schema;
    let input;
    if (p.type === "number" || p.type === "integer") {
      input = el("input", {
        type: "number",
        name: p.name,
        min: s.minimum,
        max: s.maximum,
        step: p.type === "integer" ? "1" : "any",
        placeholder: s.default !== undefined ? String(s.default) : "default",
      });
      made.push({ name: p.name, input, read: () => (input.value === "" ? undefined : Number(input.value)) });
    } else if (p.type === "boolean" || p.type === "enum") {
      const values = p.type === "boolean" ? ["true", "false"] : s.enum.map(String);
      // A required choice has no "default": the model's default, else the first value, is chosen.
      const none = p.required ? null : el("option", { value: "" }, "default");
      const chosen = p.required ? String(s.default ?? values[0]) : null;
      input = el("select", { name: p.name }, none, values.map((v) => el("option", { value: v, selected: v === chosen }, v)));
      const parse = p.type === "boolean" ? (v) => v === "true" : (v) => s.enum.find((e) => String(e) === v);
      made.push({ name: p.name, input, read: () => (input.value === "" ? undefined : parse(input.value)) });
    } else if (p.type === "string" && p.name !== "suffix") {
      input = el("input", { type: "text", name: p.name, placeholder: "default" });
      made.push({ name: p.name, input, read: () => input.value || undefined });
    }
  }
  return made;
}
