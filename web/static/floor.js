// The supervisor's live floor: tables kept current from the push channel. Text only, never HTML.
"use strict";

(() => {
  const root = document.getElementById("floor");
  const csrf = root.dataset.csrf;
  const data = JSON.parse(document.getElementById("floor-data").textContent);
  const labels = JSON.parse(document.getElementById("floor-labels").textContent);
  const agents = new Map(data.agents.map((a) => [a.key, a]));
  const queues = new Map(data.queues.map((q) => [q.key, q]));
  const calls = new Map(data.calls.map((c) => [c.key, c]));
  const kpis = new Map(data.kpis.map((k) => [k.key, k]));

  function since(iso) {
    if (!iso) return "";
    const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    return duration(seconds);
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    const s = Math.round(seconds);
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
  }

  function percent(value) {
    return value === null || value === undefined ? "–" : `${Math.round(value * 100)} %`;
  }

  function cell(content) {
    const td = document.createElement("td");
    if (content instanceof Node) td.append(content);
    else if (content && typeof content === "object") {
      td.textContent = content.text;
      if (content.since) td.dataset.since = content.since;
      if (content.cls) td.className = content.cls;
    } else td.textContent = content ?? "";
    return td;
  }

  function row(cells, attrs) {
    const tr = document.createElement("tr");
    for (const [name, value] of Object.entries(attrs || {})) tr.setAttribute(name, value);
    for (const content of cells) tr.append(cell(content));
    return tr;
  }

  async function act(url, body) {
    const status = document.getElementById("action-status");
    try {
      const response = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf, "Accept": "application/json" },
        body: JSON.stringify(body),
      });
      const reply = await response.json().catch(() => ({}));
      status.textContent = response.ok ? labels.done : (reply.message || response.statusText);
    } catch (error) { status.textContent = error.message; }
  }

  function button(text, onClick, testid) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "link";
    b.textContent = text;
    if (testid) b.dataset.testid = testid;
    b.addEventListener("click", onClick);
    return b;
  }

  function agentActions(agent) {
    const box = document.createElement("span");
    const base = `/api/pbx/${encodeURIComponent(agent.pbx)}`;
    if (agent.state === "paused") {
      box.append(button(labels.unpause, () => act(`${base}/pause`, { interface: agent.interface, paused: false }), "unpause"));
    } else {
      const reason = document.createElement("select");
      for (const r of data.pause_reasons) { const o = document.createElement("option"); o.value = r; o.textContent = r; reason.append(o); }
      box.append(reason, button(labels.pause, () => act(`${base}/pause`, { interface: agent.interface, paused: true, reason: reason.value }), "pause"));
    }
    for (const queue of agent.queues) {
      box.append(" ", button(`${labels.remove} ${queue}`, () => act(`${base}/queues/${encodeURIComponent(queue)}/members/remove`, { interface: agent.interface })));
    }
    const others = [...queues.values()].filter((q) => q.pbx === agent.pbx && !agent.queues.includes(q.name));
    if (others.length) {
      const pick = document.createElement("select");
      for (const q of others) { const o = document.createElement("option"); o.value = q.name; o.textContent = q.name; pick.append(o); }
      box.append(" ", pick, button(labels.add, () => act(`${base}/queues/${encodeURIComponent(pick.value)}/members`, { interface: agent.interface, name: agent.name })));
    }
    return box;
  }

  function render() {
    document.getElementById("kpis").replaceChildren(...[...kpis.values()].map((k) => row([
      k.queue, String(k.offered), String(k.answered), String(k.abandoned),
      { text: percent(k.service_level), cls: `grade ${k.grades.service_level}` },
      duration(k.asa), duration(k.aht),
      { text: percent(k.abandon_rate), cls: `grade ${k.grades.abandon_rate}` },
      { text: duration(k.longest_wait), cls: `grade ${k.grades.longest_wait}` },
    ], { "data-queue": k.queue })));
    document.getElementById("queues").replaceChildren(...[...queues.values()].sort((a, b) => a.name.localeCompare(b.name)).map((x) => {
      return row([x.name, String(x.waiting), { text: since(x.oldest), since: x.oldest }, String(x.members)],
                 { "data-queue": x.name, "data-waiting": String(x.waiting) });
    }));
    document.getElementById("agents").replaceChildren(...[...agents.values()].sort((x, y) => x.name.localeCompare(y.name)).map((x) => {
      const state = labels[x.state] || x.state;
      const text = x.paused_reason ? `${state} (${x.paused_reason})` : state;
      return row([x.name, { text, cls: `state ${x.state}` }, { text: since(x.since), since: x.since },
                  x.queues.join(", "), agentActions(x)], { "data-agent": x.name, "data-state": x.state });
    }));
    document.getElementById("calls").replaceChildren(...[...calls.values()].map((x) => row(
      [x.withheld && !x.number ? labels.withheld : (x.name ? `${x.name} ${x.number}` : x.number), x.queue, x.agent,
       { text: since(x.answered_at || x.started_at), since: x.answered_at || x.started_at }],
      { "data-call": x.key })));
  }

  function apply(message) {
    const item = message.data;
    if (message.kind === "agent") {
      if (item.queues.length) agents.set(item.key, item); else agents.delete(item.key);
    } else if (message.kind === "queue") queues.set(item.key, item);
    else if (message.kind === "call") calls.set(item.key, item);
    else if (message.kind === "call-ended") calls.delete(item.key);
    else if (message.kind === "kpi") kpis.set(item.key, item);
    else if (message.kind === "kpi-reset") kpis.clear();
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
