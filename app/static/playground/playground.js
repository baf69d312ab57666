// gradserve playground: build a request (an expression with its leaves, or any JSON body), POST it, and show
// what came back: values, grads, warnings, PyTorch's errors, and the backward graph drawn by POST /v1/graph.
// No build step, no dependencies. Results are rendered generically (any tensor document anywhere in a
// response is shown as one), so endpoints that land later (functional, gradcheck, batch) show up as well.
"use strict";
(() => {
  const CONFIG = JSON.parse(document.getElementById("gradserve-config").textContent);
  const $ = (id) => document.getElementById(id);

  // ----- what the page offers -----

  const SEED_LEAVES = { a: "2.0", b: "4.0", c: "6.0", d: "8.0", e: "10.0" };
  const EXPRESSIONS = [
    { key: "seed", summary: "f = a*b + c*d**2/e (the seed formula)",
      description: "Five scalar leaves; df/da = b = 4, df/db = a = 2, df/dc = d²/e = 6.4, df/dd = 2cd/e = 9.6, " +
                   "df/de = -cd²/e² = -3.84.",
      expression: "a*b + c*d**2/e", leaves: SEED_LEAVES },
    { key: "sigmoid", summary: "s = x.sigmoid(); y = s * (1 - s)",
      description: "The sigmoid's derivative written out: `1 - s` is rsub as PyTorch records it (RsubBackward1).",
      expression: "s = x.sigmoid()\ny = s * (1 - s)\ny.sum()", leaves: { x: "[-1.0, 0.0, 2.0]" } },
    { key: "layer", summary: "loss = ((W @ x + b).tanh() ** 2).mean()",
      description: "A tiny layer: matmul, add, tanh, pow, mean; grads of W and b.",
      expression: "h = (W @ x + b).tanh()\nloss = (h ** 2).mean()",
      leaves: { W: "[[0.5, -1.0, 0.25], [1.5, 0.0, -0.5]]", x: "[1.0, 2.0, 3.0]", b: "[0.1, -0.2]" },
      backward: "loss", grad: { x: false } },
    { key: "softmax", summary: "p = softmax(z, dim=0); loss = -p[1].log()",
      description: "Softmax, indexing (SelectBackward0) and log: the gradient pushes z[1] up and the rest down.",
      expression: "p = softmax(z, dim=0)\nloss = -p[1].log()", leaves: { z: "[1.0, 2.0, 0.5]" }, backward: "loss" },
    { key: "split", summary: "u, v = x.split(2); (u * v).sum()",
      description: "One SplitBackward0 node with two outputs: its edges carry input_nr 0 and 1.",
      expression: "u, v = x.split(2)\n(u * v).sum()", leaves: { x: "[1.0, 2.0, 3.0, 4.0]" } },
    { key: "error", summary: "An error: a + b with shapes (3) and (2)",
      description: "Shapes that do not broadcast: PyTorch's RuntimeError, word for word.",
      expression: "a + b", leaves: { a: "[1.0, 2.0, 3.0]", b: "[1.0, 2.0]" } },
  ];
  // POST endpoints the page knows how to show (offered where the server has them); graph: drawn too.
  const ENDPOINTS = {
    "/v1/evaluate": { label: "evaluate", graph: true },
    "/v1/functional": { label: "functional" },
    "/v1/gradcheck": { label: "gradcheck" },
    "/v1/evaluate/batch": { label: "evaluate/batch" },
  };
  const DTYPES = ["float32", "float64", "float16", "int64", "int32", "bool", ""];
  const PY_WORDS = new Set(["True", "False", "None", "and", "or", "not", "in", "is", "if", "else", "for",
    "lambda", "torch", "F", "nn", "math", "float"]);

  let mode = "expression";
  let runs = 0;
  const leafMemory = new Map(); // name -> {value, dtype, grad}: kept while a name leaves and comes back
  let manualLeaves = [];

  // ----- leaves -----

  // The names an expression reads that it does not define: identifiers that are not attributes, calls,
  // keyword arguments, assignment targets, Python words or parts of numbers, in order of appearance.
  function detectLeaves(text) {
    const src = text.replace(/#[^\n]*/g, "").replace(/'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"/g, '""');
    const assigned = new Set();
    for (const stmt of src.split(/[\n;]/)) {
      const m = stmt.match(/^\s*([A-Za-z_][\w\s,()[\]]*?)\s*=(?!=)/);
      if (m) m[1].split(/[\s,()[\]]+/).filter(Boolean).forEach((n) => assigned.add(n));
    }
    const found = [];
    const re = /[A-Za-z_]\w*/g;
    let m;
    while ((m = re.exec(src))) {
      const name = m[0];
      const before = src.slice(0, m.index).trimEnd().slice(-1);
      const after = src.slice(re.lastIndex).match(/^\s*(\S?)(\S?)/);
      if (before === "." || /[0-9]/.test(src[m.index - 1] || "")) continue;
      if (after[1] === "(" || (after[1] === "=" && after[2] !== "=")) continue;
      if (PY_WORDS.has(name) || assigned.has(name) || found.includes(name)) continue;
      found.push(name);
    }
    return found;
  }

  function leafState(name) {
    if (!leafMemory.has(name)) leafMemory.set(name, { value: "1.0", dtype: "float32", grad: true });
    return leafMemory.get(name);
  }

  function leafRow(name, state, manual) { // manual: the {name, state} record of a leaf added by hand
    const tr = document.createElement("tr");
    tr.dataset.leaf = name;
    const nameCell = document.createElement("td");
    if (manual) {
      const input = Object.assign(document.createElement("input"), { className: "leaf-name", value: name,
        spellcheck: false });
      input.setAttribute("aria-label", "leaf name");
      input.addEventListener("input", () => { manual.name = tr.dataset.leaf = input.value.trim(); });
      nameCell.append(input);
    } else {
      nameCell.textContent = name;
    }
    const value = Object.assign(document.createElement("input"), { className: "value", value: state.value,
      spellcheck: false });
    value.setAttribute("aria-label", `value of ${name}`);
    value.addEventListener("input", () => { state.value = value.value; value.classList.remove("bad"); });
    const dtype = document.createElement("select");
    for (const d of DTYPES) dtype.append(new Option(d || "infer", d));
    dtype.value = state.dtype;
    dtype.addEventListener("change", () => { state.dtype = dtype.value; });
    const grad = Object.assign(document.createElement("input"), { type: "checkbox", checked: state.grad });
    grad.title = "requires_grad";
    grad.addEventListener("change", () => { state.grad = grad.checked; });
    const cells = [nameCell, value, dtype, grad].map((el) => {
      if (el.tagName === "TD") return el;
      const td = document.createElement("td");
      td.append(el);
      return td;
    });
    const rm = document.createElement("td");
    if (manual) {
      const x = Object.assign(document.createElement("button"), { className: "link", textContent: "×",
        title: "remove this leaf" });
      x.addEventListener("click", () => { manualLeaves = manualLeaves.filter((r) => r !== manual); syncLeaves(); });
      rm.append(x);
    }
    tr.append(...cells, rm);
    return tr;
  }

  function syncLeaves() {
    const body = $("leaves").tBodies[0];
    body.replaceChildren();
    for (const name of detectLeaves($("expression").value)) body.append(leafRow(name, leafState(name), false));
    for (const r of manualLeaves) body.append(leafRow(r.name, r.state, r));
    const last = lastName($("expression").value);
    if (!$("backward-of").dataset.edited) $("backward-of").value = last;
  }

  // The name of the program's result: the last statement's target, or `out` for a bare expression.
  function lastName(text) {
    const stmts = text.split(/[\n;]/).map((s) => s.replace(/#.*/, "").trim()).filter(Boolean);
    const m = (stmts[stmts.length - 1] || "").match(/^([A-Za-z_]\w*)\s*=(?!=)/);
    return m ? m[1] : "out";
  }

  // A leaf value as typed: JSON, or Python's spelling of it (2., True, (1, 2), inf, nan).
  function parseValue(text) {
    const t = text.trim()
      .replace(/\bTrue\b/g, "true").replace(/\bFalse\b/g, "false")
      .replace(/-\s*inf\b/g, '"-Infinity"').replace(/\binf\b/g, '"Infinity"').replace(/\bnan\b/g, '"NaN"')
      .replace(/\(/g, "[").replace(/\)/g, "]").replace(/,\s*]/g, "]")
      .replace(/(\d)\.(?!\d)/g, "$1.0").replace(/(^|[^\d])\.(\d)/g, "$10.$2");
    return JSON.parse(t);
  }

  // ----- the request -----

  function fromForm() {
    const leaves = {};
    for (const tr of $("leaves").tBodies[0].rows) {
      const name = tr.dataset.leaf;
      if (!name) continue;
      const input = tr.querySelector("input.value");
      let data;
      try {
        data = parseValue(input.value);
      } catch {
        input.classList.add("bad");
        throw new Error(`leaf ${name}: "${input.value}" is not a number or a nested list`);
      }
      const dtype = tr.querySelector("select").value;
      const grad = tr.querySelector("input[type=checkbox]").checked;
      leaves[name] = { data, ...(dtype ? { dtype } : {}), ...(grad ? { requires_grad: true } : {}) };
    }
    const req = { leaves, expression: $("expression").value };
    if ($("do-backward").checked && $("backward-of").value.trim()) {
      req.backward = [{ tensor: $("backward-of").value.trim() }];
    }
    return req;
  }

  function buildRequest() {
    if (mode === "expression") return { path: "/v1/evaluate", body: fromForm() };
    let body;
    try {
      body = JSON.parse($("program").value);
    } catch (e) {
      throw new Error(`the JSON program does not parse: ${e.message}`);
    }
    return { path: $("endpoint").value || "/v1/evaluate", body };
  }

  async function post(path, body, as) {
    const headers = { "Content-Type": "application/json" };
    const key = $("api-key").value.trim();
    if (key) headers["X-API-Key"] = key;
    const r = await fetch(path.replace(/^\//, ""), { method: "POST", headers, body: JSON.stringify(body) });
    const text = await r.text();
    let json = null;
    if (as !== "text" || !r.ok) {
      try { json = JSON.parse(text); } catch { /* not JSON: shown as text */ }
    }
    return { status: r.status, ok: r.ok, text, json, type: r.headers.get("content-type") || "" };
  }

  // ----- running -----

  async function run() {
    const button = $("run");
    let req;
    try {
      req = buildRequest();
    } catch (e) {
      showErrors(null, [{ type: "Error", loc: [], msg: e.message }]);
      return;
    }
    runs += 1;
    const run = runs;
    button.disabled = true;
    $("status").textContent = "running…";
    const t0 = performance.now();
    const drawn = ENDPOINTS[req.path] && ENDPOINTS[req.path].graph;
    try {
      const [res, graph] = await Promise.all([
        post(req.path, req.body),
        drawn && req.body && typeof req.body === "object" && !Array.isArray(req.body)
          ? post("/v1/graph", { ...req.body, format: "svg" }, "text").catch((e) => ({ failed: e })) : null,
      ]);
      if (run !== runs) return;
      const ms = Math.round(performance.now() - t0);
      $("status").textContent = `HTTP ${res.status} · ${ms} ms` + (res.json && res.json.device ? ` · ${res.json.device}` : "");
      $("raw").textContent = res.json ? prettyJson(res.json) : res.text;
      if (!res.ok) {
        showErrors(res, res.json && Array.isArray(res.json.detail) ? res.json.detail : null);
        clearResults("The request failed: nothing to show.");
        return;
      }
      hideErrors();
      showWarnings(collectWarnings(res.json));
      showTensors(res.json, req);
      if (graph) showGraph(graph, res.json);
      else clearGraph(drawn ? "" : "Graphs are drawn for evaluate requests.");
    } catch (e) {
      showErrors(null, [{ type: "NetworkError", loc: [], msg: `could not reach the server (${e.message})` }]);
      $("status").textContent = "";
    } finally {
      button.disabled = false;
      document.body.dataset.runs = String(runs);
    }
  }

  // ----- showing results -----

  function where(loc) {
    if (!Array.isArray(loc) || !loc.length) return "";
    const [head, ...rest] = loc;
    if (head === "header") return "in the request headers";
    if (head !== "body") return `at ${loc.join(".")}`;
    if (!rest.length) return "in the request body";
    if (rest[0] === "expression") return "in the expression";
    if (rest[0] === "ops" && mode === "expression" && typeof rest[1] === "number") {
      return `in the expression (at its op ${rest[1]}, counting from 0 in evaluation order)`;
    }
    let s = String(rest[0]);
    for (const p of rest.slice(1)) s += typeof p === "number" ? `[${p}]` : `.${p}`;
    return `at ${s}`;
  }

  function showErrors(res, detail) {
    const box = $("error");
    box.replaceChildren();
    const items = detail || [{ type: `HTTP ${res.status}`, loc: [], msg: res.text.slice(0, 2000) }];
    for (const d of items) {
      const exc = document.createElement("div");
      exc.className = "exc";
      exc.textContent = `${d.type}: ${d.msg}`;
      box.append(exc);
      const w = [where(d.loc), res && res.status !== 422 ? `HTTP ${res.status}` : ""].filter(Boolean).join(" · ");
      if (w) box.append(Object.assign(document.createElement("div"), { className: "where", textContent: w }));
    }
    box.hidden = false;
  }

  function hideErrors() {
    $("error").hidden = true;
    $("error").replaceChildren();
  }

  function collectWarnings(doc) {
    const out = [];
    (function walk(v) {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === "object") {
        if (Array.isArray(v.warnings)) out.push(...v.warnings);
        Object.entries(v).forEach(([k, x]) => { if (k !== "warnings") walk(x); });
      }
    })(doc);
    return out;
  }

  function showWarnings(list) {
    const box = $("warnings");
    box.replaceChildren(...list.map((w) => Object.assign(document.createElement("div"), { className: "w",
      textContent: `${w.category}: ${w.message}` })));
    box.hidden = !list.length;
  }

  function isTensorDoc(v) {
    return v && typeof v === "object" && "repr" in v && "shape" in v && "grad_fn" in v;
  }

  // Numbers as PyTorch's repr spells floats (2. not 2.0, up to 4 decimals), nested lists one row a line.
  function fmtNumber(x) {
    if (typeof x !== "number") return String(x);
    if (Number.isInteger(x)) return `${x}.`;
    const s = Math.abs(x) >= 1e5 || Math.abs(x) < 1e-4 ? x.toExponential(4) : String(Number(x.toFixed(4)));
    return s;
  }

  function fmtData(v, depth = 0) {
    if (v === null) return "None";
    if (!Array.isArray(v)) {
      return typeof v === "object" ? `<${v.dtype} ${JSON.stringify(v.shape)} base64>` : fmtNumber(v);
    }
    if (!v.length || !Array.isArray(v[0])) return `[${v.map((x) => fmtData(x, depth + 1)).join(", ")}]`;
    return `[${v.map((x) => fmtData(x, depth + 1)).join(`,\n${" ".repeat(depth + 1)}`)}]`;
  }

  function showTensors(doc, req) {
    const box = $("tensors");
    box.replaceChildren();
    const userNames = new Set(Object.keys((req.body && req.body.leaves) || {}));
    if (doc.tensors && typeof doc.tensors === "object") {
      const names = Object.keys(doc.tensors);
      $("tensor-count").textContent = `${names.length} tensor${names.length === 1 ? "" : "s"}`;
      const table = document.createElement("table");
      table.className = "tensors";
      table.innerHTML = '<colgroup><col class="c-name"><col class="c-fn"><col class="c-repr"><col class="c-grad">' +
        "</colgroup><thead><tr><th>name</th><th>grad_fn</th><th>value (repr)</th><th>.grad</th></tr></thead>";
      const tbody = table.createTBody();
      for (const name of names) {
        const t = doc.tensors[name];
        const tr = tbody.insertRow();
        tr.dataset.tensor = name;
        if (/^_\d+$/.test(name) && !userNames.has(name)) tr.className = "generated";
        const cell = (cls, text, pre) => {
          const td = tr.insertCell();
          td.className = cls;
          if (pre) td.append(Object.assign(document.createElement("pre"), { textContent: text }));
          else td.textContent = text;
          return td;
        };
        if (t === null) {
          cell("name", name);
          cell("none", "None");
          cell("none", "");
          cell("none", "");
          continue;
        }
        cell("name", name).title = `shape ${JSON.stringify(t.shape)}, ${t.dtype}`;
        cell("fn", t.grad_fn || (t.is_leaf ? (t.requires_grad ? "(leaf)" : "") : ""));
        cell("repr", t.repr, true);
        const g = cell(t.grad === null ? "grad none" : "grad", t.grad === null ? "None" : fmtData(t.grad), true);
        g.dataset.grad = JSON.stringify(t.grad);
      }
      box.append(table);
    }
    const rest = Object.entries(doc).filter(([k]) => !["tensors", "graph", "warnings", "device"].includes(k));
    if (rest.length) box.append(renderValue(Object.fromEntries(rest)));
    if (!box.childElementCount) box.append(placeholder("Nothing to show."));
  }

  // Any other response (functional, gradcheck, batch): its fields, with every tensor document as its repr.
  function renderValue(v) {
    if (isTensorDoc(v)) {
      const pre = Object.assign(document.createElement("pre"), { className: "value-doc", textContent: v.repr });
      if (v.grad !== null && v.grad !== undefined) pre.textContent += `\n.grad = ${fmtData(v.grad)}`;
      return pre;
    }
    if (Array.isArray(v) || (v && typeof v === "object")) {
      const dl = document.createElement("dl");
      for (const [k, x] of Object.entries(v)) {
        dl.append(Object.assign(document.createElement("dt"), { textContent: Array.isArray(v) ? `[${k}]` : k }));
        const dd = document.createElement("dd");
        dd.append(renderValue(x));
        dl.append(dd);
      }
      return dl;
    }
    return Object.assign(document.createElement("span"), { className: "value-doc", textContent: JSON.stringify(v) });
  }

  function placeholder(text) {
    return Object.assign(document.createElement("p"), { className: "placeholder", textContent: text });
  }

  function clearResults(text) {
    $("tensors").replaceChildren(placeholder(text));
    $("tensor-count").textContent = "";
    showWarnings([]);
    clearGraph(text);
  }

  function clearGraph(text) {
    $("graph").replaceChildren(placeholder(text || "No graph."));
    $("svg-link").hidden = $("dot-link").hidden = true;
  }

  // The SVG comes from our own server, built from escaped names; it is still imported as data (no
  // scripts, no event handlers, no javascript: links), never as markup.
  function safeSvg(text) {
    const doc = new DOMParser().parseFromString(text, "image/svg+xml");
    const svg = doc.documentElement;
    if (!svg || svg.nodeName !== "svg") throw new Error("the graph is not SVG");
    svg.querySelectorAll("script, foreignObject, iframe").forEach((el) => el.remove());
    for (const el of [svg, ...svg.querySelectorAll("*")]) {
      for (const a of [...el.attributes]) {
        if (/^on/i.test(a.name) || (/href$/i.test(a.name) && /^\s*javascript:/i.test(a.value))) {
          el.removeAttribute(a.name);
        }
      }
    }
    return document.importNode(svg, true);
  }

  function showGraph(g, doc) {
    if (g.failed || !g.ok) {
      const msg = g.json && g.json.detail ? g.json.detail.map((d) => `${d.type}: ${d.msg}`).join("\n")
        : g.failed ? g.failed.message : g.text.slice(0, 500);
      clearGraph(`The graph was not drawn: ${msg}`);
      return;
    }
    let svg;
    try {
      svg = safeSvg(g.text);
    } catch (e) {
      clearGraph(`The graph was not drawn: ${e.message}`);
      return;
    }
    $("graph").replaceChildren(svg);
    const byId = new Map((doc.graph || []).map((n) => [n.id, n]));
    for (const node of svg.querySelectorAll("g.node")) {
      const n = byId.get(Number((node.id || "").replace(/^node/, "")));
      if (!n || n.tensor === null) continue;
      node.dataset.tensor = n.tensor;
      node.addEventListener("mouseenter", () => hot(n.tensor, true));
      node.addEventListener("mouseleave", () => hot(n.tensor, false));
      node.addEventListener("click", () => {
        const row = rowOf(n.tensor);
        if (row) row.scrollIntoView({ block: "nearest", behavior: "smooth" });
      });
    }
    const link = $("svg-link");
    if (link.href.startsWith("blob:")) URL.revokeObjectURL(link.href);
    link.href = URL.createObjectURL(new Blob([g.text], { type: "image/svg+xml" }));
    link.hidden = false;
    $("dot-link").hidden = false;
  }

  function rowOf(name) {
    return [...$("tensors").querySelectorAll("tr[data-tensor]")].find((r) => r.dataset.tensor === name);
  }

  function hot(name, on) {
    const row = rowOf(name);
    if (row) row.classList.toggle("hot", on);
    $("graph").querySelectorAll("g.node").forEach((g) => { if (g.dataset.tensor === name) g.classList.toggle("hot", on); });
  }

  async function downloadDot(ev) {
    ev.preventDefault();
    let req;
    try { req = buildRequest(); } catch (e) { return; }
    const r = await post("/v1/graph", { ...req.body, format: "dot" }, "text");
    if (!r.ok) return;
    const a = Object.assign(document.createElement("a"), {
      href: URL.createObjectURL(new Blob([r.text], { type: "text/vnd.graphviz" })), download: "backward.dot" });
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  }

  // ----- modes and examples -----

  function setMode(m) {
    mode = m;
    for (const b of document.querySelectorAll("[role=tab]")) b.setAttribute("aria-selected", String(b.dataset.mode === m));
    $("mode-expression").hidden = m !== "expression";
    $("mode-json").hidden = m !== "json";
    $("as-json").hidden = m !== "expression";
    const many = $("endpoint").options.length > 1;
    $("endpoint").hidden = $("endpoint-label").hidden = m !== "json" || !many;
    if (m === "json" && !$("program").value.trim()) showAsJson();
  }

  // JSON as a person writes it: objects one key a line, lists of numbers (tensor data) on one line.
  function prettyJson(v, indent = "") {
    const flat = (x) => x === null || typeof x !== "object" || (Array.isArray(x) && x.every(flat));
    if (v === null || typeof v !== "object") return JSON.stringify(v);
    if (flat(v)) return `[${v.map((x) => prettyJson(x)).join(", ")}]`;
    const inner = indent + "  ";
    if (Array.isArray(v)) return `[\n${v.map((x) => inner + prettyJson(x, inner)).join(",\n")}\n${indent}]`;
    const items = Object.entries(v).map(([k, x]) => `${inner}${JSON.stringify(k)}: ${prettyJson(x, inner)}`);
    return items.length ? `{\n${items.join(",\n")}\n${indent}}` : "{}";
  }

  function showAsJson() {
    let body;
    try { body = fromForm(); } catch (e) { showErrors(null, [{ type: "Error", loc: [], msg: e.message }]); return; }
    $("program").value = prettyJson(body);
    $("endpoint").value = "/v1/evaluate";
    setMode("json");
  }

  function loadExample(key) {
    const [kind, name] = key.split(":");
    if (kind === "expr") {
      const ex = EXPRESSIONS.find((e) => e.key === name);
      for (const [leaf, value] of Object.entries(ex.leaves)) {
        Object.assign(leafState(leaf), { value, dtype: "float32", grad: !(ex.grad && ex.grad[leaf] === false) });
      }
      manualLeaves = [];
      $("expression").value = ex.expression;
      delete $("backward-of").dataset.edited;
      syncLeaves();
      if (ex.backward) $("backward-of").value = ex.backward;
      $("do-backward").checked = true;
      $("example-description").textContent = ex.description;
      setMode("expression");
    } else {
      const ex = CONFIG.examples[name];
      $("program").value = prettyJson(ex.value);
      $("example-description").textContent = ex.description;
      $("endpoint").value = "/v1/evaluate";
      setMode("json");
    }
  }

  function init() {
    const select = $("example");
    select.append(Object.assign(new Option("— your own program —", ""), { disabled: true }));
    const g1 = Object.assign(document.createElement("optgroup"), { label: "Expressions" });
    for (const e of EXPRESSIONS) g1.append(new Option(e.summary, `expr:${e.key}`));
    const g2 = Object.assign(document.createElement("optgroup"), { label: "Programs (JSON, the API's examples)" });
    for (const [k, e] of Object.entries(CONFIG.examples)) g2.append(new Option(e.summary, `json:${k}`));
    select.append(g1, g2);
    select.addEventListener("change", () => loadExample(select.value));

    for (const path of CONFIG.endpoints) {
      if (ENDPOINTS[path]) $("endpoint").append(new Option(ENDPOINTS[path].label, path));
    }
    for (const b of document.querySelectorAll("[role=tab]")) b.addEventListener("click", () => setMode(b.dataset.mode));
    $("as-json").addEventListener("click", showAsJson);
    $("expression").addEventListener("input", () => {
      syncLeaves();
      const same = EXPRESSIONS.find((e) => e.expression === $("expression").value);
      select.value = same ? `expr:${same.key}` : "";
      $("example-description").textContent = same ? same.description : "";
    });
    $("backward-of").addEventListener("input", () => { $("backward-of").dataset.edited = "1"; });
    $("add-leaf").addEventListener("click", () => {
      manualLeaves.push({ name: "", state: { value: "1.0", dtype: "float32", grad: true } });
      syncLeaves();
    });
    $("run").addEventListener("click", run);
    $("dot-link").addEventListener("click", downloadDot);
    document.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); run(); }
    });
    const key = $("api-key");
    key.value = sessionStorage.getItem("gradserve-api-key") || "";
    key.addEventListener("change", () => sessionStorage.setItem("gradserve-api-key", key.value));

    select.value = "expr:seed";
    loadExample("expr:seed");
    run();
  }

  init();
})();
