// Crons: each cron trigger, its next five fire times in UTC, its recent runs, and "run now".

import { act, api, duration, errorBlock, fill, h, outcomeBadge, post, section, table, utc } from "./core.js";

function cronCard(cron, refresh) {
  const run = h("button", { type: "button", onclick: async () => {
    const answer = await act(run, () => post(`crons/${encodeURIComponent(cron.worker)}/run`, { cron: cron.cron }),
      (result) => `Ran "${cron.cron}": ${result.outcome} (${duration(result.duration_ms)})`);
    if (answer) await refresh();
  } }, "Run now");
  return h(
    "article",
    { class: "card", "data-cron": cron.cron },
    h("h2", {}, h("code", {}, cron.cron), " ", h("span", { class: "muted" }, `of ${cron.worker}`), " ", run),
    h("h3", {}, "Next five fire times (UTC)"),
    h("ol", { class: "times" }, cron.next.map((time) => h("li", {}, utc(time.ms)))),
    h("h3", {}, "Recent runs"),
    table(
      [
        ["Scheduled for", (r) => utc(r.scheduled_ms)],
        ["Outcome", (r) => outcomeBadge(r.outcome)],
        ["Duration", (r) => duration(r.duration_ms)],
        ["Error", (r) => errorBlock(r.error)],
      ],
      cron.runs,
      { empty: "No run since workerlab dev started." },
    ),
  );
}

export default {
  title: "Crons",
  refreshOn: ["cron", "session"],
  async mount(view) {
    const note = h("p", { class: "muted" });
    const body = h("div", { class: "cards" });
    view.append(section("Cron triggers", note, body));
    async function refresh() {
      const answer = await api("crons");
      note.textContent = answer.firing
        ? `Times are UTC, as Cloudflare fires them. Now: ${utc(answer.now_ms)}.`
        : "Crons do not fire on schedule in this session (--no-crons); Run now still runs them.";
      fill(body, ...(answer.crons.length ? answer.crons.map((cron) => cronCard(cron, refresh)) : [h("p", { class: "muted empty" }, "No worker has cron triggers.")]));
    }
    await refresh();
    return { refresh };
  },
};
