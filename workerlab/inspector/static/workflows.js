// Workflows: each workflow's instances by status, one instance's steps, and pause/resume/terminate.

import { act, api, crumbs, enc, fill, h, json, outcomeBadge, post, section, table } from "./core.js";

const ACTIONS = ["pause", "resume", "terminate", "restart"];

async function mountList(view) {
  const body = h("div");
  view.append(section("Workflows", body));
  async function refresh() {
    const { workflows } = await api("workflows");
    fill(body,
      table(
        [
          ["Workflow", (w) => h("a", { href: `#/workflows/${enc(w.name)}` }, w.name)],
          ["Instances", (w) => String(w.instances)],
          ["By status", (w) => Object.entries(w.by_status).map(([status, n]) => [outcomeBadge(status), ` ${n} `])],
        ],
        workflows,
        { empty: "No worker binds a workflow." },
      ),
    );
  }
  await refresh();
  return { refresh };
}

async function mountWorkflow(view, name) {
  const body = h("div");
  view.append(crumbs(h("a", { href: "#/workflows" }, "Workflows"), name), section("Instances (newest first)", body));
  async function refresh() {
    const { instances } = await api(`workflows/${enc(name)}/instances`);
    fill(body,
      table(
        [
          ["Instance", (i) => h("a", { href: `#/workflows/${enc(name)}/${enc(i.id)}` }, i.id)],
          ["Status", (i) => outcomeBadge(i.status)],
          ["Steps", (i) => String(i.steps)],
          ["Params", (i) => i.params],
          ["Error", (i) => (i.error ? `${i.error.name}: ${i.error.message}` : "")],
        ],
        instances,
        { empty: "No instance yet." },
      ),
    );
  }
  await refresh();
  return { refresh };
}

async function mountInstance(view, name, id) {
  const base = `workflows/${enc(name)}/instances/${enc(id)}`;
  const head = h("div");
  const steps = h("div");
  view.append(crumbs(h("a", { href: "#/workflows" }, "Workflows"), h("a", { href: `#/workflows/${enc(name)}` }, name), id), head, section("Steps", steps));
  async function refresh() {
    const instance = await api(base);
    const buttons = ACTIONS.map((action) => {
      const button = h("button", { type: "button", class: action === "terminate" ? "danger" : "", onclick: async () => {
        await act(button, () => post(`${base}/${action}`), (answer) => `Status: ${answer.status}`);
        await refresh();
      } }, action[0].toUpperCase() + action.slice(1));
      return button;
    });
    fill(head,
      h("p", {}, "Status ", h("span", { "data-status": instance.status }, outcomeBadge(instance.status))),
      h("div", { class: "actions" }, buttons),
      h("h3", {}, "Params"), h("pre", {}, json(instance.params)),
      instance.output !== null ? [h("h3", {}, "Output"), h("pre", {}, json(instance.output))] : null,
      instance.error ? h("p", { class: "error" }, `${instance.error.name}: ${instance.error.message}`) : null,
    );
    fill(steps,
      table(
        [
          ["Step", (s) => s.name],
          ["Type", (s) => s.type],
          ["Attempts", (s) => String(s.attempts)],
          ["Outcome", (s) => outcomeBadge(s.outcome)],
          ["Error", (s) => (s.error ? `${s.error.name}: ${s.error.message}` : "")],
        ],
        instance.steps,
        { empty: "No step reached yet." },
      ),
    );
  }
  await refresh();
  return { refresh };
}

export default {
  title: "Workflows",
  refreshOn: ["workflow_step", "action", "request", "workflows"],
  mount(view, route) {
    const [name, id] = route.parts;
    if (id) return mountInstance(view, name, id);
    return name ? mountWorkflow(view, name) : mountList(view);
  },
};
