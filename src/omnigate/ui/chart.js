// Bar charts drawn as SVG by hand: no chart library, nothing fetched.

const NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

function frame(title, width, height) {
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title });
  root.append(svg("title", {}, title));
  return root;
}

function short(text, max) {
  return text.length > max ? text.slice(0, max - 1) + "…" : text;
}

// points: [{label, value}] as vertical bars (days), `format` writes a value.
export function columnChart(title, points, format = String) {
  const width = 1100;
  const height = 180;
  const left = 8;
  const bottom = 34;
  const top = 22;
  const root = frame(title, width, height);
  const max = Math.max(0, ...points.map((p) => p.value));
  root.append(svg("text", { x: left, y: 14 }, `${title} · max ${format(max)}`));
  root.append(svg("line", { class: "axis", x1: left, x2: width - 4, y1: height - bottom, y2: height - bottom }));
  const step = (width - left - 4) / Math.max(1, points.length);
  const every = Math.ceil(points.length / 16); // at most 16 labels under the bars
  points.forEach((p, i) => {
    const h = max > 0 ? ((height - bottom - top) * p.value) / max : 0;
    const x = left + i * step + step * 0.15;
    const bar = svg("rect", { class: "bar", x, y: height - bottom - h, width: step * 0.7, height: h });
    bar.append(svg("title", {}, `${p.label}: ${format(p.value)}`));
    root.append(bar);
    if (i % every === 0) {
      root.append(svg("text", { x: x + step * 0.35, y: height - bottom + 14, "text-anchor": "middle" }, short(p.label, 10)));
    }
  });
  if (!points.length) root.append(svg("text", { x: width / 2, y: height / 2, "text-anchor": "middle" }, "no data"));
  return root;
}

// points: [{label, value}] as horizontal bars (models, keys), largest first, at most `limit`.
export function barChart(title, points, format = String, limit = 10) {
  const shown = [...points].sort((a, b) => b.value - a.value).slice(0, limit);
  const rowHeight = 22;
  const width = 560;
  const labelWidth = 190;
  const height = 26 + Math.max(1, shown.length) * rowHeight;
  const root = frame(title, width, height);
  const max = Math.max(0, ...shown.map((p) => p.value));
  root.append(svg("text", { x: 0, y: 14 }, points.length > limit ? `${title} · top ${limit}` : title));
  shown.forEach((p, i) => {
    const y = 24 + i * rowHeight;
    const w = max > 0 ? ((width - labelWidth - 90) * p.value) / max : 0;
    root.append(svg("text", { x: 0, y: y + 14 }, short(p.label || "(none)", 28)));
    const bar = svg("rect", { class: "bar", x: labelWidth, y: y + 3, width: w, height: rowHeight - 8 });
    bar.append(svg("title", {}, `${p.label}: ${format(p.value)}`));
    root.append(bar);
    root.append(svg("text", { class: "value", x: labelWidth + w + 6, y: y + 14 }, format(p.value)));
  });
  if (!shown.length) root.append(svg("text", { x: width / 2, y: 40, "text-anchor": "middle" }, "no data"));
  return root;
}
