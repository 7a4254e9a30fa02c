// Workers: each loaded worker, its handlers, crons, queue consumers and bindings.

import { api, badge, fill, h, section, table } from "./core.js";

function bindingLink(binding) {
  const routes = { "KV Namespace": "kv", "D1 Database": "d1", "R2 Bucket": "r2", Queue: "queues",
    "Durable Object": "durable-objects", Workflow: "workflows" };
  const page = routes[binding.kind];
  const name = binding.binding ? `env.${binding.binding}` : "(no binding)";
  return page ? h("a", { href: `#/${page}` }, name) : name;
}

function workerCard(worker) {
  return h(
    "article",
    { class: "card", "data-worker": worker.name },
    h("h2", {}, worker.name, " ", worker.primary ? badge("serves HTTP", "ok") : null),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Config"), h("dd", {}, h("code", {}, worker.config)),
      h("dt", {}, "Main module"), h("dd", {}, h("code", {}, worker.main)),
      h("dt", {}, "Handlers"), h("dd", {}, worker.handlers.length ? worker.handlers.join(", ") : "none"),
      h("dt", {}, "Crons"), h("dd", {}, worker.crons.length ? worker.crons.map((cron) => h("code", {}, cron, " ")) : "none"),
      h("dt", {}, "Consumes"),
      h("dd", {}, worker.consumers.length
        ? worker.consumers.map((c) => h("a", { href: `#/queues/${encodeURIComponent(c.queue)}` }, c.queue, " "))
        : "no queue"),
    ),
    h("h3", {}, "Bindings"),
    table(
      [
        ["Binding", bindingLink],
        ["Kind", (b) => b.kind],
        ["Resource", (b) => (b.overridden ? "your fake (--binding)" : b.resource)],
        ["Mode", (b) => badge(b.mode, b.mode === "local" ? "ok" : b.mode === "not emulated" ? "warning" : "")],
      ],
      worker.bindings,
      { empty: "No bindings." },
    ),
  );
}

export default {
  title: "Workers",
  refreshOn: ["session"],
  async mount(view) {
    const body = h("div", { class: "cards" });
    view.append(section("Workers", body));
    async function refresh() {
      const { workers } = await api("workers");
      fill(body, ...workers.map(workerCard));
    }
    await refresh();
    return { refresh };
  },
};
