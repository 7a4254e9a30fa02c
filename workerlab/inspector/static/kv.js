// KV: the namespaces, their keys page by page (with a prefix), and one value with its metadata.

import { api, crumbs, enc, fill, h, json, latestOnly, section, table, utc } from "./core.js";

const PAGE_SIZE = 100;

async function mountList(view) {
  const { namespaces } = await api("kv");
  view.append(
    section(
      "KV namespaces",
      table(
        [
          ["Namespace", (n) => h("a", { href: `#/kv/${enc(n.worker)}/${enc(n.binding)}` }, `env.${n.binding}`)],
          ["Worker", (n) => n.worker],
        ],
        namespaces,
        { empty: "No worker binds a KV namespace." },
      ),
    ),
  );
  return { refresh: null };
}

async function mountNamespace(view, worker, binding, params) {
  const base = `kv/${enc(worker)}/${enc(binding)}`;
  const prefix = h("input", { type: "search", placeholder: "Key prefix", value: params.get("prefix") ?? "", "aria-label": "Key prefix" });
  const keys = h("div");
  const more = h("div", { class: "pager" });
  const value = h("div", { class: "value" }, h("p", { class: "muted" }, "Pick a key to see its value."));
  let shownKey = params.get("key");
  view.append(
    crumbs(h("a", { href: "#/kv" }, "KV"), `env.${binding} of ${worker}`),
    h("form", { class: "filter", onsubmit: (event) => { event.preventDefault(); refresh(); } }, prefix, h("button", { type: "submit" }, "Filter")),
    h("div", { class: "split" }, section("Keys", keys, more), section("Value", value)),
  );
  async function showValue(key) {
    shownKey = key;
    try {
      const found = await api(`${base}/value?key=${enc(key)}`);
      fill(value,
        h("h3", {}, h("code", {}, found.key)),
        h("p", { class: "muted" }, `${found.size} bytes`),
        found.text !== undefined ? h("pre", { "data-value": "" }, found.text) : h("pre", {}, `base64: ${found.bytes.base64}`),
        found.metadata !== null ? [h("h3", {}, "Metadata"), h("pre", {}, json(found.metadata))] : null,
      );
    } catch (error) {
      fill(value, h("p", { class: "muted" }, error.message));
    }
  }
  const fetchKeys = latestOnly((cursor) => api(`${base}/keys?limit=${PAGE_SIZE}&prefix=${enc(prefix.value)}${cursor ? `&cursor=${enc(cursor)}` : ""}`));
  async function load(cursor) {
    const page = await fetchKeys(cursor);
    if (!page) return;  // a newer listing replaced this one
    const rows = table(
      [
        ["Key", (k) => h("a", { href: "#", onclick: (event) => { event.preventDefault(); showValue(k.name); } }, k.name)],
        ["Expires", (k) => (k.expiration ? utc(k.expiration * 1000) : "never")],
        ["Metadata", (k) => (k.metadata !== undefined ? JSON.stringify(k.metadata) : "")],
      ],
      page.keys,
      { empty: "No key." },
    );
    if (cursor) keys.append(rows);
    else fill(keys, rows);
    fill(more, page.cursor ? h("button", { type: "button", onclick: () => load(page.cursor) }, "More keys") : null);
  }
  async function refresh() {
    await load(null);
    if (shownKey) await showValue(shownKey);
  }
  await refresh();
  return { refresh };
}

export default {
  title: "KV",
  refreshOn: ["request", "batch", "cron", "rpc", "alarm", "workflow_step"],
  mount(view, route) {
    const [worker, binding] = route.parts;
    return binding ? mountNamespace(view, worker, binding, route.params) : mountList(view);
  },
};
