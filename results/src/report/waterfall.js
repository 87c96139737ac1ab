// A request chain as a waterfall, and two side by side: shared by the
// report (report.html) and the lab's page. A chain is the compact form of
// `trace/compact.rs`, one array per hop. Names are user text: they are
// only ever set as textContent, never parsed as markup.
var TopolabChains = (function () {
  "use strict";
  // Hop fields (trace/compact.rs).
  var DEPTH = 0, PROC = 1, ROLE = 2, NAME = 3, START = 4, DUR = 5, QUEUE = 6,
    WORK = 7, HELD = 8, CODE = 9, REASON = 10, ATTEMPT = 11, CRIT = 12, PARENT = 13;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function ms(us) {
    if (us < 0) return "";
    var v = us / 1000;
    return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
  }
  function service(proc) { return proc.split("#")[0]; }
  // Time on the wire of a client hop: its duration less its callee's
  // server span (there and back); -1 when the callee left no span, -2 when
  // the callee worked on after its caller gave up (no wire to measure).
  function wire(chain, i) {
    var h = chain[i];
    if (h[ROLE] !== "client") return -1;
    var inner = -1;
    chain.forEach(function (c) {
      if (c[PARENT] === i && c[ROLE] === "server") inner = Math.max(inner, c[DUR]);
    });
    return inner < 0 ? -1 : inner > h[DUR] ? -2 : h[DUR] - inner;
  }

  // One request's card: what is known of it (`item.head`), then its chain,
  // or why there is none (`item.note`).
  function card(item, onHop) {
    var box = el("div", "one");
    box.appendChild(el("b", "", item.head));
    var chain = item.chain;
    if (!chain) {
      box.appendChild(el("p", "hint", item.note));
      return { node: box, chain: null, rows: [] };
    }
    box.appendChild(el("div", "hint", "trace " + item.id));
    var total = Math.max(1, chain.reduce(function (m, h) { return Math.max(m, h[START] + h[DUR]); }, 0));
    var table = el("table");
    var cols = el("colgroup");
    ["27%", "12%", "6%", "6%", "6%", "6%", "6%", "6%", "19%", "6%"].forEach(function (w) {
      var c = el("col");
      c.style.width = w;
      cols.appendChild(c);
    });
    table.appendChild(cols);
    var hr = el("tr");
    ["hop", "when", "start ms", "took ms", "queue", "work", "wire", "held", "status", ""].forEach(function (t) { hr.appendChild(el("th", "", t)); });
    table.appendChild(hr);
    var rows = chain.map(function (h, k) {
      var tr = el("tr", (h[CRIT] ? "critical " : "") + (h[CODE] !== "OK" ? "failed" : ""));
      var name = el("td", "name");
      name.style.paddingLeft = (4 + 12 * h[DEPTH]) + "px";
      var what = h[ROLE] === "server" ? "serving " : h[ROLE] === "client" ? "calling " : "";
      name.textContent = h[PROC] + " (" + h[ROLE] + ") " + what + h[NAME] + (h[ATTEMPT] > 1 ? " attempt " + h[ATTEMPT] : "");
      name.title = name.textContent;
      tr.appendChild(name);
      var bar = el("td");
      var track = el("div", "track");
      function seg(from, len, colour) {
        var s = el("div", "seg");
        s.style.left = (100 * from / total) + "%";
        s.style.width = Math.max(0.5, 100 * len / total) + "%";
        s.style.background = colour;
        track.appendChild(s);
      }
      seg(h[START], h[DUR], h[ROLE] === "server" ? "#9fbfe8" : "#cfcfcf");
      if (h[QUEUE] > 0) seg(h[START], h[QUEUE], "#f2be24");
      if (h[HELD] > 0) seg(h[START] + h[DUR] - h[HELD], h[HELD], "#5fb8b0");
      bar.appendChild(track);
      tr.appendChild(bar);
      var w = wire(chain, k);
      [h[START], h[DUR], h[QUEUE], h[WORK], w, h[HELD]].forEach(function (v) { tr.appendChild(el("td", "", ms(v))); });
      if (w === -2) {
        tr.children[6].textContent = "gave up";
        tr.children[6].title = "the caller gave up before its callee answered: the callee worked on";
      }
      var status = el("td", "status", h[CODE] === "OK" ? "OK" : h[CODE] + (h[REASON] ? ": " + h[REASON] : ""));
      tr.appendChild(status);
      var link = el("td");
      if (h[ROLE] === "server" && onHop) {
        var a = el("a", "queue", "queue then");
        a.title = "show " + service(h[PROC]) + "'s queue at this moment";
        a.addEventListener("click", function () { onHop(h[PROC], item.t + h[START] / 1e6, h[QUEUE]); });
        link.appendChild(a);
      }
      tr.appendChild(link);
      table.appendChild(tr);
      return { tr: tr, hop: h, wire: w };
    });
    box.appendChild(table);
    return { node: box, chain: chain, rows: rows };
  }

  // Two chains hop by hop: a hop is matched by its service, role and name
  // (the k-th occurrence with the k-th), and a figure that differs by more
  // than a quarter (and over a millisecond) is highlighted in both.
  function compare(a, b) {
    var key = function (h) { return service(h[PROC]) + "|" + h[ROLE] + "|" + h[NAME]; };
    var seen = {}, byKey = {};
    b.rows.forEach(function (r) {
      var k = key(r.hop);
      seen[k] = (seen[k] || 0) + 1;
      byKey[k + "#" + seen[k]] = r;
    });
    seen = {};
    var worst = null;
    a.rows.forEach(function (r) {
      var k = key(r.hop);
      seen[k] = (seen[k] || 0) + 1;
      var o = byKey[k + "#" + seen[k]];
      if (!o) { r.tr.classList.add("differs"); return; }
      [[DUR, 3, "took"], [QUEUE, 4, "waited in the queue"], [WORK, 5, "worked"]].forEach(function (f) {
        var x = r.hop[f[0]], y = o.hop[f[0]];
        if (x < 0 || y < 0) return;
        var gap = Math.abs(x - y);
        if (gap > 1000 && gap > 0.25 * Math.max(x, y)) {
          r.tr.children[f[1]].classList.add("differs");
          o.tr.children[f[1]].classList.add("differs");
          if (f[0] !== DUR && (!worst || gap > worst.gap)) worst = { gap: gap, hop: r.hop, what: f[2], slower: y > x ? "the second" : "the first" };
        }
      });
      if (r.hop[CODE] !== o.hop[CODE]) {
        r.tr.children[8].classList.add("differs");
        o.tr.children[8].classList.add("differs");
      }
    });
    var p = el("p", "diff");
    p.textContent = worst
      ? "The biggest difference: " + worst.slower + " request " + worst.what + " " + ms(worst.gap) + " ms longer at " + service(worst.hop[PROC]) + " (" + worst.hop[NAME] + ")."
      : "No hop differs by more than a quarter and a millisecond in its queue wait or work.";
    return p;
  }

  // Fills `panel` with the cards of `items` (one, or two compared); a
  // SERVER hop's "queue then" calls `onHop(process, seconds, queue µs)`.
  function show(panel, items, onHop) {
    panel.textContent = "";
    var pair = el("div", "pair");
    var cards = items.map(function (it) { return card(it, onHop); });
    cards.forEach(function (c) { pair.appendChild(c.node); });
    if (cards.length === 2 && cards[0].chain && cards[1].chain) {
      panel.appendChild(compare(cards[0], cards[1]));
    }
    panel.appendChild(pair);
  }

  return { show: show, service: service };
})();
