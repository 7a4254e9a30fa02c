// D1: the databases, their tables (rows, columns), rows page by page, and a read-only SQL console.

import { api, crumbs, duration, enc, fill, h, json, post, section, table } from "./core.js";

const PAGE_SIZE = 50;

function cell(value) {
  if (value === null) return h("span", { class: "muted" }, "NULL");
  return typeof value === "object" ? json(value) : String(value);
}

export function resultTable(columns, rows, empty = "No rows.") {
  return table(columns.map((name, index) => [name, (row) => cell(row[index])]), rows, { empty });
}

async function mountList(view) {
  const { databases } = await api("d1");
  view.append(
    section(
      "D1 databases",
      table(
        [
          ["Database", (d) => h("a", { href: `#/d1/${enc(d.worker)}/${enc(d.binding)}` }, `env.${d.binding}`)],
          ["Worker", (d) => d.worker],
        ],
        databases,
        { empty: "No worker binds a D1 database." },
      ),
    ),
  );
  return { refresh: null };
}

function consoleSection(base) {
  const sql = h("textarea", { rows: 4, name: "sql", "aria-label": "SQL", spellcheck: "false" }, "SELECT name FROM sqlite_schema WHERE type = 'table'");
  const output = h("div", { class: "console-output" });
  const run = h("button", { type: "submit" }, "Run (read-only)");
  const form = h("form", { class: "console", onsubmit: async (event) => {
    event.preventDefault();
    run.disabled = true;
    try {
      const result = await post(`${base}/query`, { sql: sql.value });
      fill(output,
        h("p", { class: "muted" }, `${result.rows.length} row(s)${result.truncated ? " (cut)" : ""} in ${duration(result.duration_ms)}`),
        resultTable(result.columns, result.rows),
      );
    } catch (error) {
      fill(output, h("p", { class: "error", role: "alert" }, error.message));
    } finally {
      run.disabled = false;
    }
  } }, sql, run);
  return section("SQL console", h("p", { class: "muted" }, "Reads only: writes are refused. Change data with your worker or `workerlab d1 execute`."), form, output);
}

async function mountDatabase(view, worker, binding) {
  const base = `d1/${enc(worker)}/${enc(binding)}`;
  const tables = h("div");
  view.append(crumbs(h("a", { href: "#/d1" }, "D1"), `env.${binding} of ${worker}`), section("Tables", tables), consoleSection(base));
  async function refresh() {
    const answer = await api(`${base}/tables`);
    fill(tables,
      table(
        [
          ["Table", (t) => h("a", { href: `#/d1/${enc(worker)}/${enc(binding)}/${enc(t.name)}` }, t.name)],
          ["Type", (t) => t.type],
          ["Rows", (t) => String(t.rows)],
          ["Columns", (t) => t.columns.map((c) => `${c.name}${c.type ? ` ${c.type}` : ""}${c.primary_key ? " (key)" : ""}`).join(", ")],
        ],
        answer.tables,
        { empty: "No table yet (migrations create them)." },
      ),
    );
  }
  await refresh();
  return { refresh };
}

async function mountTable(view, worker, binding, name) {
  const base = `d1/${enc(worker)}/${enc(binding)}`;
  const rows = h("div");
  const pager = h("div", { class: "pager" });
  let offset = 0;
  view.append(
    crumbs(h("a", { href: "#/d1" }, "D1"), h("a", { href: `#/d1/${enc(worker)}/${enc(binding)}` }, `env.${binding}`), name),
    section(`Rows of ${name}`, rows, pager),
  );
  async function refresh() {
    const page = await api(`${base}/tables/${enc(name)}/rows?offset=${offset}&limit=${PAGE_SIZE}`);
    fill(rows, h("p", { class: "muted" }, `Rows ${offset + 1}–${offset + page.rows.length}`), resultTable(page.columns, page.rows, "The table is empty."));
    fill(pager,
      offset > 0 ? h("button", { type: "button", onclick: () => { offset = Math.max(0, offset - PAGE_SIZE); refresh(); } }, "Previous") : null,
      page.next_offset !== null ? h("button", { type: "button", onclick: () => { offset = page.next_offset; refresh(); } }, "Next") : null,
    );
  }
  await refresh();
  return { refresh };
}

export default {
  title: "D1",
  refreshOn: ["request", "batch", "cron", "rpc", "alarm", "workflow_step"],
  mount(view, route) {
    const [worker, binding, name] = route.parts;
    if (name) return mountTable(view, worker, binding, name);
    return binding ? mountDatabase(view, worker, binding) : mountList(view);
  },
};
