// The supervisor's live floor: tables kept current from the push channel. Text only, never HTML.
"use strict";

(() => {
  const data = JSON.parse(document.getElementById("floor-data").textContent);
  const labels = JSON.parse(document.getElementById("floor-labels").textContent);
  const agents = new Map(data.agents.map((a) => [a.key, a]));
  const queues = new Map(data.queues.map((q) => [q.key, q]));
  const calls = new Map(data.calls.map((c) => [c.key, c]));

  function since(iso) {
    if (!iso) return "";
    const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    const m = Math.floor(seconds / 60);
    return `${m}:${String(seconds % 60).padStart(2, "0")}`;
  }

  function row(cells, attrs) {
    const tr = document.createElement("tr");
    for (const [name, value] of Object.entries(attrs || {})) tr.setAttribute(name, value);
    for (const cell of cells) {
      const td = document.createElement("td");
      if (cell && typeof cell === "object") {
        td.textContent = cell.text;
        if (cell.since) td.dataset.since = cell.since;
        if (cell.cls) td.className = cell.cls;
      } else {
        td.textContent = cell;
      }
      tr.appendChild(td);
    }
    return tr;
  }

  function render() {
    const q = document.getElementById("queues");
    q.replaceChildren(...[...queues.values()].sort((a, b) => a.name.localeCompare(b.name)).map((x) => {
      const oldest = x.waiting.length ? x.waiting[0].since : null;
      return row([x.name, String(x.waiting.length), { text: since(oldest), since: oldest }, String(x.members)],
                 { "data-queue": x.name });
    }));
    const a = document.getElementById("agents");
    a.replaceChildren(...[...agents.values()].sort((x, y) => x.name.localeCompare(y.name)).map((x) => {
      const state = labels[x.state] || x.state;
      const text = x.paused_reason ? `${state} (${x.paused_reason})` : state;
      return row([x.name, { text, cls: `state ${x.state}` }, { text: since(x.since), since: x.since },
                  x.queues.join(", ")], { "data-agent": x.name, "data-state": x.state });
    }));
    const c = document.getElementById("calls");
    c.replaceChildren(...[...calls.values()].map((x) => row(
      [x.name ? `${x.name} ${x.number}` : x.number, x.queue, x.agent,
       { text: since(x.answered_at || x.started_at), since: x.answered_at || x.started_at }],
      { "data-call": x.key })));
  }

  function apply(message) {
    const item = message.data;
    if (message.kind === "agent") {
      if (item.queues.length) agents.set(item.key, item); else agents.delete(item.key);
    } else if (message.kind === "queue") {
      queues.set(item.key, item);
    } else if (message.kind === "call") {
      calls.set(item.key, item);
    } else if (message.kind === "call-ended") {
      calls.delete(item.key);
    }
    render();
  }

  function tick() {
    for (const td of document.querySelectorAll("td[data-since]")) td.textContent = since(td.dataset.since);
  }

  render();
  setInterval(tick, 1000);
  ctiPush("/ws/floor", data.seq, apply, (state) => {
    const badge = document.getElementById("push-state");
    badge.textContent = labels[state] || state;
    badge.dataset.state = state;
  });
})();
