// What every page uses: building elements, calling the API, the live event stream, formatting.
// Values from the server are always set as text (textContent), never parsed as HTML.

const TOKEN = document.querySelector('meta[name="workerlab-token"]').content;

/** An element: h("a", {href: "#/x", class: "y", onclick: fn}, "text", child, [more]). */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(element.dataset, value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  append(element, children);
  return element;
}

/** Replace what `element` holds by `children` (nested arrays flattened, null and false skipped). */
export function fill(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(element, child);
    else element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** GET (or POST with a JSON body) a path under api/; the parsed answer, or an ApiError. */
export async function api(path, { method = "GET", body } = {}) {
  const options = { method, headers: {} };
  if (method !== "GET") {
    options.headers["X-Workerlab-Token"] = TOKEN;
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body ?? {});
  }
  const response = await fetch(`api/${path}`, options);
  const text = await response.text();
  let document_ = null;
  try {
    document_ = text ? JSON.parse(text) : null;
  } catch {
    throw new ApiError(response.status, "bad-answer", `The server answered ${response.status}: ${text.slice(0, 200)}`);
  }
  if (!response.ok) {
    const error = document_?.error ?? {};
    throw new ApiError(response.status, error.code ?? "error", error.message ?? `HTTP ${response.status}`);
  }
  return document_;
}

export const post = (path, body) => api(path, { method: "POST", body });

/** `load` wrapped so that only the latest call's answer counts: an earlier one resolves to null. */
export function latestOnly(load) {
  let generation = 0;
  return async (...args) => {
    const mine = ++generation;
    const result = await load(...args);
    return mine === generation ? result : null;
  };
}

/** A message in the corner for a few seconds. */
export function toast(text, kind = "info") {
  const item = h("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
  document.getElementById("toasts").append(item);
  setTimeout(() => item.remove(), kind === "error" ? 8000 : 4000);
}

/** Run an action from a button: disables it meanwhile, toasts the outcome, returns the answer. */
export async function act(button, work, done) {
  button.disabled = true;
  try {
    const answer = await work();
    if (done) toast(typeof done === "function" ? done(answer) : done, "ok");
    return answer;
  } catch (error) {
    toast(error.message, "error");
    return null;
  } finally {
    button.disabled = false;
  }
}

export const enc = encodeURIComponent;

export function utc(ms) {
  if (ms === null || ms === undefined) return "—";
  return new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

export function clock(ms) {
  return new Date(ms).toISOString().slice(11, 23);
}

export function duration(ms) {
  if (ms === null || ms === undefined) return "";
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

export function shortId(id) {
  return id.length > 12 ? `${id.slice(0, 8)}…` : id;
}

export function json(value) {
  return typeof value === "string" ? value : JSON.stringify(value, null, 2);
}

/** A table: columns are [title, (row) => cell] pairs; an empty list shows `empty`. */
export function table(columns, rows, { empty = "Nothing here yet.", rowAttrs } = {}) {
  if (!rows.length) return h("p", { class: "muted empty" }, empty);
  return h(
    "table",
    {},
    h("thead", {}, h("tr", {}, columns.map(([title]) => h("th", {}, title)))),
    h("tbody", {}, rows.map((row) => h("tr", rowAttrs ? rowAttrs(row) : {}, columns.map(([, cell]) => h("td", {}, cell(row)))))),
  );
}

export function badge(text, kind = "") {
  return h("span", { class: `badge ${kind}` }, text);
}

export function outcomeBadge(outcome) {
  const kind = { ok: "ok", acked: "ok", complete: "ok", exception: "error", error: "error", errored: "error",
    terminated: "error", dropped: "error", "dead-lettered": "warning", retry: "warning", retried: "warning" }[outcome] ?? "";
  return badge(outcome, kind);
}

/** An error document ({type, message, traceback}) as a collapsible block. */
export function errorBlock(error) {
  if (!error) return null;
  return h(
    "details",
    { class: "error-block" },
    h("summary", {}, `${error.type ?? error.name}: ${error.message}`),
    error.traceback ? h("pre", {}, error.traceback) : null,
  );
}

export function section(title, ...children) {
  return h("section", {}, h("h2", {}, title), ...children);
}

export function crumbs(...parts) {
  return h("div", { class: "crumbs" }, parts.map((part, index) => [index ? " / " : "", part]));
}

// --- the live stream -------------------------------------------------------------------------

const listeners = new Set();

/** Call `fn(kind, data)` for each event of the stream ("entry", "changed", "reset", "hello"). */
export function onLive(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function startLive() {
  const indicator = document.getElementById("live");
  const source = new EventSource("api/events");
  const show = (state, text) => {
    indicator.dataset.state = state;
    indicator.textContent = text;
  };
  source.onopen = () => show("live", "● live");
  source.onerror = () => show("down", "reconnecting…");
  for (const kind of ["hello", "entry", "changed", "reset"]) {
    source.addEventListener(kind, (event) => {
      const data = JSON.parse(event.data);
      for (const fn of listeners) fn(kind, data);
    });
  }
  return source;
}
