// Every dot opens its request chain (see chain_view.rs). Reads #chain-data:
// one entry per drawn dot, in the order the requests chart draws its
// circles, and the chain of each traced one. Names are user text: they are
// only ever set as textContent, never parsed as markup.
(function () {
  "use strict";
  var holder = document.getElementById("chain-data");
  var chart = document.getElementById("chart-requests");
  var panel = document.getElementById("chain-panel");
  if (!holder || !chart || !panel) return;
  var data = JSON.parse(holder.textContent);
  var svg = chart.querySelector("svg");
  var circles = Array.prototype.slice.call(svg.querySelectorAll("circle"));
  var picked = [];
  // Hop fields (trace/compact.rs).
  var DEPTH = 0, PROC = 1, ROLE = 2, NAME = 3, START = 4, DUR = 5, QUEUE = 6,
    WORK = 7, HELD = 8, CODE = 9, REASON = 10, ATTEMPT = 11, CRIT = 12, PARENT = 13;

  circles.forEach(function (c, i) {
    c.setAttribute("data-dot", String(i));
    c.style.cursor = "pointer";
  });
  // The dot nearest the click, within a few pixels: dots are small.
  svg.addEventListener("click", function (e) {
    var m = svg.getScreenCTM();
    if (!m) return;
    var p = svg.createSVGPoint();
    p.x = e.clientX;
    p.y = e.clientY;
    p = p.matrixTransform(m.inverse());
    var best = -1, bestD = 64;
    circles.forEach(function (c, i) {
      var dx = +c.getAttribute("cx") - p.x, dy = +c.getAttribute("cy") - p.y;
      var d = dx * dx + dy * dy;
      if (d < bestD) { bestD = d; best = i; }
    });
    if (best >= 0) pick(best, e.shiftKey);
  });

  function pick(i, add) {
    picked = add && picked.length > 0 ? [picked[picked.length - 1], i] : [i];
    circles.forEach(function (c, k) {
      var on = picked.indexOf(k) >= 0;
      c.setAttribute("stroke", on ? "#000" : "none");
      c.setAttribute("stroke-width", on ? "2" : "0");
    });
    render();
  }
  window.topolabOpenDot = pick;

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

  function render() {
    panel.textContent = "";
    var pair = el("div", "pair");
    var chains = picked.map(function (i) { return card(i); });
    chains.forEach(function (c) { pair.appendChild(c.node); });
    if (chains.length === 2 && chains[0].chain && chains[1].chain) {
      panel.appendChild(compare(chains[0], chains[1]));
    }
    panel.appendChild(pair);
    panel.scrollIntoView({ block: "nearest" });
  }

  // One dot's card: what the sample knows, then its chain if traced.
  function card(i) {
    var d = data.dots[i];
    var box = el("div", "one");
    var head = d[0] + " · due at " + d[1].toFixed(2) + " s · " + d[2].toFixed(1) + " ms · " + d[3];
    if (d[4] !== null) head += " · held " + d[4].toFixed(0) + " ms for news";
    box.appendChild(el("b", "", head));
    var chain = d[5] ? data.chains[d[5]] : null;
    if (!chain) {
      box.appendChild(el("p", "hint", d[5]
        ? "Trace " + d[5] + " is not in traces.jsonl (its spans were dropped): only the sample's figures are known."
        : "Not traced: settings.trace is " + (data.trace_share * 100).toFixed(0) + "%, so this request's chain was not recorded; the figures above are from the request sample."));
      return { node: box, chain: null, rows: [] };
    }
    box.appendChild(el("div", "hint", "trace " + d[5]));
    var total = Math.max(1, chain.reduce(function (m, h) { return Math.max(m, h[START] + h[DUR]); }, 0));
    var table = el("table");
    var cols = el("colgroup");
    ["31%", "15%", "6%", "6%", "6%", "6%", "6%", "6%", "12%", "6%"].forEach(function (w) {
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
      if (h[ROLE] === "server") {
        var a = el("a", "queue", "queue then");
        a.title = "scroll to " + service(h[PROC]) + "'s queue chart at this moment";
        a.addEventListener("click", function () { markQueue(service(h[PROC]), h[PROC], d[1] + h[START] / 1e6, h[QUEUE]); });
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

  // Scrolls to a service's queue chart and marks the moment: the x axis is
  // read off the chart's own tick labels (seconds, with a decimal point).
  function markQueue(svc, proc, t, queueUs) {
    var box = document.getElementById("chart-service-" + svc);
    if (!box) return;
    var s = box.querySelector("svg");
    var ticks = Array.prototype.slice.call(s.querySelectorAll("text")).filter(function (x) {
      return /^\s*-?\d+\.\d+\s*$/.test(x.textContent);
    });
    var bottom = Math.max.apply(null, ticks.map(function (x) { return +x.getAttribute("y"); }));
    ticks = ticks.filter(function (x) { return +x.getAttribute("y") === bottom; });
    if (ticks.length < 2) return;
    var a = ticks[0], b = ticks[ticks.length - 1];
    var va = parseFloat(a.textContent), vb = parseFloat(b.textContent);
    var xa = +a.getAttribute("x"), xb = +b.getAttribute("x");
    var x = xa + (t - va) * (xb - xa) / (vb - va);
    var old = document.getElementById("chain-marker");
    if (old) old.parentNode.removeChild(old);
    var ns = "http://www.w3.org/2000/svg";
    var g = document.createElementNS(ns, "g");
    g.setAttribute("id", "chain-marker");
    var line = document.createElementNS(ns, "line");
    line.setAttribute("x1", x); line.setAttribute("x2", x);
    line.setAttribute("y1", 8); line.setAttribute("y2", bottom - 24);
    line.setAttribute("stroke", "#000"); line.setAttribute("stroke-width", "2");
    line.setAttribute("stroke-dasharray", "4 3");
    var label = document.createElementNS(ns, "text");
    label.setAttribute("x", x + 4); label.setAttribute("y", 20);
    label.setAttribute("font-size", "12");
    label.textContent = proc + " at " + t.toFixed(2) + " s" + (queueUs > 0 ? ", waited " + ms(queueUs) + " ms" : "");
    g.appendChild(line); g.appendChild(label);
    s.appendChild(g);
    box.scrollIntoView({ block: "center" });
  }
})();
