"""The API docs page, served by the service itself (no CDN: a deployment may have no internet).

The page is a shell; what it lists comes from ``/openapi.json``, fetched with the token the
reader types (kept in the tab's sessionStorage only)."""

from __future__ import annotations

DOCS_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>sharelaw decision service: API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b}
code,pre{font:13px ui-monospace,monospace;background:#f3f3f3;padding:.1rem .3rem}
pre{padding:.6rem;overflow:auto}.op{border:1px solid #ccc;border-radius:4px;margin:.6rem 0;padding:.4rem .8rem}
.m{display:inline-block;min-width:3.5rem;font-weight:700}.get{color:#0b5394}.post{color:#38761d}
details>summary{cursor:pointer}
</style></head><body>
<h1>sharelaw decision service</h1>
<p>Every endpoint but <code>/healthz</code> and <code>/readyz</code> needs a bearer token
(<code>sharelaw token new</code>). Paste one to read this service's OpenAPI document.</p>
<form id="f"><label>Token <input id="t" type="password" size="50" autocomplete="off"></label>
<button>Show the API</button></form><p id="msg"></p><div id="api"></div>
<script src="/docs/app.js"></script></body></html>
"""

DOCS_JS = """'use strict';
const el = (tag, text, cls) => { const e = document.createElement(tag); if (text) e.textContent = text; if (cls) e.className = cls; return e; };
async function show(token) {
  const msg = document.getElementById('msg'), api = document.getElementById('api');
  api.replaceChildren(); msg.textContent = 'loading...';
  const r = await fetch('/openapi.json', {headers: {Authorization: 'Bearer ' + token}});
  if (!r.ok) { msg.textContent = 'the service answered ' + r.status + ': ' + ((await r.json()).detail || ''); return; }
  const doc = await r.json(); msg.textContent = doc.info.title + ' ' + doc.info.version;
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const box = el('div', null, 'op'); const head = el('div');
      head.append(el('span', method.toUpperCase(), 'm ' + method), el('code', path), document.createTextNode(' ' + (op.summary || '')));
      box.append(head);
      const params = (op.parameters || []).map(p => p.name + ' (' + p.in + (p.required ? ', required' : '') + ')');
      if (params.length) box.append(el('div', 'parameters: ' + params.join(', ')));
      box.append(el('div', 'responses: ' + Object.keys(op.responses).join(', ')));
      const body = op.requestBody && op.requestBody.content['application/json'];
      if (body) { const d = el('details'); d.append(el('summary', 'request body schema'), el('pre', JSON.stringify(body.schema, null, 2))); box.append(d); }
      api.append(box);
    }
  }
  const d = el('details'); d.append(el('summary', 'component schemas'), el('pre', JSON.stringify(doc.components.schemas, null, 2))); api.append(d);
}
document.getElementById('f').addEventListener('submit', ev => {
  ev.preventDefault(); const t = document.getElementById('t').value.trim(); sessionStorage.setItem('sharelaw-token', t); show(t);
});
const saved = sessionStorage.getItem('sharelaw-token'); if (saved) show(saved);
"""
