/* alphanas search report: Pareto plots (SVG), candidate details with lineage, a sortable and
   filterable table. No libraries, no network: the data is the JSON in #report-data; when served
   with a refresh interval the page polls data.json and redraws in place. */
(function () {
  'use strict';
  var SVGNS = 'http://www.w3.org/2000/svg';
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var settings = JSON.parse(document.getElementById('report-settings').textContent);
  var state = { selected: null, sortKey: 'trial', sortDir: 1, filter: '', status: 'all', frontOnly: false };
  var byId = {};
  var frontSet = {};
  var LABELS = { val_acc: 'validation accuracy', test_acc: 'test accuracy', params: 'parameters',
                 flops: 'FLOPs', latency_ms: 'latency (ms)', trial: 'trial' };

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) {
      if (k === 'text') e.textContent = attrs[k]; else e.setAttribute(k, attrs[k]);
    }
    (children || []).forEach(function (c) { if (c !== null) e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return e;
  }
  function sv(tag, attrs) {
    var e = document.createElementNS(SVGNS, tag);
    for (var k in attrs || {}) {
      if (k === 'text') e.textContent = attrs[k]; else e.setAttribute(k, attrs[k]);
    }
    return e;
  }
  function label(k) { return LABELS[k] || k; }
  function fmt(k, v) {
    if (v === null || v === undefined || (typeof v === 'number' && !isFinite(v))) return '–';
    if (typeof v !== 'number') return String(v);
    if (k === 'val_acc' || k === 'test_acc') return (100 * v).toFixed(2) + '%';
    if (k === 'params' || k === 'flops') return Math.round(v).toLocaleString('en-US');
    if (k === 'latency_ms') return v.toFixed(3);
    if (Number.isInteger(v)) return v.toLocaleString('en-US');
    return String(Number(v.toPrecision(6)));
  }
  function value(c, k) {
    if (k === 'trial') return c.trial;
    var v = c.metrics[k];
    return v === undefined ? null : v;
  }
  function index() {
    byId = {}; frontSet = {};
    data.candidates.forEach(function (c) { byId[c.id] = c; });
    data.front.forEach(function (id) { frontSet[id] = true; });
  }
  function lineage(c) {  // from the seed to c
    var chain = [], seen = {};
    while (c && !seen[c.id]) { seen[c.id] = true; chain.unshift(c); c = c.parent === null ? null : byId[c.parent]; }
    return chain;
  }

  /* ---- layout ---- */
  var app = document.getElementById('app');
  var header = el('header');
  var plots = el('section', { id: 'plots' });
  var details = el('aside', { id: 'details' }, [el('p', { class: 'hint', text: 'Click a point or a row for its details and lineage.' })]);
  var tableBox = el('section', { id: 'table' });
  var tooltip = el('div', { id: 'tooltip', role: 'tooltip' });
  app.appendChild(header);
  app.appendChild(el('div', { class: 'top' }, [plots, details]));
  app.appendChild(tableBox);
  document.body.appendChild(tooltip);

  function renderHeader() {
    header.innerHTML = '';
    header.appendChild(el('h1', { text: 'Search report: ' + data.title }));
    header.appendChild(el('p', { id: 'summary', text: data.summary }));
    var legend = el('p', { class: 'legend' }, [
      el('span', { class: 'key dot' }), 'candidate ',
      el('span', { class: 'key front' }), 'Pareto front (' + data.front.length + '; labels are the ids of front/ID.onnx) ',
      el('span', { class: 'key seed', text: '★' }), 'seed ',
      el('span', { class: 'key outlier', text: '▽' }), 'outlier, drawn at the edge']);
    header.appendChild(legend);
    if (settings.refresh) {
      header.appendChild(el('p', { id: 'live', text: 'live: refreshes every ' + settings.refresh + ' s; updated ' +
        new Date().toLocaleTimeString() }));
    }
  }

  /* ---- plots ---- */
  function pairs() {
    var keys = data.objectives.map(function (o) { return o.key; });
    if (keys.length === 1) return [['trial', keys[0]]];
    var out = [];
    for (var i = 0; i < keys.length; i++) {
      for (var j = i + 1; j < keys.length; j++) {
        if (keys[i] === 'val_acc') out.push([keys[j], keys[i]]); else out.push([keys[i], keys[j]]);
      }
    }
    return out;
  }
  function scale(k, a, b) {
    var lim = data.limits[k] || { lo: 0, hi: 1, log: false };
    var f = lim.log ? function (v) { return Math.log10(v); } : function (v) { return v; };
    var lo = f(lim.lo), hi = f(lim.hi);
    var s = function (v) {
      var out = false;
      var t = lim.log && v <= 0 ? -Infinity : (f(v) - lo) / (hi - lo || 1);
      if (t < 0) { t = 0; out = true; } else if (t > 1) { t = 1; out = true; }
      return { px: a + t * (b - a), out: out };
    };
    s.lim = lim;
    s.ticks = function () {
      var t = lim.log ? logTicks(lim.lo, lim.hi) : [];
      return t.length >= 3 ? t : linTicks(lim.lo, lim.hi);  // a narrow log range: evenly spaced values
    };
    return s;
  }
  function linTicks(lo, hi) {
    var step = Math.pow(10, Math.floor(Math.log10((hi - lo) / 4 || 1)));
    [1, 2, 5, 10].some(function (m) { if ((hi - lo) / (step * m) <= 6) { step *= m; return true; } return false; });
    var out = [];
    for (var v = Math.ceil(lo / step) * step; v <= hi + 1e-12; v += step) out.push(Number(v.toPrecision(12)));
    return out;
  }
  function logTicks(lo, hi) {
    var out = [];
    for (var e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
      [1, 2, 5].forEach(function (m) { var v = m * Math.pow(10, e); if (v >= lo && v <= hi) out.push(v); });
    }
    return out;
  }
  function tickText(k, v) {
    if (k === 'val_acc' || k === 'test_acc') return (100 * v).toFixed(Math.abs(v) < 1 && v !== 0 ? 1 : 0) + '%';
    if (Math.abs(v) >= 1e9) return Number((v / 1e9).toPrecision(3)) + 'G';
    if (Math.abs(v) >= 1e6) return Number((v / 1e6).toPrecision(3)) + 'M';
    if (Math.abs(v) >= 1e3) return Number((v / 1e3).toPrecision(3)) + 'k';
    return String(Number(v.toPrecision(3)));
  }
  function star(x, y, r) {
    var p = [];
    for (var i = 0; i < 10; i++) {
      var a = -Math.PI / 2 + i * Math.PI / 5, rr = i % 2 ? r * 0.45 : r;
      p.push((x + rr * Math.cos(a)).toFixed(1) + ',' + (y + rr * Math.sin(a)).toFixed(1));
    }
    return p.join(' ');
  }
  function tri(x, y, r) {
    return [x - r, y - r * 0.7, x + r, y - r * 0.7, x, y + r * 0.9].map(function (v) { return v.toFixed(1); }).join(' ');
  }

  function plot(xk, yk, twoObjectives) {
    var W = 460, H = 330, L = 64, R = 16, T = 14, B = 44;
    var svg = sv('svg', { class: 'plot', viewBox: '0 0 ' + W + ' ' + H, width: W, height: H,
                          'data-x': xk, 'data-y': yk, role: 'img', 'aria-label': label(yk) + ' against ' + label(xk) });
    var sx = scale(xk, L, W - R), sy = scale(yk, H - B, T);
    svg.appendChild(sv('rect', { x: L, y: T, width: W - L - R, height: H - T - B, class: 'frame' }));
    sx.ticks().forEach(function (v) {
      var p = sx(v).px;
      svg.appendChild(sv('line', { x1: p, x2: p, y1: T, y2: H - B, class: 'grid' }));
      svg.appendChild(sv('text', { x: p, y: H - B + 14, class: 'tick', 'text-anchor': 'middle', text: tickText(xk, v) }));
    });
    sy.ticks().forEach(function (v) {
      var p = sy(v).px;
      svg.appendChild(sv('line', { x1: L, x2: W - R, y1: p, y2: p, class: 'grid' }));
      svg.appendChild(sv('text', { x: L - 5, y: p + 4, class: 'tick', 'text-anchor': 'end', text: tickText(yk, v) }));
    });
    svg.appendChild(sv('text', { x: (L + W - R) / 2, y: H - 8, class: 'axis', 'text-anchor': 'middle',
                                 text: label(xk) + (sx.lim.log ? ' (log)' : '') }));
    svg.appendChild(sv('text', { x: 14, y: (T + H - B) / 2, class: 'axis', 'text-anchor': 'middle',
                                 transform: 'rotate(-90 14 ' + (T + H - B) / 2 + ')', text: label(yk) + (sy.lim.log ? ' (log)' : '') }));
    var pts = [];
    data.candidates.forEach(function (c) {
      if (c.status !== 'done') return;
      var x = value(c, xk), y = value(c, yk);
      if (x === null || y === null) return;
      var px = sx(x), py = sy(y);
      pts.push({ c: c, x: px.px, y: py.px, out: px.out || py.out, front: !!frontSet[c.id], seed: c.id === data.seed });
    });
    // the front as a staircase when it is the front of exactly these two objectives
    var fr = pts.filter(function (p) { return p.front; }).sort(function (a, b) { return a.x - b.x || b.y - a.y; });
    if (twoObjectives && fr.length > 1) {
      var d = 'M' + fr[0].x.toFixed(1) + ',' + fr[0].y.toFixed(1);
      for (var i = 1; i < fr.length; i++) d += 'H' + fr[i].x.toFixed(1) + 'V' + fr[i].y.toFixed(1);
      svg.appendChild(sv('path', { d: d, class: 'frontline' }));
    }
    var order = function (p) { return p.seed ? 2 : p.front ? 1 : 0; };
    pts.sort(function (a, b) { return order(a) - order(b); });
    pts.forEach(function (p) {
      var cls = 'pt' + (p.front ? ' front' : '') + (p.seed ? ' seed' : '') + (p.out ? ' outlier' : '') +
                (p.c.id === state.selected ? ' selected' : '');
      var shape;
      if (p.seed) shape = sv('polygon', { points: star(p.x, p.y, 9) });
      else if (p.out) shape = sv('polygon', { points: tri(p.x, p.y, 5) });
      else shape = sv('circle', { cx: p.x.toFixed(1), cy: p.y.toFixed(1), r: p.front ? 5 : 3.5 });
      shape.setAttribute('class', cls);
      shape.setAttribute('data-id', p.c.id);
      svg.appendChild(shape);
      if (p.front) {
        svg.appendChild(sv('text', { x: (p.x + 6).toFixed(1), y: (p.y - 6).toFixed(1), class: 'ptlabel', 'data-id': p.c.id,
                                     text: String(p.c.id) }));
      }
    });
    return svg;
  }
  function renderPlots() {
    plots.innerHTML = '';
    var done = data.candidates.filter(function (c) { return c.status === 'done'; }).length;
    if (!done) { plots.appendChild(el('p', { class: 'hint', text: 'No trained candidate yet.' })); return; }
    var ps = pairs();
    ps.forEach(function (p) { plots.appendChild(plot(p[0], p[1], data.objectives.length === 2)); });
  }

  /* ---- hover and click ---- */
  function tipText(c) {
    var lines = ['#' + c.id + (frontSet[c.id] ? ' (Pareto front)' : '') + (c.id === data.seed ? ' (seed)' : ''),
                 'parent: ' + (c.parent === null ? '–' : '#' + c.parent), 'mutation: ' + c.mutation];
    data.metrics.forEach(function (k) { if (c.metrics[k] !== undefined) lines.push(label(k) + ': ' + fmt(k, c.metrics[k])); });
    return lines;
  }
  function candidateOf(target) {
    var e = target && target.closest ? target.closest('[data-id]') : null;
    return e ? byId[e.getAttribute('data-id')] : null;
  }
  plots.addEventListener('mouseover', function (ev) {
    var c = candidateOf(ev.target);
    if (!c) return;
    tooltip.innerHTML = '';
    tipText(c).forEach(function (t, i) { tooltip.appendChild(el(i ? 'div' : 'strong', { text: t })); });
    tooltip.style.display = 'block';
    tooltip.style.left = (ev.pageX + 12) + 'px';
    tooltip.style.top = (ev.pageY + 12) + 'px';
  });
  plots.addEventListener('mouseout', function (ev) { if (candidateOf(ev.target)) tooltip.style.display = 'none'; });
  plots.addEventListener('click', function (ev) { var c = candidateOf(ev.target); if (c) select(c.id); });

  function select(id) {
    state.selected = id;
    document.querySelectorAll('.selected').forEach(function (e) { e.classList.remove('selected'); });
    document.querySelectorAll('.pt[data-id="' + id + '"], tr[data-id="' + id + '"]').forEach(function (e) {
      e.classList.add('selected');
    });
    renderDetails();
  }
  function renderDetails() {
    var c = byId[state.selected];
    if (!c) return;
    details.innerHTML = '';
    details.appendChild(el('h2', { text: 'Candidate #' + c.id }));
    var dl = el('dl');
    var add = function (k, v) { dl.appendChild(el('dt', { text: k })); dl.appendChild(el('dd', { 'data-field': k }, [v])); };
    add('trial', String(c.trial));
    add('status', c.status + (frontSet[c.id] ? ', on the Pareto front' : ''));
    add('parent', c.parent === null ? '–' : '#' + c.parent);
    add('mutation', c.mutation);
    if (c.description) add('description', c.description);
    if (c.error) add('error', c.error);
    Object.keys(c.metrics).forEach(function (k) { add(k, fmt(k, c.metrics[k])); });
    add('model', frontSet[c.id] ? 'front/' + c.id + '.onnx' : 'models/' + c.id + '.onnx');
    details.appendChild(dl);
    details.appendChild(el('h3', { text: 'Lineage from the seed' }));
    var ol = el('ol', { class: 'lineage' });
    lineage(c).forEach(function (a) {
      var main = data.objectives.map(function (o) { return fmt(o.key, a.metrics[o.key]); }).join(' · ');
      var link = el('a', { href: '#', 'data-id': a.id, text: '#' + a.id });
      link.addEventListener('click', function (ev) { ev.preventDefault(); select(a.id); });
      ol.appendChild(el('li', {}, [link, ' ' + a.mutation + (a.description && a.mutation !== 'seed' ? ': ' + a.description : '') +
                                   (main ? ' (' + main + ')' : '')]));
    });
    details.appendChild(ol);
  }

  /* ---- table ---- */
  var controls = el('div', { class: 'controls' });
  var filterBox = el('input', { type: 'search', id: 'filter', placeholder: 'filter: id, mutation, description…' });
  var statusBox = el('select', { id: 'status-filter' });
  var frontBox = el('input', { type: 'checkbox', id: 'front-only' });
  var countBox = el('span', { id: 'count' });
  var table = el('table', { id: 'candidates' });
  controls.appendChild(filterBox);
  controls.appendChild(statusBox);
  controls.appendChild(el('label', {}, [frontBox, ' front only']));
  controls.appendChild(countBox);
  tableBox.appendChild(el('h2', { text: 'All candidates' }));
  tableBox.appendChild(controls);
  tableBox.appendChild(table);
  filterBox.addEventListener('input', function () { state.filter = filterBox.value.toLowerCase(); renderTable(); });
  statusBox.addEventListener('change', function () { state.status = statusBox.value; renderTable(); });
  frontBox.addEventListener('change', function () { state.frontOnly = frontBox.checked; renderTable(); });
  table.addEventListener('click', function (ev) {
    var th = ev.target.closest('th');
    if (th) {
      var k = th.getAttribute('data-key');
      state.sortDir = state.sortKey === k ? -state.sortDir : 1;
      state.sortKey = k;
      renderTable();
      return;
    }
    var tr = ev.target.closest('tr[data-id]');
    if (tr) select(Number(tr.getAttribute('data-id')));
  });

  function columns() { return ['id', 'trial', 'parent', 'mutation', 'status'].concat(data.metrics, ['description']); }
  function cell(c, k) {
    if (k === 'id' || k === 'trial' || k === 'parent' || k === 'mutation' || k === 'status') return c[k];
    if (k === 'description') return c.error ? c.description + ' (' + c.error + ')' : c.description;
    return value(c, k);
  }
  function renderTable() {
    var statuses = ['all'];
    data.candidates.forEach(function (c) { if (statuses.indexOf(c.status) < 0) statuses.push(c.status); });
    if (statusBox.options.length !== statuses.length) {
      statusBox.innerHTML = '';
      statuses.forEach(function (s) { statusBox.appendChild(el('option', { value: s, text: s === 'all' ? 'all statuses' : s })); });
      statusBox.value = state.status;
    }
    var cols = columns();
    var rows = data.candidates.filter(function (c) {
      if (state.status !== 'all' && c.status !== state.status) return false;
      if (state.frontOnly && !frontSet[c.id]) return false;
      if (!state.filter) return true;
      return cols.some(function (k) { return fmt(k, cell(c, k)).toLowerCase().indexOf(state.filter) >= 0; });
    });
    var k = state.sortKey, dir = state.sortDir;
    rows.sort(function (a, b) {
      var x = cell(a, k), y = cell(b, k);
      if (x === null || x === undefined) return (y === null || y === undefined) ? a.trial - b.trial : 1;
      if (y === null || y === undefined) return -1;
      if (typeof x === 'number' && typeof y === 'number') return dir * (x - y) || a.trial - b.trial;
      return dir * String(x).localeCompare(String(y)) || a.trial - b.trial;
    });
    table.innerHTML = '';
    var head = el('tr');
    cols.forEach(function (c) {
      head.appendChild(el('th', { 'data-key': c, class: c === k ? (dir > 0 ? 'asc' : 'desc') : '',
                                  'aria-sort': c === k ? (dir > 0 ? 'ascending' : 'descending') : 'none', text: label(c) }));
    });
    table.appendChild(el('thead', {}, [head]));
    var body = el('tbody');
    rows.forEach(function (c) {
      var tr = el('tr', { 'data-id': c.id, class: (frontSet[c.id] ? 'front ' : '') + (c.id === data.seed ? 'seed ' : '') +
                                                   (c.id === state.selected ? 'selected' : '') });
      cols.forEach(function (col) {
        var v = cell(c, col);
        var text = col === 'parent' ? (v === null ? '–' : '#' + v) : fmt(col, v);
        if (col === 'id') text = '#' + v + (c.id === data.seed ? ' ★' : '') + (frontSet[c.id] ? ' ●' : '');
        tr.appendChild(el('td', { 'data-key': col, text: text }));
      });
      body.appendChild(tr);
    });
    table.appendChild(body);
    countBox.textContent = 'showing ' + rows.length + ' of ' + data.candidates.length;
  }

  function renderAll() {
    index();
    renderHeader();
    renderPlots();
    renderTable();
    renderDetails();
  }
  renderAll();
  window.alphanasReport = { data: function () { return data; }, select: select };

  if (settings.refresh) {
    var last = JSON.stringify(data);
    setInterval(function () {
      fetch('data.json', { cache: 'no-store' }).then(function (r) { return r.ok ? r.json() : null; }).then(function (d) {
        var text = d && JSON.stringify(d);
        if (d && text !== last) { last = text; data = d; renderAll(); }
        var live = document.getElementById('live');
        if (live) live.textContent = 'live: refreshes every ' + settings.refresh + ' s; updated ' + new Date().toLocaleTimeString();
      }).catch(function () {
        var live = document.getElementById('live');
        if (live) live.textContent = 'live: the server stopped; showing the last data';
      });
    }, settings.refresh * 1000);
  }
})();
