// The page's router: one view per hash route (#/queues/jobs, #/d1/app/DB/users, ...), kept live by the
// event stream: an entry or a change notice that concerns the view refreshes it.

import { h, onLive, startLive } from "./core.js";
import crons from "./crons.js";
import d1 from "./d1.js";
import durable from "./durable.js";
import kv from "./kv.js";
import queues from "./queues.js";
import r2 from "./r2.js";
import timeline from "./timeline.js";
import workers from "./workers.js";
import workflows from "./workflows.js";

// A page: { title, refreshOn: entry kinds and change topics, mount(view, route) -> { refresh, onEntry? } }.
const PAGES = { workers, queues, crons, kv, d1, r2, "durable-objects": durable, workflows, timeline };
// How long a burst of events is gathered into one refresh.
const REFRESH_DELAY_MS = 250;
// Entries kept for a page still loading.
const EARLY_KEPT = 500;

let current = null;
let refreshTimer = null;

function parseRoute() {
  const [path, query = ""] = location.hash.replace(/^#\/?/, "").split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { page: parts[0] || "workers", parts: parts.slice(1), params: new URLSearchParams(query) };
}

async function show() {
  const route = parseRoute();
  const page = PAGES[route.page] ?? PAGES.workers;
  for (const link of document.querySelectorAll("nav.tabs a")) {
    link.classList.toggle("active", link.dataset.page === route.page);
  }
  const view = document.getElementById("view");
  const fresh = h("div", { class: "page", "data-view": route.page });
  view.replaceChildren(fresh);
  document.title = `${page.title} · workerlab inspector`;
  // Entries that arrive while the page loads are handed to it once it has.
  const mounted = { page, route, handle: null, early: [] };
  current = mounted;
  try {
    mounted.handle = await page.mount(fresh, route);
  } catch (error) {
    fresh.append(h("p", { class: "error" }, error.message));
    return;
  }
  for (const entry of mounted.early) mounted.handle?.onEntry?.(entry);
  mounted.early = [];
}

function scheduleRefresh() {
  if (refreshTimer !== null) return;
  refreshTimer = setTimeout(async () => {
    refreshTimer = null;
    const mounted = current;
    if (mounted?.handle?.refresh) {
      try {
        await mounted.handle.refresh();
      } catch (error) {
        console.warn("refresh failed", error);
      }
    }
  }, REFRESH_DELAY_MS);
}

// Entries up to this sequence number were history when the stream (re)started: the page already
// shows their effects, so they refresh nothing.
let historyUpTo = 0;
let connections = 0;

onLive((kind, data) => {
  const mounted = current;
  if (kind === "hello") {
    historyUpTo = data.latest_seq;
    connections += 1;
    if (connections > 1) scheduleRefresh();  // reconnected: things may have changed meanwhile
    return;
  }
  if (mounted && !mounted.handle && kind === "entry" && mounted.early.length < EARLY_KEPT) mounted.early.push(data);
  if (!mounted?.handle) return;
  if (kind === "entry") {
    mounted.handle.onEntry?.(data);
    if (data.seq > historyUpTo && mounted.page.refreshOn.includes(data.kind)) scheduleRefresh();
  } else if (kind === "changed") {
    if (data.topics.some((topic) => mounted.page.refreshOn.includes(topic))) scheduleRefresh();
  } else if (kind === "reset") {
    mounted.handle.onReset?.();
    scheduleRefresh();
  }
});

window.addEventListener("hashchange", show);
startLive();
show();
