// Draws the rdpbench report page from the JSON blob #rdpbench-data: SVG rate-distortion and
// distortion-perception panels with hover details and legend toggles, the report's tables,
// and a viewer of two reconstructions with synchronised zoom and pan and a split slider.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("rdpbench-data").textContent);
  const SVG_NS = "http://www.w3.org/2000/svg";
  const WIDTH = 320, HEIGHT = 230, MARGIN = { left: 52, right: 12, top: 24, bottom: 36 };
  const tip = element("div", { class: "tip", role: "tooltip" });
  document.body.appendChild(tip);

  function element(tag, attributes, text) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function shape(tag, attributes, parent, text) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
    if (text !== undefined) node.textContent = text;
    parent.appendChild(node);
    return node;
  }

  function format(value) {
    if (value === null || value === undefined) return "";
    if (typeof value !== "number") return String(value);
    return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(4)));
  }

  function extent(values) {
    let low = Math.min(...values), high = Math.max(...values);
    if (low === high) { const pad = Math.abs(low) * 0.05 || 1; low -= pad; high += pad; }
    const margin = (high - low) * 0.06;
    return [low - margin, high + margin];
  }

  function ticks([low, high], count) {
    const rough = (high - low) / count, magnitude = Math.pow(10, Math.floor(Math.log10(rough)));
    const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= rough);
    const values = [];
    for (let t = Math.ceil(low / step) * step; t <= high; t += step) values.push(Number(t.toPrecision(12)));
    return values;
  }

  function showTip(event, lines) {
    tip.textContent = lines.join("\n");
    tip.style.display = "block";
    tip.style.left = event.pageX + 12 + "px";
    tip.style.top = event.pageY + 12 + "px";
  }

  // One SVG panel. lines: [{curve, xy: [[x, y], ...]}]; dots: [{curve, x, y, tip, data}]
  function panel(set, title, xLabel, yLabel, lines, dots) {
    const svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", `0 0 ${WIDTH} ${HEIGHT}`);
    svg.setAttribute("class", "panel");
    const xs = extent(dots.map((d) => d.x)), ys = extent(dots.map((d) => d.y));
    const right = WIDTH - MARGIN.right, bottom = HEIGHT - MARGIN.bottom;
    const sx = (x) => MARGIN.left + ((x - xs[0]) / (xs[1] - xs[0])) * (right - MARGIN.left);
    const sy = (y) => bottom - ((y - ys[0]) / (ys[1] - ys[0])) * (bottom - MARGIN.top);
    for (const t of ticks(xs, 5)) {
      shape("line", { x1: sx(t), x2: sx(t), y1: MARGIN.top, y2: bottom, class: "grid" }, svg);
      shape("text", { x: sx(t), y: bottom + 13, class: "tick", "text-anchor": "middle" }, svg, format(t));
    }
    for (const t of ticks(ys, 5)) {
      shape("line", { x1: MARGIN.left, x2: right, y1: sy(t), y2: sy(t), class: "grid" }, svg);
      shape("text", { x: MARGIN.left - 4, y: sy(t) + 3, class: "tick", "text-anchor": "end" }, svg, format(t));
    }
    shape("rect", { x: MARGIN.left, y: MARGIN.top, width: right - MARGIN.left, height: bottom - MARGIN.top,
      class: "frame" }, svg);
    shape("text", { x: WIDTH / 2, y: 15, class: "title", "text-anchor": "middle" }, svg, title);
    shape("text", { x: (MARGIN.left + right) / 2, y: HEIGHT - 6, class: "label", "text-anchor": "middle" }, svg, xLabel);
    shape("text", { x: 12, y: (MARGIN.top + bottom) / 2, class: "label", "text-anchor": "middle",
      transform: `rotate(-90 12 ${(MARGIN.top + bottom) / 2})` }, svg, yLabel);
    for (const line of lines) {
      const curve = set.curves[line.curve];
      shape("polyline", { points: line.xy.map(([x, y]) => `${sx(x)},${sy(y)}`).join(" "), fill: "none",
        stroke: curve.colour, "stroke-dasharray": curve.dash, "stroke-width": 1.5, "data-curve": line.curve }, svg);
    }
    for (const dot of dots) {
      const curve = set.curves[dot.curve];
      const attributes = { cx: sx(dot.x), cy: sy(dot.y), r: 3.5, stroke: curve.colour, "stroke-width": 1.5,
        fill: curve.published ? "white" : curve.colour, "data-curve": dot.curve };
      for (const [name, value] of Object.entries(dot.data)) attributes["data-" + name] = value;
      const circle = shape("circle", attributes, svg);
      circle.addEventListener("mousemove", (event) => showTip(event, dot.tip));
      circle.addEventListener("mouseleave", () => { tip.style.display = "none"; });
    }
    return svg;
  }

  function describe(curve, point, bpp) {
    return [curve.label, `codec: ${curve.codec}`, curve.published ? `published: ${curve.sampler}` :
      `sampler: ${curve.sampler}`, `rate point: ${point}`, `bpp: ${format(bpp)}`];
  }

  function byCurve(points) {
    const groups = new Map();
    for (const p of points) { if (!groups.has(p.curve)) groups.set(p.curve, []); groups.get(p.curve).push(p); }
    return groups;
  }

  function rdPanels(set) {
    const box = element("div", { class: "panels" });
    for (const p of set.rd) {
      const lines = [...byCurve(p.points)].map(([curve, points]) => ({ curve,
        xy: points.slice().sort((a, b) => a.bpp - b.bpp).map((q) => [q.bpp, q.value]) }));
      const dots = p.points.map((q) => ({ curve: q.curve, x: q.bpp, y: q.value,
        tip: [...describe(set.curves[q.curve], q.point, q.bpp), `${p.title}: ${format(q.value)}`],
        data: { metric: p.metric, point: q.point, bpp: q.bpp, value: q.value } }));
      box.appendChild(panel(set, p.title, "bpp", p.title, lines, dots));
    }
    return box;
  }

  function dpPanels(set) {
    const box = element("div", { class: "panels" });
    for (const p of set.dp.panels) {
      const joined = p.joins === "curve" ? [...byCurve(p.points)] :
        [[p.points.find((q) => q.codec === p.joins).curve, p.points.filter((q) => q.codec === p.joins)]];
      const lines = joined.map(([curve, points]) => ({ curve, xy: points.map((q) => [q.x, q.y]) }));
      if (p.joins === "curve") for (const line of lines) line.xy.sort((a, b) => a[0] - b[0]);
      const dots = p.points.map((q) => ({ curve: q.curve, x: q.x, y: q.y,
        tip: [...describe(set.curves[q.curve], q.point, q.bpp), `${set.dp.x}: ${format(q.x)}`, `${set.dp.y}: ${format(q.y)}`],
        data: { point: q.point, bpp: q.bpp, x: q.x, y: q.y } }));
      box.appendChild(panel(set, p.name === "all" ? "" : p.name, set.dp.x, set.dp.y, lines, dots));
    }
    return box;
  }

  function legend(set, section) {
    const box = element("div", { class: "legend" });
    set.curves.forEach((curve, number) => {
      const entry = element("button", { type: "button", "data-legend": number, title: "click to hide or show" });
      const swatch = document.createElementNS(SVG_NS, "svg");
      swatch.setAttribute("width", 26); swatch.setAttribute("height", 10);
      shape("line", { x1: 1, x2: 25, y1: 5, y2: 5, stroke: curve.colour, "stroke-width": 2,
        "stroke-dasharray": curve.dash }, swatch);
      entry.append(swatch, document.createTextNode(curve.label + (curve.published ? " (published)" : "")));
      entry.addEventListener("click", () => {
        const off = entry.classList.toggle("off");
        for (const node of section.querySelectorAll(`[data-curve="${number}"]`)) node.style.display = off ? "none" : "";
      });
      box.appendChild(entry);
    });
    return box;
  }

  function table(spec) {
    const box = element("div", { class: "table" });
    box.appendChild(element("h4", {}, spec.title));
    if (!spec.columns.length) return box;
    const node = element("table"), head = node.createTHead().insertRow();
    for (const column of spec.columns) head.appendChild(element("th", {}, column));
    const body = node.createTBody();
    for (const row of spec.rows) {
      const tr = body.insertRow();
      for (const cell of row) tr.appendChild(element("td", { class: typeof cell === "number" ? "number" : "" }, format(cell)));
    }
    box.appendChild(node);
    return box;
  }

  function viewer(set) {
    const v = set.viewer, box = element("div", { class: "viewer" });
    const pick = { image: element("select", { "data-role": "image" }), left: element("select", { "data-role": "left" }),
      right: element("select", { "data-role": "right" }), mode: element("select", { "data-role": "mode" }) };
    for (const image of v.images) pick.image.appendChild(element("option", { value: image.name }, image.name));
    pick.mode.append(element("option", { value: "side" }, "side by side"), element("option", { value: "split" }, "split"));
    const slider = element("input", { type: "range", min: 0, max: 100, value: 50, "data-role": "split" });
    const reset = element("button", { type: "button" }, "fit");
    const controls = element("div", { class: "controls" });
    controls.append("image ", pick.image, " left ", pick.left, " right ", pick.right, " ", pick.mode, " ", slider, " ", reset);
    const stage = element("div", { class: "stage" });
    const panes = [element("div", { class: "pane" }), element("div", { class: "pane" })];
    const left = element("img", { "data-role": "left", alt: "" }), right = element("img", { "data-role": "right", alt: "" });
    const overlay = element("div", { class: "overlay" }), overlayImage = element("img", { alt: "" });
    overlay.appendChild(overlayImage);
    panes[0].append(left, overlay);
    panes[1].appendChild(right);
    stage.append(...panes);
    const captions = [element("div", { class: "caption" }), element("div", { class: "caption" })];
    const captionRow = element("div", { class: "captions" });
    captionRow.append(...captions);
    box.append(controls, stage, captionRow);
    const view = { scale: 1, x: 0, y: 0 };
    let options = [];

    function current() { return v.images.find((image) => image.name === pick.image.value); }
    function apply() {
      for (const img of [left, right, overlayImage])
        img.style.transform = `translate(${view.x}px, ${view.y}px) scale(${view.scale})`;
    }
    function fit() {
      const image = current(), pane = panes[0].getBoundingClientRect();
      view.scale = Math.min(pane.width / image.width, pane.height / image.height) || 1;
      view.x = (pane.width - image.width * view.scale) / 2;
      view.y = (pane.height - image.height * view.scale) / 2;
      apply();
    }
    function fillOptions() {
      const name = pick.image.value, kept = [pick.left.value, pick.right.value];
      options = v.images.find((image) => image.name === name).original === null ? [] :
        [{ key: "original", text: "original", src: current().original }];
      for (const r of v.recons.filter((r) => r.image === name))
        options.push({ key: `${r.curve}/${r.point}`, text: `${r.label} · ${r.point} · ${format(r.bpp)} bpp`,
          src: r.src, recon: r });
      for (const select of [pick.left, pick.right]) {
        select.replaceChildren(...options.map((o) => element("option", { value: o.key }, o.text)));
      }
      const recons = options.filter((o) => o.recon);
      pick.left.value = options.some((o) => o.key === kept[0]) ? kept[0] : (recons[0] || options[0]).key;
      if (options.some((o) => o.key === kept[1])) pick.right.value = kept[1];
      else matchRight(recons.find((o) => o.recon.curve !== (option(pick.left).recon || {}).curve));
    }
    function option(select) { return options.find((o) => o.key === select.value); }
    // The right side's rate point nearest the left one's bpp, on the right side's (or the given) curve
    function matchRight(on) {
      const target = option(pick.left).recon, curve = on ? on.recon.curve : (option(pick.right) || {}).recon?.curve;
      const candidates = options.filter((o) => o.recon && o.recon.curve === curve);
      if (!target || !candidates.length) { pick.right.value = on ? on.key : "original"; return; }
      candidates.sort((a, b) => Math.abs(a.recon.bpp - target.bpp) - Math.abs(b.recon.bpp - target.bpp));
      pick.right.value = candidates[0].key;
    }
    function caption(o) {
      if (!o.recon) return "original";
      const numbers = Object.entries(o.recon.metrics).map(([name, value]) => `${name} ${format(value)}`);
      return [o.text, ...numbers].join(" · ");
    }
    function show() {
      const a = option(pick.left), b = option(pick.right) || a, split = pick.mode.value === "split";
      left.src = v.uris[a.src];
      right.src = overlayImage.src = v.uris[b.src];
      panes[1].style.display = split ? "none" : "";
      overlay.style.display = slider.style.display = split ? "" : "none";
      overlay.style.clipPath = `inset(0 0 0 ${slider.value}%)`;
      captions[0].textContent = (split ? "left: " : "") + caption(a);
      captions[1].textContent = (split ? "right: " : "") + caption(b);
    }
    pick.image.addEventListener("change", () => { fillOptions(); show(); fit(); });
    pick.left.addEventListener("change", () => { matchRight(); show(); });
    pick.right.addEventListener("change", show);
    pick.mode.addEventListener("change", () => { show(); fit(); });
    slider.addEventListener("input", show);
    reset.addEventListener("click", fit);
    for (const pane of panes) {
      pane.addEventListener("wheel", (event) => {
        event.preventDefault();
        const box = pane.getBoundingClientRect(), factor = Math.exp(-event.deltaY * 0.0015);
        const mx = event.clientX - box.left, my = event.clientY - box.top;
        view.x = mx - (mx - view.x) * factor; view.y = my - (my - view.y) * factor; view.scale *= factor;
        apply();
      }, { passive: false });
      pane.addEventListener("pointerdown", (event) => {
        pane.setPointerCapture(event.pointerId);
        const start = { x: event.clientX - view.x, y: event.clientY - view.y };
        const move = (e) => { view.x = e.clientX - start.x; view.y = e.clientY - start.y; apply(); };
        pane.addEventListener("pointermove", move);
        pane.addEventListener("pointerup", () => pane.removeEventListener("pointermove", move), { once: true });
      });
    }
    fillOptions(); show();
    requestAnimationFrame(fit);
    return box;
  }

  function heading(level, text) { return element("h" + level, {}, text); }

  const main = document.getElementById("report");
  main.appendChild(heading(1, data.title));
  for (const [metric, found] of Object.entries(data.variants)) {
    const note = element("p", { class: found.length > 1 ? "warning" : "variant" });
    note.textContent = found.length > 1 ? `${metric}: NOT COMPARABLE, the runs used ${found.length} variants: ` +
      found.map((f) => `${f.variant} in ${f.runs.join(", ")}`).join("; ") : `${metric}: ${found[0].variant}`;
    main.appendChild(note);
  }
  data.sets.forEach((set, number) => {
    const section = element("section", { "data-set": number });
    section.append(heading(2, set.label), legend(set, section), heading(3, "Rate against each metric"), rdPanels(set));
    if (set.dp.panels.length) section.append(heading(3, "Distortion against perception"), dpPanels(set));
    section.appendChild(heading(3, "Tables"));
    for (const spec of set.tables) section.appendChild(table(spec));
    if (set.viewer.images.length) section.append(heading(3, "Reconstructions"), viewer(set));
    main.appendChild(section);
  });
})();
