// The report's requests chart: every dot opens its request chain (see
// chain_view.rs). Reads #chain-data: one entry per drawn dot, in the order
// the chart draws its circles, and the chain of each traced one; draws with
// TopolabChains (waterfall.js).
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
    TopolabChains.show(panel, picked.map(item), markQueue);
    panel.scrollIntoView({ block: "nearest" });
  }
  window.topolabOpenDot = pick;

  // What the sample knows of dot i, and its chain.
  function item(i) {
    var d = data.dots[i];
    var head = d[0] + " · due at " + d[1].toFixed(2) + " s · " + d[2].toFixed(1) + " ms · " + d[3];
    if (d[4] !== null) head += " · held " + d[4].toFixed(0) + " ms for news";
    return {
      head: head,
      id: d[5],
      t: d[1],
      chain: d[5] ? data.chains[d[5]] || null : null,
      note: d[5]
        ? "Trace " + d[5] + " is not in traces.jsonl (its spans were dropped): only the sample's figures are known."
        : "Not traced: settings.trace is " + (data.trace_share * 100).toFixed(0) + "%, so this request's chain was not recorded; the figures above are from the request sample.",
    };
  }

  // Scrolls to a service's queue chart and marks the moment: the x axis is
  // read off the chart's own tick labels (seconds, with a decimal point).
  function markQueue(proc, t, queueUs) {
    var svc = TopolabChains.service(proc);
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
  function ms(us) {
    var v = us / 1000;
    return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
  }
})();
