// One reconnecting WebSocket per page. Messages carry a sequence number; after a blip the page
// reconnects with ?since=<last seen> and the server replays what was missed, in order.
"use strict";

function ctiPush(path, since, onMessage, onState) {
  let seq = since;
  let delay = 500;
  let socket = null;

  function connect() {
    if (socket && socket.readyState <= WebSocket.OPEN) return;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(`${scheme}//${location.host}${path}?since=${seq}`);
    socket.onopen = () => { delay = 500; onState("live"); };
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.kind === "reload") { location.reload(); return; }
      if (message.seq <= seq) return;
      seq = message.seq;
      onMessage(message);
    };
    socket.onclose = () => {
      onState("reconnecting");
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 10000);
    };
  }

  // A hidden tab's timers may be throttled: reconnect at once when the page or network returns.
  document.addEventListener("visibilitychange", () => { if (!document.hidden) connect(); });
  window.addEventListener("online", connect);
  connect();
}
