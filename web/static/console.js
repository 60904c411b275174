// The agent console: pops arrive on this agent's own socket. Text goes in with textContent only.
"use strict";

(() => {
  const root = document.getElementById("console");
  const csrf = root.dataset.csrf;
  const labels = JSON.parse(document.getElementById("console-labels").textContent);
  const pops = new Map();
  const list = document.getElementById("pops");
  const empty = document.getElementById("no-pops");

  function field(node, name) { return node.querySelector(`[data-field="${name}"]`); }

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf, "Accept": "application/json" },
      body: JSON.stringify(body),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.message || response.statusText);
    return data;
  }

  function dialButton(number) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "link dial-number";
    button.textContent = number;
    button.addEventListener("click", () => dial(number));
    return button;
  }

  function renderCard(customer) {
    const card = document.getElementById("card-template").content.firstElementChild.cloneNode(true);
    const name = field(card, "name");
    name.textContent = [customer.salutation, customer.name].filter(Boolean).join(" ");
    name.href = `/customers/${customer.id}`;
    field(card, "sms").href = `/customers/${customer.id}#sms`;
    field(card, "vip").hidden = !customer.vip;
    field(card, "segment").textContent = customer.segment;
    field(card, "tags").textContent = customer.tags.join(" · ");
    field(card, "notes").textContent = customer.notes;
    const prefs = field(card, "preferences");
    for (const [key, value] of Object.entries(customer.preferences)) {
      const dt = document.createElement("dt"); dt.textContent = key;
      const dd = document.createElement("dd"); dd.textContent = String(value);
      prefs.append(dt, dd);
    }
    const phones = field(card, "phones");
    for (const phone of customer.phones) {
      phones.append(dialButton(phone.e164));
      if (phone.label) phones.append(` ${phone.label} `);
    }
    const calls = field(card, "calls");
    for (const call of customer.last_calls) {
      const tr = document.createElement("tr");
      const when = new Date(call.started_at).toLocaleString();
      for (const text of [when, call.queue, call.agent, call.outcome, call.disposition, call.notes]) {
        const td = document.createElement("td"); td.textContent = text || ""; tr.append(td);
      }
      calls.append(tr);
    }
    return card;
  }

  function fill(article, pop) {
    const kind = pop.number_kind;
    field(article, "caller").textContent = pop.name || (pop.direction === "outbound" ? labels.outgoing : labels.incoming);
    field(article, "number").textContent = kind === "e164" || kind === "invalid" ? pop.number : (labels[kind] || pop.number);
    field(article, "queue").textContent = pop.queue;
    const matches = field(article, "matches");
    matches.replaceChildren();
    if (pop.customers.length > 1) {
      const hint = document.createElement("p"); hint.className = "hint"; hint.textContent = labels.several;
      matches.append(hint);
    }
    for (const customer of pop.customers) matches.append(renderCard(customer));
    if (pop.external) {
      const p = document.createElement("p");
      const a = document.createElement("a");
      a.textContent = pop.external.name;
      if (pop.external.link) { a.href = pop.external.link; a.target = "_blank"; a.rel = "noopener noreferrer"; }
      p.append(a);
      matches.append(p);
    }
    const url = field(article, "pop_url");
    url.hidden = !pop.pop_url;
    if (pop.pop_url) url.href = pop.pop_url;
    const unknown = field(article, "unknown");
    unknown.hidden = !pop.complete || pop.customers.length > 0 || !pop.e164;
    const query = new URLSearchParams({ phone: pop.e164 || pop.number, name: pop.name || "" });
    field(article, "create").href = `/customers/new?${query}`;
    field(article, "link").href = `/customers?${new URLSearchParams({ phone: pop.e164 || pop.number, attach: "1" })}`;
  }

  function setState(article, state) {
    article.dataset.state = state;
    field(article, "state").textContent = labels[state] || state;
    field(article, "wrapup").hidden = !(state === "answered" || state === "ended");
  }

  function notify(pop) {
    if (!document.hidden || !("Notification" in window) || Notification.permission !== "granted") return;
    const body = [pop.name, pop.number].filter(Boolean).join(" ");
    const note = new Notification(labels.ringing, { body, tag: pop.key });
    note.onclick = () => { window.focus(); note.close(); };
  }

  function remove(key) {
    const entry = pops.get(key);
    if (entry) { entry.article.remove(); pops.delete(key); }
    empty.hidden = pops.size > 0;
  }

  function onPop(pop, fresh) {
    let entry = pops.get(pop.key);
    if (!entry) {
      const article = document.getElementById("pop-template").content.firstElementChild.cloneNode(true);
      article.dataset.key = pop.key;
      const form = field(article, "wrapup");
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const [pbx, ...rest] = pop.key.split("/");
        const status = field(article, "status");
        try {
          await post(`/api/calls/${encodeURIComponent(pbx)}/${encodeURIComponent(rest.join("/"))}/wrapup`, {
            disposition: form.elements.disposition.value, notes: form.elements.notes.value,
          });
          status.textContent = labels.saved;
          if (article.dataset.state === "ended") setTimeout(() => remove(pop.key), 1500);
        } catch (error) { status.textContent = error.message; }
      });
      field(article, "dismiss").addEventListener("click", () => remove(pop.key));
      entry = { article };
      pops.set(pop.key, entry);
      list.prepend(article);
      // An outbound call pops when the customer's phone is dialled: it is calling, not ringing.
      setState(article, pop.direction === "outbound" ? "calling" : "ringing");
      if (fresh) notify(pop);
    }
    fill(entry.article, pop);
    empty.hidden = true;
  }

  function onMessage(message) {
    const data = message.data;
    if (message.kind === "pop" || message.kind === "pop-update") onPop(data, message.kind === "pop");
    const entry = pops.get(data.key);
    if (!entry) return;
    if (message.kind === "answered") setState(entry.article, "answered");
    else if (message.kind === "withdraw") remove(data.key);
    else if (message.kind === "ended" && entry.article.dataset.state === "answered") setState(entry.article, "ended");
    else if (message.kind === "ended" && entry.article.dataset.state === "calling") {
      setState(entry.article, "ended");
      const outcome = labels[`outcome-${data.outcome}`];
      if (outcome) field(entry.article, "state").textContent = `${labels.ended}: ${outcome}`;
    }
  }

  async function dial(number) {
    const status = document.getElementById("dial-status");
    status.textContent = labels.calling;
    try {
      const result = await post("/api/dial", { number });
      status.textContent = `${result.dialled}: ${result.reason}`;
    } catch (error) { status.textContent = error.message; }
  }

  document.getElementById("dial-form").addEventListener("submit", (event) => {
    event.preventDefault();
    dial(event.target.elements.number.value);
  });

  if ("Notification" in window && Notification.permission === "default") {
    const hint = document.getElementById("notify-hint");
    hint.hidden = false;
    document.getElementById("notify").addEventListener("click", async () => {
      await Notification.requestPermission();
      hint.hidden = true;
    });
  }

  ctiPush("/ws/agent", 0, onMessage, (state) => {
    const badge = document.getElementById("push-state");
    badge.textContent = labels[state] || state;
    badge.dataset.state = state;
  });
})();
