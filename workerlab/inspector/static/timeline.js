// The event timeline: requests, batches, dead letters, cron runs, RPC calls, alarms, workflow steps
// and failures, newest first, filtered; or, given a message id, that message's deliveries one by one.

import { api, badge, clock, duration, enc, errorBlock, fill, h, outcomeBadge, section, shortId, table } from "./core.js";

// Entries kept in the page (the server keeps its own, bounded, history).
const MAX_KEPT = 2000;
const KINDS = {
  "": "All kinds",
  request: "Requests",
  batch: "Queue batches",
  dead_letter: "Dead-lettered",
  drop: "Dropped",
  cron: "Cron runs",
  rpc: "RPC calls",
  alarm: "Alarms",
  workflow_step: "Workflow steps",
  wait_until: "waitUntil failures",
  action: "Inspector actions",
  session: "Loads",
};
const LEVELS = { "": "All levels", warning: "Warnings and errors", error: "Errors only" };

function levelRank(level) {
  return { info: 0, warning: 1, error: 2 }[level] ?? 0;
}

function details(entry) {
  const parts = [errorBlock(entry.error)];
  if (entry.messages) {
    parts.push(
      table(
        [
          ["Message", (m) => h("a", { href: `#/timeline?message=${enc(m.id)}` }, shortId(m.id))],
          ["Attempt", (m) => String(m.attempts)],
          ["Fate", (m) => [outcomeBadge(m.fate), m.to ? ` → ${m.to}` : "", m.delay_s ? ` after ${m.delay_s} s` : ""]],
        ],
        entry.messages,
      ),
    );
  }
  if (entry.message_id) parts.push(h("p", {}, h("a", { href: `#/timeline?message=${enc(entry.message_id)}` }, `Follow message ${entry.message_id}`)));
  return parts;
}

function entryRow(entry) {
  const outcome = entry.outcome ?? (entry.status ? String(entry.status) : "");
  return h(
    "details",
    { class: `entry level-${entry.level}`, "data-kind": entry.kind, "data-seq": entry.seq },
    h(
      "summary",
      {},
      h("span", { class: "time" }, clock(entry.at_ms)),
      badge(entry.kind.replace("_", " "), "kind"),
      entry.worker ? h("span", { class: "worker" }, entry.worker) : null,
      h("span", { class: "title" }, entry.title),
      outcome ? outcomeBadge(outcome) : null,
      h("span", { class: "duration" }, duration(entry.duration_ms)),
    ),
    h("div", { class: "entry-details" }, details(entry)),
  );
}

// One row per thing that happened to the message: a delivery with its attempt and fate, a move, a drop.
function deliveryRows(entries, id) {
  const rows = [];
  for (const entry of entries) {
    if (entry.kind === "batch") {
      const message = entry.messages.find((m) => m.id === id);
      if (!message) continue;
      rows.push({ entry, what: `delivery from ${entry.queue}`, attempt: message.attempts, fate: message.fate,
        note: message.to ? `→ ${message.to}` : message.delay_s ? `retry in ${message.delay_s} s` : "" });
    } else if (entry.kind === "dead_letter") {
      rows.push({ entry, what: `moved to ${entry.to}`, attempt: entry.attempts, fate: "dead-lettered", note: "attempts start again at 1" });
    } else if (entry.kind === "drop") {
      rows.push({ entry, what: `dropped from ${entry.queue}`, attempt: entry.attempts, fate: "dropped", note: "" });
    }
  }
  return rows;
}

function followPanel(entries, id) {
  const rows = deliveryRows(entries, id);
  const last = rows[rows.length - 1];
  const status = !last ? "not delivered yet (or before the history kept)" : last.fate === "acked" ? "acked" : last.fate;
  const panel = section(
    `Message ${id}`,
    h("p", {}, "Now: ", h("strong", { "data-message-state": status }, status), " · ", h("a", { href: "#/timeline" }, "stop following")),
    table(
      [
        ["Time", (r) => clock(r.entry.at_ms)],
        ["What", (r) => r.what],
        ["Attempt", (r) => String(r.attempt)],
        ["Fate", (r) => outcomeBadge(r.fate)],
        ["Duration", (r) => duration(r.entry.duration_ms)],
        ["Note", (r) => r.note],
        ["Error", (r) => errorBlock(r.entry.error)],
      ],
      rows,
      { empty: "No delivery of this message is on the timeline yet.", rowAttrs: (r) => ({ "data-fate": r.fate }) },
    ),
  );
  panel.dataset.follow = id;
  return panel;
}

export default {
  title: "Timeline",
  refreshOn: [],
  async mount(view, route) {
    const following = route.params.get("message");
    const filters = { kind: route.params.get("kind") ?? "", level: route.params.get("level") ?? "", worker: "", text: "" };
    let entries = [];
    const follow = h("div");
    const list = h("div", { class: "timeline" });
    const stats = h("p", { class: "muted" });
    const kind = h("select", { "aria-label": "Kind" }, Object.entries(KINDS).map(([value, label]) => h("option", { value, selected: value === filters.kind }, label)));
    const level = h("select", { "aria-label": "Level" }, Object.entries(LEVELS).map(([value, label]) => h("option", { value, selected: value === filters.level }, label)));
    const worker = h("select", { "aria-label": "Worker" }, h("option", { value: "" }, "All workers"));
    const text = h("input", { type: "search", placeholder: "Search titles", "aria-label": "Search" });
    const messageId = h("input", { type: "search", placeholder: "Message id", "aria-label": "Message id", value: following ?? "" });
    const followForm = h("form", { onsubmit: (event) => {
      event.preventDefault();
      location.hash = messageId.value.trim() ? `#/timeline?message=${enc(messageId.value.trim())}` : "#/timeline";
    } }, messageId, h("button", { type: "submit" }, "Follow"));

    const passes = (entry) =>
      (!filters.kind || entry.kind === filters.kind) &&
      levelRank(entry.level) >= levelRank(filters.level) &&
      (!filters.worker || entry.worker === filters.worker) &&
      (!filters.text || entry.title.toLowerCase().includes(filters.text.toLowerCase()));

    function renderWorkers() {
      const names = [...new Set(entries.map((e) => e.worker).filter(Boolean))].sort();
      const chosen = worker.value;
      fill(worker, h("option", { value: "" }, "All workers"), names.map((name) => h("option", { value: name, selected: name === chosen }, name)));
    }

    function render() {
      const shown = entries.filter(passes).reverse();
      fill(list, ...(shown.length ? shown.map(entryRow) : [h("p", { class: "muted empty" }, "No event matches.")]));
      if (following) fill(follow, followPanel(entries, following));
    }

    for (const [control, key] of [[kind, "kind"], [level, "level"], [worker, "worker"], [text, "text"]]) {
      control.addEventListener("input", () => { filters[key] = control.value; render(); });
    }

    let kept = null;
    function showStats() {
      stats.textContent = `${kept.entries} event(s) kept by workerlab dev (at most ${kept.max_events}); ${kept.dropped} older one(s) let go.`;
    }

    async function load() {
      const answer = await api(`timeline?limit=${MAX_KEPT}${following ? `&message=${enc(following)}` : ""}`);
      entries = answer.entries;
      kept = answer.stats;
      showStats();
      renderWorkers();
      render();
    }

    view.append(
      follow,
      section(
        following ? "Its events" : "Events",
        h("div", { class: "filters" }, kind, level, worker, text, followForm),
        stats,
        list,
      ),
    );
    await load();
    return {
      refresh: null,
      onReset: load,
      onEntry(entry) {
        if (following && !(entry.messages?.some((m) => m.id === following) || entry.message_id === following)) return;
        if (entries.length && entry.seq <= entries[entries.length - 1].seq) return;
        entries.push(entry);
        if (kept && !following) {
          if (kept.entries < kept.max_events) kept.entries += 1;
          else kept.dropped += 1;
          showStats();
        }
        if (entries.length > MAX_KEPT) entries.splice(0, entries.length - MAX_KEPT);
        if (entry.worker && ![...worker.options].some((o) => o.value === entry.worker)) renderWorkers();
        if (following) fill(follow, followPanel(entries, following));
        if (passes(entry)) {
          list.querySelector(".empty")?.remove();
          list.prepend(entryRow(entry));
        }
      },
    };
  },
};
