// Durable Objects: the namespaces, their objects (name, in memory, alarm), one object's storage.

import { api, badge, crumbs, enc, fill, h, section, shortId, table, utc } from "./core.js";

function alarmText(alarm) {
  if (!alarm) return "none";
  return `${utc(alarm.scheduled_ms)}${alarm.retry_count ? ` (retry ${alarm.retry_count})` : ""}`;
}

async function mountList(view) {
  const body = h("div");
  view.append(section("Durable Object namespaces", body));
  async function refresh() {
    const { namespaces } = await api("durable-objects");
    fill(body,
      table(
        [
          ["Namespace", (n) => h("a", { href: `#/durable-objects/${enc(n.worker)}/${enc(n.binding)}` }, `env.${n.binding}`)],
          ["Class", (n) => `${n.class_name} (of ${n.defined_by})`],
          ["Storage", (n) => (n.storage === "sqlite" ? "SQLite" : "key-value")],
          ["Objects", (n) => String(n.objects)],
          ["Bound in", (n) => n.worker],
        ],
        namespaces,
        { empty: "No worker binds a Durable Object namespace." },
      ),
    );
  }
  await refresh();
  return { refresh };
}

async function mountNamespace(view, worker, binding) {
  const base = `durable-objects/${enc(worker)}/${enc(binding)}`;
  const body = h("div");
  view.append(crumbs(h("a", { href: "#/durable-objects" }, "Durable Objects"), `env.${binding} of ${worker}`), section("Objects", body));
  async function refresh() {
    const { objects } = await api(`${base}/objects`);
    fill(body,
      table(
        [
          ["Id", (o) => h("a", { href: `#/durable-objects/${enc(worker)}/${enc(binding)}/${o.id}`, title: o.id }, shortId(o.id))],
          ["Name", (o) => o.name ?? h("span", { class: "muted" }, "unique id")],
          ["In memory", (o) => (o.in_memory ? badge("live", "ok") : badge("evicted"))],
          ["Alarm", (o) => alarmText(o.alarm)],
        ],
        objects,
        { empty: "No object has been used yet." },
      ),
    );
  }
  await refresh();
  return { refresh };
}

async function mountObject(view, worker, binding, id) {
  const base = `durable-objects/${enc(worker)}/${enc(binding)}`;
  const head = h("div");
  const pairs = h("div");
  const tables = h("div");
  view.append(
    crumbs(h("a", { href: "#/durable-objects" }, "Durable Objects"), h("a", { href: `#/durable-objects/${enc(worker)}/${enc(binding)}` }, `env.${binding}`), shortId(id)),
    head,
    section("Key-value storage", pairs),
    section("SQL tables", tables),
  );
  async function refresh() {
    const obj = await api(`${base}/objects/${enc(id)}`);
    fill(head,
      h("dl", { class: "facts" },
        h("dt", {}, "Id"), h("dd", {}, h("code", {}, obj.id)),
        h("dt", {}, "Name"), h("dd", {}, obj.name ?? "unique id"),
        h("dt", {}, "Class"), h("dd", {}, obj.class_name),
        h("dt", {}, "Alarm"), h("dd", { "data-alarm": "" }, alarmText(obj.alarm))),
    );
    fill(pairs,
      table([["Key", (p) => h("code", {}, p.key)], ["Value", (p) => p.preview]], obj.pairs, { empty: "No key-value pair." }),
      obj.more_pairs ? h("p", { class: "muted" }, "More pairs are stored than shown.") : null,
    );
    fill(tables,
      table(
        [["Table", (t) => t.name], ["Rows", (t) => String(t.rows)], ["Columns", (t) => t.columns.map((c) => c.name).join(", ")]],
        obj.tables,
        { empty: "No SQL table." },
      ),
    );
  }
  await refresh();
  return { refresh };
}

export default {
  title: "Durable Objects",
  refreshOn: ["request", "rpc", "alarm", "batch", "cron"],
  mount(view, route) {
    const [worker, binding, id] = route.parts;
    if (id) return mountObject(view, worker, binding, id);
    return binding ? mountNamespace(view, worker, binding) : mountList(view);
  },
};
