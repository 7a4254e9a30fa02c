// Queues: counts of every queue; one queue's messages page by page, its dropped messages, and the
// actions (send a test message, pause, resume, purge, redrive its dead letters).

import { act, api, badge, crumbs, enc, fill, h, json, post, section, shortId, table, utc } from "./core.js";

const PAGE_SIZE = 50;
const STATE_KINDS = { ready: "ok", delayed: "warning", pulled: "warning", in_flight: "", expired: "error" };

function queueLink(name) {
  return h("a", { href: `#/queues/${enc(name)}` }, name);
}

function stateBadge(queue) {
  if (queue.paused) return badge("paused", "warning");
  return queue.consumer ? badge("delivering", "ok") : badge("kept: no consumer");
}

function relations(queue) {
  return [
    queue.dead_letter_queue ? ["dead letters → ", queueLink(queue.dead_letter_queue)] : null,
    queue.dead_letter_of.length ? ["dead-letter queue of ", queue.dead_letter_of.map((q) => [queueLink(q), " "])] : null,
  ];
}

function count(value) {
  return value === undefined || value === null ? "—" : String(value);
}

async function mountList(view) {
  const body = h("div");
  view.append(section("Queues", body));
  async function refresh() {
    const { queues } = await api("queues");
    fill(body,
      table(
        [
          ["Queue", (q) => queueLink(q.name)],
          ["Consumer", (q) => (q.consumer ? q.consumer.worker : h("span", { class: "muted" }, "none"))],
          ["Pending", (q) => count(q.pending)],
          ["Delayed", (q) => count(q.delayed)],
          ["In flight", (q) => count(q.in_flight)],
          ["Dropped", (q) => count(q.dropped)],
          ["Expired", (q) => count(q.expired)],
          ["State", stateBadge],
          ["Dead letters", relations],
        ],
        queues,
        { empty: "No queue is configured or holds messages.", rowAttrs: (q) => ({ "data-queue": q.name }) },
      ),
    );
  }
  await refresh();
  return { refresh };
}

function messageRow(message) {
  return [
    h("a", { href: `#/timeline?message=${enc(message.id)}`, title: "Follow this message on the timeline" }, shortId(message.id)),
    String(message.attempts),
    message.next_delivery ? utc(Date.parse(message.next_delivery)) : "—",
    message.state ? badge(message.state.replace("_", " "), STATE_KINDS[message.state] ?? "") : "",
    h("details", { class: "body" }, h("summary", {}, message.preview), h("pre", {}, json(message.body))),
  ];
}

function messagesTable(messages, empty) {
  const columns = ["ID", "Attempts", "Next delivery", "State", "Body"].map((title, index) => [title, (row) => row[index]]);
  return table(columns, messages.map(messageRow), { empty });
}

function sendForm(queue) {
  const body = h("textarea", { rows: 3, name: "body", "aria-label": "Message body" }, '{"hello": "world"}');
  const type = h("select", { name: "content_type", "aria-label": "Content type" }, h("option", { value: "json" }, "json"), h("option", { value: "text" }, "text"));
  const delay = h("input", { type: "number", min: 0, max: 43200, value: 0, name: "delay", "aria-label": "Delay in seconds" });
  const button = h("button", { type: "submit" }, "Send");
  const form = h("form", { class: "send", onsubmit: async (event) => {
    event.preventDefault();
    let value = body.value;
    if (type.value === "json") {
      try {
        value = JSON.parse(body.value);
      } catch (error) {
        return act(button, () => Promise.reject(new Error(`The body is not JSON: ${error.message}`)));
      }
    }
    await act(button, () => post(`queues/${enc(queue)}/send`, { body: value, content_type: type.value, delay_seconds: Number(delay.value) }), "Message sent");
  } }, h("label", {}, "Body ", body), h("label", {}, "Type ", type), h("label", {}, "Delay (s) ", delay), button);
  return form;
}

function actions(queue, info, refresh) {
  const buttons = [];
  const pause = h("button", { type: "button", onclick: async () => {
    const verb = info.paused ? "resume" : "pause";
    await act(pause, () => post(`queues/${enc(queue)}/${verb}`), info.paused ? "Delivery resumed" : "Delivery paused");
    await refresh();
  } }, info.paused ? "Resume delivery" : "Pause delivery");
  buttons.push(pause);
  const purge = h("button", { type: "button", class: "danger", onclick: async () => {
    if (!confirm(`Delete every message of ${queue}? This cannot be undone.`)) return;
    await act(purge, () => post(`queues/${enc(queue)}/purge`), (answer) => `Purged ${answer?.purged ?? "the"} message(s)`);
    await refresh();
  } }, "Purge");
  buttons.push(purge);
  if (info.dead_letter_of.length) {
    const target = h("select", { "aria-label": "Redrive to" }, info.dead_letter_of.map((q) => h("option", { value: q }, q)));
    const redrive = h("button", { type: "button", onclick: async () => {
      await act(redrive, () => post(`queues/${enc(queue)}/redrive`, { to: target.value }), (answer) => `Moved ${answer?.moved ?? "the"} message(s) to ${target.value}`);
      await refresh();
    } }, "Redrive");
    buttons.push(h("span", { class: "redrive" }, redrive, " to ", target));
  }
  return h("div", { class: "actions" }, buttons);
}

async function mountQueue(view, queue) {
  const summary = h("div", { class: "summary" });
  const actionBar = h("div");
  const messages = h("div");
  const dropped = h("div");
  const pager = h("div", { class: "pager" });
  let cursors = [null];  // the cursor of each page seen so far; the last is the current page
  view.append(
    crumbs(h("a", { href: "#/queues" }, "Queues"), queue),
    summary,
    actionBar,
    section("Send a test message", sendForm(queue)),
    section("Messages", messages, pager),
    section("Dropped (failed with no dead-letter queue)", dropped),
  );
  async function refresh() {
    const { queues } = await api("queues");
    const info = queues.find((q) => q.name === queue) ?? { name: queue, dead_letter_of: [], pending: 0 };
    fill(summary,
      h("span", { class: "stat" }, "Pending ", h("strong", { "data-count": "pending" }, count(info.pending))),
      h("span", { class: "stat" }, "Delayed ", h("strong", {}, count(info.delayed))),
      h("span", { class: "stat" }, "In flight ", h("strong", {}, count(info.in_flight))),
      h("span", { class: "stat" }, "Dropped ", h("strong", {}, count(info.dropped))),
      info.expired !== undefined ? h("span", { class: "stat" }, "Expired ", h("strong", {}, count(info.expired))) : null,
      stateBadge(info), " ", relations(info),
    );
    fill(actionBar, actions(queue, info, refresh));
    const cursor = cursors[cursors.length - 1];
    const page = await api(`queues/${enc(queue)}/messages?limit=${PAGE_SIZE}${cursor ? `&cursor=${enc(cursor)}` : ""}`);
    fill(messages, messagesTable(page.messages, "No message waits in this queue."));
    fill(pager,
      cursors.length > 1 ? h("button", { type: "button", onclick: () => { cursors = [null]; refresh(); } }, "First page") : null,
      page.cursor ? h("button", { type: "button", onclick: () => { cursors.push(page.cursor); refresh(); } }, "Next page") : null,
    );
    const lost = await api(`queues/${enc(queue)}/dropped?limit=${PAGE_SIZE}`);
    fill(dropped, messagesTable(lost.messages, "No message was dropped."));
  }
  await refresh();
  return { refresh };
}

export default {
  title: "Queues",
  refreshOn: ["batch", "dead_letter", "drop", "action", "request", "cron", "queues"],
  mount(view, route) {
    return route.parts.length ? mountQueue(view, route.parts[0]) : mountList(view);
  },
};
