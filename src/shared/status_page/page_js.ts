/**
 * The status page's script, served as `/status/page.js` from the same origin (the page's CSP
 * allows no inline script). It polls `/v1/status` every two seconds and rebuilds the changing
 * parts of the page.
 *
 * Every name, data and reason in the document may come from ZooKeeper or a proxy, so the DOM is
 * built with `textContent` and properties only, never by parsing markup. Services are grouped
 * per end point, collapsed by default on large trees and shown a hundred at a time, so a tree of
 * ten thousand services stays quick to render.
 *
 * @module
 */

/** The script at `GET /status/page.js`. */
export const PAGE_JS = String.raw`"use strict";
(() => {
  const POLL_MS = 2000;
  /**
   * A server that accepts the connection but never answers (a stopped or wedged process) would
   * otherwise hold the poll for minutes and leave the page saying "Updated" all along.
   */
  const POLL_TIMEOUT_MS = 6000;
  /** Trees up to this many services show every end point open. */
  const OPEN_ALL_UP_TO = 200;
  const PAGE_SIZE = 100;
  const TOKEN_KEY = "zkcm-status-token";

  const state = {
    doc: undefined,
    lastOkMs: undefined,
    error: undefined,
    /** End point -> open, as the operator left it. */
    expanded: new Map(),
    /** End point -> services shown. */
    shown: new Map(),
  };

  const $ = (id) => document.getElementById(id);

  /** An element with properties and children (strings become text nodes, never markup). */
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(props || {})) {
      if (value !== undefined) node[name] = value;
    }
    for (const child of children) {
      if (child === undefined || child === null) continue;
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  const cls = (text) => String(text).replace(/[^a-z]+/gi, "-").toLowerCase();

  function row(className, ...cells) {
    return el("tr", { className }, ...cells);
  }

  function table(headers, rows) {
    return el(
      "table",
      {},
      el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", {}, h)))),
      el("tbody", {}, ...rows),
    );
  }

  function pairs(list) {
    const dl = el("dl");
    for (const [term, value] of list) {
      if (value === undefined || value === null || value === "") continue;
      dl.append(el("dt", {}, term), typeof value === "string" ? el("dd", {}, value) : el("dd", {}, value));
    }
    return dl;
  }

  function age(ms) {
    if (ms < 1000) return Math.round(ms) + " ms";
    const s = Math.round(ms / 1000);
    if (s < 120) return s + " s";
    const m = Math.round(s / 60);
    return m < 120 ? m + " min" : Math.round(m / 60) + " h";
  }

  function when(iso) {
    if (!iso) return "";
    const at = new Date(iso);
    return at.toLocaleTimeString() + " (" + age(Date.now() - at.getTime()) + " ago)";
  }

  function badge(text, kind) {
    return el("span", { className: cls(kind || text) }, text);
  }

  function section(id, title, ...content) {
    $(id).replaceChildren(el("h2", {}, title), ...content);
  }

  // ---- freshness ----

  function renderFreshness() {
    const p = $("freshness");
    if (state.error !== undefined) {
      p.className = "stale";
      p.textContent = state.lastOkMs === undefined
        ? "No data: " + state.error
        : "Not updating since " + new Date(state.lastOkMs).toLocaleTimeString() + " (" +
          age(Date.now() - state.lastOkMs) + "): " + state.error +
          ". The process may have stopped.";
    } else {
      p.className = "fresh";
      p.textContent = "Updated " + new Date(state.lastOkMs).toLocaleTimeString() +
        ", every " + POLL_MS / 1000 + " s";
    }
  }

  // ---- the monitor ----

  function renderMonitor(doc) {
    const m = doc.monitor;
    $("title").textContent = "Monitor " + m.id;
    section(
      "summary",
      "This monitor",
      pairs([
        ["id", m.id],
        [
          "role",
          m.leader
            ? badge("leader (epoch " + m.epoch + ")", "leader")
            : badge("standby" + (m.leaderId ? " (leader: " + m.leaderId + ")" : ""), "standby"),
        ],
        ["root watched", m.root],
        ["mirror", m.synced ? "synced, " + m.services + " services" : badge("not synced yet", "pending")],
      ]),
    );
    renderSession(doc.zookeeper);
    section(
      "proxies",
      "Proxies",
      table(
        ["proxy", "delivery", "state", "login", "in flight", "pending", "oldest pending", "retries", "last error"],
        doc.proxies.map((p) =>
          row(
            "proxy",
            el("td", { className: "mono" }, p.proxy),
            el("td", {}, p.delivery),
            el("td", {}, badge(p.state)),
            el("td", {}, p.login || ""),
            el("td", { className: "num" }, String(p.inFlight)),
            el("td", { className: "num" }, String(p.pending)),
            el("td", { className: "num" }, p.pending > 0 ? age(p.oldestPendingMs) : ""),
            el("td", { className: "num" }, String(p.retries)),
            el("td", {}, p.lastError ? p.lastError.reason + (p.lastError.at ? ", " + when(p.lastError.at) : "") : ""),
          )
        ),
      ),
    );
    $("actions").hidden = false;
    renderEndPoints(doc);
    section(
      "events",
      "Recent decisions (newest first)",
      table(
        ["at", "decision", "proxy", "op", "service", "reason", "epoch"],
        doc.events.map((e) =>
          row(
            "event",
            el("td", {}, new Date(e.at).toLocaleTimeString()),
            el("td", {}, badge(e.decision)),
            el("td", { className: "mono" }, e.proxy || ""),
            el("td", {}, e.op || ""),
            el("td", { className: "mono" }, e.key || ""),
            el("td", {}, e.reason || ""),
            el("td", { className: "num" }, e.epoch === undefined ? "" : String(e.epoch)),
          )
        ),
      ),
    );
  }

  function renderSession(z) {
    section(
      "zookeeper",
      "ZooKeeper session",
      pairs([
        ["state", badge(z.state)],
        ["since", when(z.since)],
        ["server", z.server],
        ["session", z.sessionId],
        ["watch mode", z.watchMode],
        ["problem", z.problem],
      ]),
    );
  }

  function deliveryText(d) {
    switch (d.state) {
      case "delivered": return "delivered";
      case "pending": return d.op ? "pending " + d.op : "pending";
      case "retrying": return "retrying " + d.op + ": " + d.reason;
      case "held": return "held: " + d.reason;
      case "invalid": return "invalid: " + d.reason;
      default: return String(d.state);
    }
  }

  function renderEndPoints(doc) {
    const filter = $("filter").value.trim().toLowerCase();
    const proxies = doc.proxies.map((p) => p.proxy);
    const total = doc.endPoints.reduce((n, e) => n + e.services.length, 0);
    const list = [];
    for (const endPoint of doc.endPoints) {
      const services = filter === "" || endPoint.name.toLowerCase().includes(filter)
        ? endPoint.services
        : endPoint.services.filter((s) => s.name.toLowerCase().includes(filter));
      if (services.length === 0) continue;
      list.push({ name: endPoint.name, services });
    }
    const shownTotal = list.reduce((n, e) => n + e.services.length, 0);
    const openByDefault = shownTotal <= OPEN_ALL_UP_TO;
    const nodes = list.map(({ name, services }) => {
      // Per service, the state of its first proxy that is not delivered (else delivered).
      const counts = {};
      for (const service of services) {
        const worst = service.delivery.find((d) => d.state !== "delivered");
        const s = worst ? worst.state : "delivered";
        counts[s] = (counts[s] || 0) + 1;
      }
      const open = state.expanded.has(name) ? state.expanded.get(name) : openByDefault;
      const details = el("details", { className: "end-point", open });
      details.addEventListener("toggle", () => {
        state.expanded.set(name, details.open);
        if (details.open && details.childElementCount === 1) fillEndPoint(details, name, services, proxies);
      });
      const summary = el("summary", {}, el("strong", { className: "mono" }, name), " — " + services.length + " services");
      for (const [s, n] of Object.entries(counts)) summary.append(" · ", badge(n + " " + s, s));
      details.append(summary);
      if (open) fillEndPoint(details, name, services, proxies);
      return details;
    });
    const head = el("p", {}, total + " services in " + doc.endPoints.length + " end points" +
      (filter ? "; " + shownTotal + " match" : ""));
    $("service-list").replaceChildren(head, ...nodes);
  }

  function fillEndPoint(details, name, services, proxies) {
    const shown = Math.min(services.length, state.shown.get(name) || PAGE_SIZE);
    const rows = services.slice(0, shown).map((service) =>
      row(
        "service",
        el("td", { className: "mono name" }, service.name),
        el("td", { className: "mono" }, service.target),
        ...service.delivery.map((d) =>
          el("td", { className: "delivery " + cls(d.state) }, deliveryText(d))
        ),
      )
    );
    details.append(table(["service", "host:port", ...proxies], rows));
    if (shown < services.length) {
      const more = el("button", { type: "button", className: "more" },
        "Show " + Math.min(PAGE_SIZE, services.length - shown) + " more of " + (services.length - shown));
      more.addEventListener("click", () => {
        state.shown.set(name, shown + PAGE_SIZE);
        render();
      });
      details.append(more);
    }
  }

  // ---- the client ----

  function renderClient(doc) {
    $("title").textContent = "Client";
    section("summary", "This client", pairs([["services wanted", String(doc.services.length)]]));
    renderSession(doc.zookeeper);
    $("proxies").replaceChildren();
    $("events").replaceChildren();
    $("filter").parentElement.hidden = true;
    $("service-list").replaceChildren(
      table(
        ["path", "data", "status", "session", "health check", "last result", "in a row"],
        doc.services.map((s) =>
          row(
            "service",
            el("td", { className: "mono name" }, s.path),
            el("td", { className: "mono" }, s.data),
            el("td", {}, badge(s.status), s.reason ? ": " + s.reason : "", s.wanted ? "" : " (not wanted)"),
            el("td", { className: "mono" }, s.session || ""),
            el("td", {}, s.health ? badge(s.health.state) : "none", s.health ? " " + s.health.target : ""),
            el("td", {}, s.health ? s.health.lastResult : ""),
            el("td", {}, s.health
              ? s.health.successesInARow + " ok (rise " + s.health.rise + "), " +
                s.health.failuresInARow + " failed (fall " + s.health.fall + ")"
              : ""),
          )
        ),
      ),
    );
  }

  // ---- actions ----

  async function act(path, label) {
    const input = $("token");
    const token = input.value.trim() || sessionStorage.getItem(TOKEN_KEY) || "";
    const result = $("action-result");
    if (token === "") {
      result.textContent = label + ": paste the token first";
      return;
    }
    try {
      const response = await fetch(path, {
        method: "POST",
        headers: { "Authorization": "Bearer " + token, "Content-Type": "application/json" },
        body: "{}",
      });
      const body = await response.json().catch(() => ({}));
      if (response.ok) {
        sessionStorage.setItem(TOKEN_KEY, token);
        input.value = "";
        result.textContent = label + ": done " + JSON.stringify(body);
      } else {
        result.textContent = label + ": refused (HTTP " + response.status + "): " + (body.error || "");
      }
    } catch (error) {
      result.textContent = label + ": failed: " + error;
    }
  }

  // ---- the loop ----

  function render() {
    renderFreshness();
    const doc = state.doc;
    if (!doc) return;
    if (doc.kind === "monitor") renderMonitor(doc);
    else renderClient(doc);
  }

  async function poll() {
    try {
      const response = await fetch("/v1/status", {
        cache: "no-store",
        signal: AbortSignal.timeout(POLL_TIMEOUT_MS),
      });
      if (!response.ok) throw new Error("HTTP " + response.status);
      state.doc = await response.json();
      state.lastOkMs = Date.now();
      state.error = undefined;
    } catch (error) {
      state.error = error instanceof Error ? error.message : String(error);
    }
    render();
    setTimeout(poll, POLL_MS);
  }

  $("resync").addEventListener("click", () => act("/v1/resync", "Resync"));
  $("release").addEventListener("click", () => act("/v1/guard/release", "Release"));
  $("filter").addEventListener("input", () => render());
  poll();
})();
`;
