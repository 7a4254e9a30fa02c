// R2: the buckets, their objects folder by folder ("/"), one object's metadata and its download.

import { api, crumbs, enc, fill, h, json, latestOnly, section, table } from "./core.js";

const PAGE_SIZE = 100;

function size(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

async function mountList(view) {
  const { buckets } = await api("r2");
  view.append(
    section(
      "R2 buckets",
      table(
        [
          ["Bucket", (b) => h("a", { href: `#/r2/${enc(b.worker)}/${enc(b.binding)}` }, `env.${b.binding}`)],
          ["Worker", (b) => b.worker],
        ],
        buckets,
        { empty: "No worker binds an R2 bucket." },
      ),
    ),
  );
  return { refresh: null };
}

async function mountBucket(view, worker, binding, params) {
  const base = `r2/${enc(worker)}/${enc(binding)}`;
  const here = `#/r2/${enc(worker)}/${enc(binding)}`;
  const prefix = params.get("prefix") ?? "";
  const listing = h("div");
  const more = h("div", { class: "pager" });
  const details = h("div", { class: "value" }, h("p", { class: "muted" }, "Pick an object to see its metadata."));
  let shownKey = params.get("key");
  const folders = prefix.split("/").filter(Boolean);
  view.append(
    crumbs(
      h("a", { href: "#/r2" }, "R2"),
      h("a", { href: here }, `env.${binding}`),
      ...folders.map((part, index) => h("a", { href: `${here}?prefix=${enc(folders.slice(0, index + 1).join("/") + "/")}` }, part)),
    ),
    h("div", { class: "split" }, section("Objects", listing, more), section("Object", details)),
  );
  async function showObject(key) {
    shownKey = key;
    try {
      const obj = await api(`${base}/object?key=${enc(key)}`);
      fill(
        details,
        h("h3", {}, h("code", {}, obj.key)),
        h("dl", { class: "facts" },
          h("dt", {}, "Size"), h("dd", {}, size(obj.size)),
          h("dt", {}, "ETag"), h("dd", {}, h("code", {}, obj.etag)),
          h("dt", {}, "Uploaded"), h("dd", {}, obj.uploaded),
          h("dt", {}, "Storage class"), h("dd", {}, obj.storage_class)),
        h("h3", {}, "HTTP metadata"), h("pre", {}, json(obj.http_metadata)),
        h("h3", {}, "Custom metadata"), h("pre", {}, json(obj.custom_metadata)),
        h("a", { class: "button", href: `api/${base}/download?key=${enc(key)}`, download: key.split("/").pop() || "object" }, "Download"),
      );
    } catch (error) {
      fill(details, h("p", { class: "muted" }, error.message));
    }
  }
  const fetchObjects = latestOnly((cursor) => api(`${base}/objects?delimiter=/&limit=${PAGE_SIZE}&prefix=${enc(prefix)}${cursor ? `&cursor=${enc(cursor)}` : ""}`));
  async function load(cursor) {
    const page = await fetchObjects(cursor);
    if (!page) return;  // a newer listing replaced this one
    const rows = [
      ...page.prefixes.map((folder) => ({ folder })),
      ...page.objects,
    ];
    const rowsTable = table(
      [
        ["Name", (row) => row.folder
          ? h("a", { href: `${here}?prefix=${enc(row.folder)}` }, `${row.folder.slice(prefix.length)}`)
          : h("a", { href: "#", onclick: (event) => { event.preventDefault(); showObject(row.key); } }, row.key.slice(prefix.length))],
        ["Size", (row) => (row.folder ? "folder" : size(row.size))],
        ["Type", (row) => row.http_metadata?.contentType ?? ""],
        ["Uploaded", (row) => row.uploaded ?? ""],
      ],
      rows,
      { empty: "No object here." },
    );
    if (cursor) listing.append(rowsTable);
    else fill(listing, rowsTable);
    fill(more, page.cursor ? h("button", { type: "button", onclick: () => load(page.cursor) }, "More objects") : null);
  }
  async function refresh() {
    await load(null);
    if (shownKey) await showObject(shownKey);
  }
  await refresh();
  return { refresh };
}

export default {
  title: "R2",
  refreshOn: ["request", "batch", "cron", "rpc", "alarm", "workflow_step"],
  mount(view, route) {
    const [worker, binding] = route.parts;
    return binding ? mountBucket(view, worker, binding, route.params) : mountList(view);
  },
};
