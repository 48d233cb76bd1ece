/**
 * The status page's HTML: a fixed skeleton, no data (the script fills it from `/v1/status`).
 *
 * @module
 */

/** The page at `GET /`. */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>zk-cluster-monitor status</title>
<link rel="stylesheet" href="/status/page.css">
<script src="/status/page.js" defer></script>
</head>
<body>
<header>
<h1 id="title">zk-cluster-monitor</h1>
<p id="freshness" role="status">Loading…</p>
</header>
<main>
<section id="summary"></section>
<section id="zookeeper"></section>
<section id="proxies"></section>
<section id="actions" hidden>
<h2>Actions</h2>
<p>They need the operator's token (<code>STATUS_TOKEN</code>); it is kept in this tab only.</p>
<label>Token <input id="token" type="password" autocomplete="off"></label>
<button id="resync" type="button">Resync every proxy</button>
<button id="release" type="button">Release held deletes</button>
<span id="action-result" role="status"></span>
</section>
<section id="services">
<h2>Services</h2>
<label>Filter <input id="filter" type="search" placeholder="end point or service"></label>
<div id="service-list"></div>
</section>
<section id="events"></section>
</main>
</body>
</html>
`;
