/* LeadRelay dashboard: fetches the JSON reports with the viewer's API key and draws them
 * as SVG. No libraries, no network but this origin. Every figure shown carries its JSON
 * path (data-figure) and raw value (data-value), so what the page says can be checked
 * against the reports. */
(function () {
  "use strict";

  var REPORTS = {
    funnel: "/v1/reports/funnel",
    sla: "/v1/reports/sla",
    contribution: "/v1/reports/contribution",
    quota: "/v1/reports/quota",
    reasons: "/v1/reports/reject-reasons",
    cost: "/v1/reports/cost-per-qualified-lead",
    review: "/v1/reports/business-review"
  };
  var MONTH_ONLY = { quota: true, review: true };
  var KEY = "leadrelay.apiKey";
  var SVGNS = "http://www.w3.org/2000/svg";
  var COLORS = {
    marketing: "#2563eb", sales: "#f59e0b", good: "#16a34a", bad: "#dc2626",
    neutral: "#94a3b8", accent: "#0ea5e9", ink: "#0f172a", soft: "#bfdbfe", warn: "#f97316"
  };
  var SYMBOLS = { USD: "$", EUR: "€", GBP: "£", JPY: "¥", AUD: "A$", CAD: "C$" };
  var currency = "USD";

  function $(id) { return document.getElementById(id); }

  // --- the key: from #key=..., else sessionStorage, else ask ----------------------------
  function takeKeyFromFragment() {
    var m = /(?:^#|&)key=([^&]+)/.exec(window.location.hash || "");
    if (m) {
      sessionStorage.setItem(KEY, decodeURIComponent(m[1]));
      history.replaceState(null, "", window.location.pathname + window.location.search);
    }
  }
  function apiKey() { return sessionStorage.getItem(KEY); }
  function askForKey(message) {
    document.body.dataset.state = "need-key";
    $("dashboard").hidden = true;
    $("key-panel").hidden = false;
    $("forget-key").hidden = true;
    var err = $("key-error");
    err.hidden = !message;
    err.textContent = message || "";
    $("key-input").focus();
  }

  // --- formatting -----------------------------------------------------------------------
  function fmtInt(v) { return Math.round(v).toLocaleString("en-US"); }
  function fmtNumber(v) { return v.toLocaleString("en-US", { maximumFractionDigits: 2 }); }
  function fmtShare(v) { return (v * 100).toFixed(1) + "%"; }
  function fmtMoney(v, cur) {
    var c = cur || currency;
    var whole = Math.round(v).toLocaleString("en-US");
    return SYMBOLS[c] ? SYMBOLS[c] + whole : c + " " + whole;
  }
  function fmtDuration(s) {
    s = Math.round(s);
    if (s < 60) { return s + "s"; }
    if (s < 3600) { return Math.floor(s / 60) + "m " + (s % 60) + "s"; }
    if (s < 86400) { return Math.floor(s / 3600) + "h " + Math.floor((s % 3600) / 60) + "m"; }
    return Math.floor(s / 86400) + "d " + Math.floor((s % 86400) / 3600) + "h";
  }
  function format(v, kind) {
    if (v === null || v === undefined) { return "–"; }
    switch (kind) {
      case "int": return fmtInt(v);
      case "share": return fmtShare(v);
      case "money": return fmtMoney(v);
      case "duration": return fmtDuration(v);
      case "number": return fmtNumber(v);
      default: return String(v);
    }
  }
  function pick(data, path) {
    var parts = path.split(".");
    var cur = data;
    for (var i = 0; i < parts.length; i++) {
      if (cur === null || cur === undefined) { return undefined; }
      cur = cur[parts[i]];
    }
    return cur;
  }
  function fillFigures(data) {
    var nodes = document.querySelectorAll("[data-figure]");
    for (var i = 0; i < nodes.length; i++) {
      var el = nodes[i];
      var value = pick(data, el.dataset.figure);
      el.dataset.value = JSON.stringify(value === undefined ? null : value);
      el.textContent = format(value, el.dataset.format);
    }
  }

  // --- SVG ------------------------------------------------------------------------------
  function svg(tag, attrs, text) {
    var el = document.createElementNS(SVGNS, tag);
    for (var k in attrs) {
      if (Object.prototype.hasOwnProperty.call(attrs, k)) { el.setAttribute(k, attrs[k]); }
    }
    if (text !== undefined) { el.textContent = text; }
    return el;
  }
  function canvas(container, name, width, height) {
    container.textContent = "";
    var root = svg("svg", {
      viewBox: "0 0 " + width + " " + height, width: width, height: height,
      role: "img", "data-chart": name, preserveAspectRatio: "xMinYMin meet"
    });
    container.appendChild(root);
    return root;
  }
  function empty(container, text) {
    container.textContent = "";
    var p = document.createElement("p");
    p.className = "empty";
    p.textContent = text;
    container.appendChild(p);
  }
  function title(el, text) { el.appendChild(svg("title", {}, text)); return el; }

  // --- charts ---------------------------------------------------------------------------
  function drawFunnel(report) {
    var box = $("chart-funnel");
    var steps = report.steps;
    var max = Math.max(1, steps[0].count);
    var W = 640, rowH = 34, left = 96, right = 170, H = steps.length * rowH + 6;
    var root = canvas(box, "funnel", W, H);
    steps.forEach(function (s, i) {
      var y = 4 + i * rowH;
      var w = Math.max(2, (W - left - right) * s.count / max);
      root.appendChild(svg("text", { x: 0, y: y + 20, "class": "label" }, s.step));
      var bar = svg("rect", {
        x: left, y: y, width: w, height: rowH - 8, rx: 4,
        fill: i === steps.length - 1 ? COLORS.good : COLORS.marketing,
        "fill-opacity": String(1 - i * 0.09)
      });
      root.appendChild(title(bar, s.step + ": " + s.count));
      root.appendChild(svg("text", { x: left + w + 8, y: y + 19, "class": "value" }, fmtInt(s.count)));
      if (s.conversion !== null) {
        root.appendChild(svg("text", { x: W - 2, y: y + 19, "text-anchor": "end", "class": "label" },
          fmtShare(s.conversion) + " of previous"));
      }
    });
  }

  /* The smallest round number (1, 1.2, 1.6, 2, 2.4, 3.2, 4, 6, 8 x 10^n) at or above v:
   * a quarter of it is a round tick too. */
  function niceCeiling(v) {
    var p = Math.pow(10, Math.floor(Math.log10(v)));
    var steps = [1, 1.2, 1.6, 2, 2.4, 3.2, 4, 6, 8, 10];
    for (var i = 0; i < steps.length; i++) { if (steps[i] * p >= v) { return steps[i] * p; } }
    return 10 * p;
  }

  function drawQuota(report) {
    var box = $("chart-quota");
    var days = report.daily;
    if (!days.length) { return empty(box, "No days in this period."); }
    var W = 460, H = 230, L = 40, R = 14, T = 12, B = 26;
    var quota = report.quota || 0;
    var projected = report.projected || 0;
    var top = niceCeiling(Math.max(quota, projected, days[days.length - 1].cumulative, 1) * 1.05);
    var root = canvas(box, "quota", W, H);
    function x(i) { return L + (W - L - R) * i / Math.max(1, days.length - 1); }
    function y(v) { return T + (H - T - B) * (1 - v / top); }
    [0, 0.25, 0.5, 0.75, 1].forEach(function (f) {
      var v = top * f;
      root.appendChild(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), "class": "grid-line" }));
      root.appendChild(svg("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end", "class": "label" }, fmtInt(v)));
    });
    if (quota) {
      root.appendChild(svg("line", {
        x1: L, x2: W - R, y1: y(quota), y2: y(quota), stroke: COLORS.bad, "stroke-dasharray": "5 4", "stroke-width": 1.5
      }));
      root.appendChild(svg("text", { x: W - R, y: y(quota) - 5, "text-anchor": "end", "class": "label" }, "quota " + fmtInt(quota)));
    }
    var now = Date.parse(report.generated_at);
    var lastIdx = days.length - 1;
    for (var i = 0; i < days.length; i++) {
      if (Date.parse(days[i].date + "T00:00:00Z") <= now) { lastIdx = i; }
    }
    var pts = [];
    for (var j = 0; j <= lastIdx; j++) { pts.push(x(j) + "," + y(days[j].cumulative)); }
    var area = "M" + x(0) + "," + y(0) + " L" + pts.join(" L") + " L" + x(lastIdx) + "," + y(0) + " Z";
    root.appendChild(svg("path", { d: area, fill: COLORS.soft, "fill-opacity": "0.6" }));
    root.appendChild(svg("polyline", { points: pts.join(" "), fill: "none", stroke: COLORS.marketing, "stroke-width": 2.5 }));
    if (report.projected !== null && lastIdx < days.length - 1) {
      root.appendChild(svg("line", {
        x1: x(lastIdx), y1: y(days[lastIdx].cumulative), x2: x(days.length - 1), y2: y(projected),
        stroke: COLORS.marketing, "stroke-dasharray": "3 4", "stroke-width": 2
      }));
      root.appendChild(svg("circle", { cx: x(days.length - 1), cy: y(projected), r: 4, fill: COLORS.marketing }));
    }
    root.appendChild(svg("text", { x: L, y: H - 6, "class": "label" }, days[0].date.slice(5)));
    root.appendChild(svg("text", { x: W - R, y: H - 6, "text-anchor": "end", "class": "label" }, days[days.length - 1].date.slice(5)));
  }

  function drawTtfc(report) {
    var box = $("chart-ttfc");
    var t = report.time_to_first_contact;
    var buckets = t.histogram;
    if (!buckets.length) { return empty(box, "No lead contacted yet in this period."); }
    var W = 520, H = 210, L = 10, B = 40, T = 22;
    var max = Math.max.apply(null, buckets.map(function (b) { return b.count; }).concat([1]));
    var slot = (W - 2 * L) / buckets.length;
    var root = canvas(box, "ttfc", W, H);
    root.appendChild(svg("line", { x1: L, x2: W - L, y1: H - B, y2: H - B, "class": "axis" }));
    buckets.forEach(function (b, i) {
      var h = (H - B - T) * b.count / max;
      var x = L + i * slot + slot * 0.12;
      var w = slot * 0.76;
      var bar = svg("rect", { x: x, y: H - B - h, width: w, height: Math.max(h, 1), rx: 3, fill: COLORS.accent });
      root.appendChild(title(bar, b.label + ": " + b.count + " leads"));
      root.appendChild(svg("text", { x: x + w / 2, y: H - B - h - 5, "text-anchor": "middle", "class": "value" }, fmtInt(b.count)));
      root.appendChild(svg("text", { x: x + w / 2, y: H - B + 16, "text-anchor": "middle", "class": "label" }, b.label));
    });
    root.appendChild(svg("text", { x: L, y: H - 6, "class": "label" },
      "p50 " + format(t.p50_seconds, "duration") + " · p90 " + format(t.p90_seconds, "duration") +
      " · mean " + format(t.mean_seconds, "duration")));
  }

  function drawSla(report) {
    var box = $("chart-sla");
    var teams = report.by_team;
    if (!teams.length) { empty(box, "No assignments in this period."); } else {
      var rowH = 30, W = 520, L = 80, R = 150, H = teams.length * rowH + 8;
      var root = canvas(box, "sla", W, H);
      teams.forEach(function (t, i) {
        var y = 4 + i * rowH;
        var share = t.first_contact.within_sla_share;
        var full = W - L - R;
        root.appendChild(svg("text", { x: 0, y: y + 17, "class": "label" }, t.team));
        root.appendChild(svg("rect", { x: L, y: y, width: full, height: rowH - 10, rx: 4, fill: "#fee2e2" }));
        if (share !== null) {
          var bar = svg("rect", { x: L, y: y, width: Math.max(1, full * share), height: rowH - 10, rx: 4,
            fill: share >= 0.9 ? COLORS.good : (share >= 0.7 ? COLORS.warn : COLORS.bad) });
          root.appendChild(title(bar, t.team + ": " + fmtShare(share) + " within SLA"));
        }
        root.appendChild(svg("text", { x: L + full + 8, y: y + 16, "class": "value" },
          format(share, "share") + "  ·  " + t.breaches.total + " breaches"));
      });
    }
    var table = $("table-reps");
    table.textContent = "";
    var head = table.createTHead().insertRow();
    ["Rep", "Team", "Within SLA", "p50", "Missed 1st contact", "Missed attempts"].forEach(function (h) {
      var th = document.createElement("th");
      th.textContent = h;
      head.appendChild(th);
    });
    var body = table.createTBody();
    report.by_rep.slice().sort(function (a, b) { return b.breaches.total - a.breaches.total; })
      .slice(0, 8).forEach(function (r) {
        var tr = body.insertRow();
        [r.name || r.rep_id, r.team, format(r.first_contact.within_sla_share, "share"),
          format(r.p50_seconds, "duration"), r.breaches.first_contact, r.breaches.attempts
        ].forEach(function (v, i) {
          var td = tr.insertCell();
          td.textContent = String(v);
          if (i >= 4 && v > 0) { td.className = "bad"; }
        });
      });
  }

  function drawContribution(report) {
    var box = $("chart-contribution");
    var rows = [
      ["Opportunities", report.opportunities, "opportunities", "int"],
      ["Pipeline", report.pipeline, "pipeline", "money"],
      ["Revenue", report.revenue, "revenue", "money"]
    ];
    var W = 520, rowH = 52, L = 100, R = 64, H = rows.length * rowH + 4;
    var root = canvas(box, "contribution", W, H);
    rows.forEach(function (row, i) {
      var s = row[1];
      var y = 6 + i * rowH;
      var full = W - L - R;
      var total = s.marketing + s.sales;
      root.appendChild(svg("text", { x: 0, y: y + 16, "class": "label" }, row[0]));
      root.appendChild(svg("rect", { x: L, y: y, width: full, height: 22, rx: 4, fill: "#e2e8f0" }));
      if (total > 0) {
        var m = full * s.marketing / total;
        root.appendChild(title(svg("rect", { x: L, y: y, width: m, height: 22, rx: 4, fill: COLORS.marketing }),
          "marketing " + format(s.marketing, row[3])));
        root.appendChild(title(svg("rect", { x: L + m, y: y, width: full - m, height: 22, rx: 4, fill: COLORS.sales }),
          "sales " + format(s.sales, row[3])));
        if (m > 60) {
          root.appendChild(svg("text", { x: L + 8, y: y + 15, "class": "on-bar" }, format(s.marketing, row[3])));
        }
      }
      if (s.agreed_share !== null) {
        var ax = L + full * s.agreed_share;
        root.appendChild(svg("line", { x1: ax, x2: ax, y1: y - 4, y2: y + 26, stroke: COLORS.ink, "stroke-width": 2.5 }));
        root.appendChild(svg("text", { x: ax, y: y + 40, "text-anchor": "middle", "class": "label" },
          "agreed " + fmtShare(s.agreed_share)));
      }
      root.appendChild(svg("text", { x: L + full + 8, y: y + 16, "class": "value",
        fill: s.met === false ? COLORS.bad : COLORS.ink }, format(s.marketing_share, "share")));
    });
  }

  function drawCost(report) {
    var box = $("chart-cost");
    var rows = report.campaigns.filter(function (c) { return c.cost_per_qualified_lead !== null; });
    if (!rows.length) { return empty(box, "No campaign with a cost and qualified leads in this period."); }
    rows.sort(function (a, b) { return b.cost_per_qualified_lead - a.cost_per_qualified_lead; });
    var max = Math.max.apply(null, rows.map(function (r) { return r.cost_per_qualified_lead; }));
    var rowH = 30, W = 520, L = 150, R = 170, H = rows.length * rowH + 6;
    var root = canvas(box, "cost", W, H);
    rows.forEach(function (r, i) {
      var y = 4 + i * rowH;
      var w = Math.max(2, (W - L - R) * r.cost_per_qualified_lead / max);
      root.appendChild(svg("text", { x: 0, y: y + 16, "class": "label" }, (r.name || r.campaign_id).slice(0, 22)));
      root.appendChild(title(svg("rect", { x: L, y: y, width: w, height: rowH - 10, rx: 4, fill: COLORS.accent }),
        r.campaign_id + ": " + fmtMoney(r.cost, r.currency) + " / " + r.qualified + " qualified"));
      root.appendChild(svg("text", { x: L + w + 8, y: y + 15, "class": "value" },
        fmtMoney(r.cost_per_qualified_lead, r.currency) + "  (" + r.qualified + " QL)"));
    });
  }

  function drawReasons(report) {
    var box = $("chart-reasons");
    var reasons = report.reasons;
    if (!reasons.length) { return empty(box, "No rejections in this period."); }
    var W = 1180, H = 150, L = 10, B = 36, T = 20;
    var max = Math.max.apply(null, reasons.map(function (r) { return r.count; }));
    var slot = Math.min(150, (W - 2 * L) / reasons.length);
    var root = canvas(box, "reasons", W, H);
    reasons.forEach(function (r, i) {
      var h = (H - B - T) * r.count / max;
      var x = L + i * slot + slot * 0.15;
      var w = slot * 0.7;
      root.appendChild(title(svg("rect", { x: x, y: H - B - h, width: w, height: Math.max(1, h), rx: 3, fill: COLORS.bad, "fill-opacity": "0.8" }),
        r.reason + ": " + r.count));
      root.appendChild(svg("text", { x: x + w / 2, y: H - B - h - 5, "text-anchor": "middle", "class": "value" },
        r.count + " · " + fmtShare(r.share)));
      root.appendChild(svg("text", { x: x + w / 2, y: H - B + 16, "text-anchor": "middle", "class": "label" },
        r.reason.replace(/_/g, " ")));
    });
  }

  // --- loading --------------------------------------------------------------------------
  function query(name) {
    var form = $("filters");
    var params = new URLSearchParams();
    ["source", "campaign", "team"].forEach(function (k) {
      var v = form.elements[k].value.trim();
      if (v) { params.set(k, v); }
    });
    var month = form.elements.month.value;
    if (month) { params.set("month", month); }
    var q = params.toString();
    return REPORTS[name] + (q ? "?" + q : "");
  }

  function fetchReport(name) {
    return fetch(query(name), { headers: { Authorization: "Bearer " + apiKey(), Accept: "application/json" } })
      .then(function (r) {
        if (r.status === 401 || r.status === 403) {
          var e = new Error("The key was refused (" + r.status + "): it needs the sales scope.");
          e.auth = true;
          throw e;
        }
        return r.json().then(function (body) {
          if (!r.ok) { throw new Error(body.detail || body.title || ("HTTP " + r.status)); }
          return [name, body];
        });
      });
  }

  function load() {
    if (!apiKey()) { return askForKey(); }
    document.body.dataset.state = "loading";
    $("status").textContent = "Loading…";
    Promise.all(Object.keys(REPORTS).map(fetchReport)).then(function (pairs) {
      var data = {};
      pairs.forEach(function (p) { data[p[0]] = p[1]; });
      currency = data.review.currency;
      $("key-panel").hidden = true;
      $("dashboard").hidden = false;
      $("forget-key").hidden = false;
      if (!$("f-month").value) { $("f-month").value = data.review.period.month; }
      fillFigures(data);
      drawFunnel(data.funnel);
      drawQuota(data.quota);
      drawTtfc(data.sla);
      drawSla(data.sla);
      drawContribution(data.contribution);
      drawCost(data.cost);
      drawReasons(data.reasons);
      var p = data.funnel.period;
      $("status").textContent = "Leads received " + p.from + " to " + p.to + " (UTC) · updated " +
        new Date(data.review.generated_at).toLocaleString("en-GB", { timeZone: "UTC" }) + " UTC";
      window.leadrelayReports = data;
      document.body.dataset.state = "ready";
    }).catch(function (err) {
      if (err.auth) {
        sessionStorage.removeItem(KEY);
        return askForKey(err.message);
      }
      document.body.dataset.state = "error";
      $("dashboard").hidden = false;
      $("status").textContent = "Could not load the reports: " + err.message;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    takeKeyFromFragment();
    $("key-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var v = $("key-input").value.trim();
      if (v) { sessionStorage.setItem(KEY, v); $("key-input").value = ""; load(); }
    });
    $("filters").addEventListener("submit", function (ev) { ev.preventDefault(); load(); });
    $("forget-key").addEventListener("click", function () { sessionStorage.removeItem(KEY); askForKey(); });
    load();
  });
}());
