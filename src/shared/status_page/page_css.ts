/**
 * The status page's style sheet (served from the same origin: the page's CSP allows no inline
 * style).
 *
 * @module
 */

/** The style sheet at `GET /status/page.css`. */
export const PAGE_CSS = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 0 1.5rem 2rem; color: #1d2330; }
header { position: sticky; top: 0; background: #fff; border-bottom: 1px solid #d5d9e0;
  display: flex; gap: 1.5rem; align-items: baseline; z-index: 1; }
h1 { font-size: 1.3rem; margin: 0.6rem 0; }
h2 { font-size: 1.05rem; margin: 1.2rem 0 0.4rem; }
table { border-collapse: collapse; margin: 0.3rem 0; }
th, td { text-align: left; padding: 0.2rem 0.6rem; border-bottom: 1px solid #e6e8ec;
  vertical-align: top; }
th { font-weight: 600; background: #f4f5f7; white-space: nowrap; }
tr.proxy td:not(:last-child), td span { white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
dl { display: grid; grid-template-columns: max-content auto; gap: 0.1rem 1rem; margin: 0; }
dt { color: #5a6170; }
dd { margin: 0; }
details { margin: 0.2rem 0; }
summary { cursor: pointer; padding: 0.15rem 0; }
code, .mono { font-family: ui-monospace, monospace; font-size: 0.92em; }
.ok, .delivered, .in-step, .healthy, .registered, .connected, .leader { color: #17743a; }
.pending, .catching-up, .unknown, .standby, .suspended, .connecting { color: #8a5a00; }
.retrying, .down, .held, .invalid, .unhealthy, .failing, .conflict, .expired, .closed,
.error { color: #b3261e; font-weight: 600; }
#freshness.stale { color: #fff; background: #b3261e; padding: 0.2rem 0.6rem; border-radius: 3px; }
.more { margin: 0.3rem 0; }
`;
