/**
 * The crew page's script, sent inline (the network may be closed: no CDN, no bundle).
 * Plain ES2020 in a string; it talks only to /crew/api on the same origin, keeps the
 * queue live from the SSE stream (/crew/api/events) and moves the clock locally,
 * corrected by the server's time.
 */
import { iconsForScript } from './crew-page-icons.js';

export const CREW_PAGE_SCRIPT = String.raw`
(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };
  var me = null, queue = null, offset = 0, busy = false;
  // Inline SVG (crew-page-icons.ts): emoji would need a font the phone may not have.
  var ICONS = ${iconsForScript()};

  function icon(name) {
    var t = document.createElement('template'); t.innerHTML = ICONS[name];
    return t.content.firstChild;
  }

  function txt(text) { return document.createTextNode(text); }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === 'text') node.textContent = attrs[k];
      else if (k === 'class') node.className = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }

  // The one fetch wrapper of the crew pages (crew-page-api.ts).
  var api = crewApi;

  function toast(text) {
    var t = $('toast'); t.textContent = text; t.hidden = false;
    clearTimeout(toast.timer); toast.timer = setTimeout(function () { t.hidden = true; }, 4000);
  }

  function mmss(ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    return Math.floor(s / 60) + ':' + String(s % 60).padStart(2, '0');
  }

  function serverNow() { return Date.now() + offset; }

  function position(np) {
    var at = np.paused_at !== null ? np.paused_at : serverNow();
    return Math.min(Math.max(at - np.started_at, 0), np.clock_duration_ms);
  }

  function takeQueue(q) {
    if (queue && q.version < queue.version) return;
    offset = q.server_time - Date.now();
    queue = q;
    renderNow(); renderQueue();
  }

  function art(url, cls) {
    if (url) return el('img', { class: cls, src: url, alt: '' });
    return el('div', { class: cls }, [icon('note')]);
  }

  function renderNow() {
    var box = $('now'); box.textContent = '';
    var np = queue && queue.now_playing;
    if (!np) { box.appendChild(el('div', { class: 'empty', text: 'Nothing is playing. Add a track below.' })); box.dataset.item = ''; return; }
    box.dataset.item = np.item_id;
    var by = np.throwback ? 'throwback from the crew’s history' : 'added by ' + np.added_by_name;
    box.appendChild(art(np.album_art_url, 'art'));
    box.appendChild(el('div', {}, [
      el('div', { class: 'title', id: 'now-title', text: np.track }),
      el('div', { class: 'artist', text: np.artist }),
      el('div', { class: 'by' }, np.jammed_by.length ? [txt(by + ' · '), icon('jam'), txt(String(np.jammed_by.length))] : [txt(by)]),
    ]));
    box.appendChild(el('div', { class: 'clock' }, [
      el('div', { class: 'bar-track' }, [el('div', { class: 'bar-fill', id: 'now-bar' })]),
      el('div', { class: 'times' }, [el('span', { id: 'now-pos' }), el('span', { id: 'now-state' }), el('span', { text: mmss(np.clock_duration_ms) })]),
    ]));
    // Vote to skip (the owner skips straight away with Skip): a majority of the members online skips it.
    var votes = np.skip_votes || [], mine = votes.indexOf(me.device_id) >= 0;
    if (!me.is_owner) {
      box.appendChild(el('button', { type: 'button', id: 'skip-vote', class: mine ? 'on' : '', 'aria-pressed': mine ? 'true' : 'false' }, [
        icon('skip'), txt(mine ? ' Voted to skip' : ' Vote to skip'), votes.length ? el('span', { class: 'count', text: String(votes.length) }) : null,
      ]));
    } else if (votes.length) {
      box.appendChild(el('div', { class: 'by', id: 'skip-votes', text: votes.length + (votes.length === 1 ? ' vote' : ' votes') + ' to skip' }));
    }
    var pause = $('pause');
    if (pause) {
      var paused = np.paused_at !== null;
      pause.dataset.owner = paused ? 'resume' : 'pause'; pause.textContent = '';
      pause.appendChild(icon(paused ? 'play' : 'pause')); pause.appendChild(txt(paused ? ' Resume' : ' Pause'));
    }
    tick();
  }

  function tick() {
    var np = queue && queue.now_playing;
    if (!np || !$('now-pos')) return;
    var pos = position(np);
    $('now-pos').textContent = mmss(pos);
    $('now-bar').style.width = (100 * pos / np.clock_duration_ms).toFixed(2) + '%';
    var st = $('now-state');
    st.textContent = np.paused_at !== null ? 'paused' : '';
    st.className = np.paused_at !== null ? 'paused-tag' : '';
  }

  function renderQueue() {
    var list = $('queue'); list.textContent = '';
    var items = queue ? queue.up_next : [];
    $('queue-count').textContent = items.length ? String(items.length) : '';
    if (!items.length) list.appendChild(el('li', { class: 'empty', text: 'The queue is empty.' + (queue && queue.throwback ? ' Throwback will fill it.' : '') }));
    items.forEach(function (item) {
      var up = item.voted_up.indexOf(me.device_id) >= 0, down = item.voted_down.indexOf(me.device_id) >= 0;
      var jammed = item.jammed_by.indexOf(me.device_id) >= 0;
      var canRemove = me.is_owner || item.added_by === me.device_id;
      var meta = el('div', { class: 'meta' }, [
        el('span', { text: item.throwback ? 'throwback' : 'by ' + item.added_by_name }),
        item.throwback ? el('span', { class: 'tag tb', title: 'throwback' }, [icon('throwback')]) : el('span', { class: 'tag', text: 'round ' + item.round }),
      ]);
      var controls = el('div', { class: 'votes' }, [
        el('button', { type: 'button', class: 'up' + (up ? ' on' : ''), 'data-act': 'vote', 'data-vote': up ? 'none' : 'up', 'aria-label': 'Vote up' }, [icon('up')]),
        el('span', { class: 'score', text: String(item.score) }),
        el('button', { type: 'button', class: 'down' + (down ? ' on' : ''), 'data-act': 'vote', 'data-vote': down ? 'none' : 'down', 'aria-label': 'Vote down' }, [icon('down')]),
        el('button', { type: 'button', class: 'jam' + (jammed ? ' on' : ''), 'data-act': 'jam', 'aria-label': 'Jam' }, [icon('jam'), item.jammed_by.length ? txt(String(item.jammed_by.length)) : null]),
        canRemove ? el('button', { type: 'button', 'data-act': 'remove', 'aria-label': 'Remove' }, [icon('remove')]) : null,
      ]);
      list.appendChild(el('li', { 'data-item': item.item_id }, [
        el('div', { style: 'min-width:0' }, [el('div', { class: 't', text: item.track }), el('div', { class: 'a', text: item.artist }), meta]),
        controls,
      ]));
    });
    var tb = $('throwback'); if (tb && queue) tb.checked = queue.throwback;
  }

  function done(answer) { if (answer && answer.queue) takeQueue(answer.queue); }

  $('now').addEventListener('click', function (event) {
    var button = event.target.closest('#skip-vote'); if (!button || busy || !queue || !queue.now_playing) return;
    busy = true;
    api('/queue/' + queue.now_playing.item_id + '/skip-vote', { method: 'POST', body: { skip: button.getAttribute('aria-pressed') !== 'true' } })
      .then(done, function (e) { toast(e.message); }).then(function () { busy = false; });
  });

  $('queue').addEventListener('click', function (event) {
    var button = event.target.closest('button[data-act]'); if (!button || busy) return;
    var id = button.closest('li').dataset.item, act = button.dataset.act, call;
    if (act === 'vote') call = api('/queue/' + id + '/vote', { method: 'POST', body: { vote: button.dataset.vote } });
    else if (act === 'jam') call = api('/queue/' + id + '/jam', { method: 'POST', body: {} });
    else call = api('/queue/' + id, { method: 'DELETE', body: {} });
    busy = true;
    call.then(done, function (e) { toast(e.message); }).then(function () { busy = false; });
  });

  $('add').addEventListener('submit', function (event) {
    event.preventDefault();
    $('add-error').textContent = '';
    var body = { link: $('add-link').value, track: $('add-track').value, artist: $('add-artist').value };
    api('/queue', { method: 'POST', body: body }).then(function (answer) {
      $('add').reset(); done(answer);
    }, function (e) { $('add-error').textContent = e.message; });
  });

  var owner = $('owner-controls');
  if (owner) {
    owner.addEventListener('click', function (event) {
      var button = event.target.closest('button[data-owner]'); if (!button) return;
      var body = button.dataset.owner === 'skip' && queue && queue.now_playing ? { item_id: queue.now_playing.item_id } : {};
      api('/queue/' + button.dataset.owner, { method: 'POST', body: body }).then(done, function (e) { toast(e.message); });
    });
    $('throwback').addEventListener('change', function (event) {
      api('/queue/throwback', { method: 'POST', body: { enabled: event.target.checked } }).then(done, function (e) { toast(e.message); });
    });
  }
  var shareHistory = $('share-history');
  if (shareHistory) {
    shareHistory.addEventListener('change', function (event) {
      var wanted = event.target.checked;
      api('/crew-settings', { method: 'PUT', body: { share_history: wanted } }).catch(function (e) { event.target.checked = !wanted; toast(e.message); });
    });
  }

  $('airhorn').addEventListener('click', function () {
    api('/airhorn', { method: 'POST', body: {} }).catch(function (e) { toast(e.message); });
  });

  function honk(from) {
    $('horn-from').textContent = from + ' sounded the airhorn!';
    $('horn').hidden = false;
    clearTimeout(honk.timer); honk.timer = setTimeout(function () { $('horn').hidden = true; }, 1800);
  }

  function recentLine(e) {
    var when = new Date(e.timestamp).toLocaleString([], { weekday: 'short', hour: '2-digit', minute: '2-digit' });
    var kind, text, mine = me && e.from_device === me.device_id, actions = [];
    if (e.type === 'airhorn') { kind = 'airhorn'; text = e.from_name + ' sounded the airhorn'; }
    else if (e.msg_type === 'song_push') {
      kind = 'note'; text = e.from_name + ' shared “' + e.payload.track + '” by ' + e.payload.artist + (e.payload.note ? ' — ' + e.payload.note : '');
      // React to a crew mate's share, as a gadget's buttons do.
      if (!mine) actions = [
        el('button', { type: 'button', 'data-say': 'reaction', 'data-reaction': 'love', 'data-to': e.from_device, 'aria-label': 'Love it' }, [icon('love')]),
        el('button', { type: 'button', 'data-say': 'reaction', 'data-reaction': 'fire', 'data-to': e.from_device, 'aria-label': 'Fire' }, [icon('jam')]),
      ];
    }
    else if (e.msg_type === 'reaction') { kind = e.payload.reaction === 'love' ? 'love' : 'jam'; text = e.from_name + ' reacted'; }
    else if (e.msg_type === 'text') { kind = 'text'; text = e.from_name + ': ' + e.payload.text; }
    else if (e.msg_type === 'nudge') { kind = 'airhorn'; text = e.from_name + ' nudged the crew'; }
    else if (e.msg_type === 'hang_propose') {
      kind = 'text'; text = e.from_name + ' proposes to hang: ' + e.payload.datetime + (e.payload.description ? ' — ' + e.payload.description : '');
      if (!mine) actions = [el('button', { type: 'button', 'data-say': 'hang_confirm', 'data-to': e.from_device }, [txt('I’m in')])];
    }
    else if (e.msg_type === 'hang_confirm') { kind = 'text'; text = e.from_name + ' is in'; }
    else return null;
    var line = el('li', {}, [el('div', { class: 'line line-' + kind }, [icon(kind), txt(' ' + text)]), el('div', { class: 'when', text: when })]);
    if (actions.length) line.appendChild(el('div', { class: 'say-actions' }, actions));
    return line;
  }

  // Reactions and "I'm in" from the list: the same crew messages a gadget sends, once by their id.
  var said = 0;
  $('recent').addEventListener('click', function (event) {
    var button = event.target.closest('button[data-say]'); if (!button) return;
    var type = button.dataset.say;
    var payload = type === 'reaction' ? { reaction: button.dataset.reaction, to_device: button.dataset.to } : { to_device: button.dataset.to };
    button.disabled = true;
    api('/messages', { method: 'POST', body: { msg_type: type, payload: payload, client_msg_id: 'page-' + Date.now().toString(36) + '-' + (said++) } })
      .then(function () { button.classList.add('on'); toast(type === 'reaction' ? 'Reaction sent' : 'You’re in: the crew knows'); }, function (e) { button.disabled = false; toast(e.message); });
  });

  // Crew seqs already in the list: a replay after a reconnect never shows a line twice.
  var shownSeqs = {};
  function addRecent(e, atTop) {
    if (e.seq) { if (shownSeqs[e.seq]) return; shownSeqs[e.seq] = true; }
    var line = recentLine(e); if (!line) return;
    var list = $('recent'), empty = list.querySelector('.empty'); if (empty) empty.remove();
    if (atTop) list.insertBefore(line, list.firstChild); else list.appendChild(line);
    while (list.children.length > 30) list.removeChild(list.lastChild);
  }

  function showRecent(events) {
    var list = $('recent'); list.textContent = ''; shownSeqs = {};
    list.appendChild(el('li', { class: 'empty', text: 'No shares yet.' }));
    events.forEach(function (e) { addRecent(e, false); });
  }

  // Events carry their crew seq as the SSE id: on a reconnect (relay restart, phone asleep) the
  // browser sends the last one and the relay replays what the page missed; 'after' covers the
  // first connection. 'resync': too much was missed, so the page reloads its state.
  function connect(after) {
    var source = new EventSource('/crew/api/events?after=' + after);
    source.onopen = function () { $('live').textContent = 'live'; $('live').className = 'live'; };
    source.onerror = function () { $('live').textContent = 'reconnecting…'; $('live').className = 'live off'; };
    source.addEventListener('queue_state', function (m) { takeQueue(JSON.parse(m.data).queue); });
    source.addEventListener('airhorn', function (m) {
      var e = JSON.parse(m.data);
      if (serverNow() - e.timestamp < 30000) honk(e.from_name); // a replayed old airhorn is history, not an alarm
      addRecent(e, true);
    });
    source.addEventListener('resync', function () {
      api('/state').then(function (state) { takeQueue(state.queue); showRecent(state.recent || []); }, function (e) { toast(e.message); });
    });
    source.addEventListener('message', function (m) { addRecent(JSON.parse(m.data), true); });
    ['member_joined', 'member_left'].forEach(function (type) {
      source.addEventListener(type, function () { window.dispatchEvent(new Event('crew-members-changed')); });
    });
    source.addEventListener('crew_renamed', function (m) { $('crew-name').textContent = JSON.parse(m.data).crew_name; });
    source.addEventListener('crew_settings_changed', function (m) { if (shareHistory) shareHistory.checked = JSON.parse(m.data).share_history; });
    source.addEventListener('expired', function (m) {
      source.close(); $('live').textContent = 'link expired'; $('live').className = 'live off';
      toast(JSON.parse(m.data).message);
    });
  }

  // ---- stats: inline SVG charts ----
  var SVG = 'http://www.w3.org/2000/svg';
  function svg(tag, attrs, text) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function bars(title, rows, label) {
    var wrap = el('div', { class: 'chart' }, [el('h3', { class: 'hint', text: title })]);
    if (!rows.length) { wrap.appendChild(el('p', { class: 'empty', text: 'Nothing yet.' })); return wrap; }
    var max = Math.max.apply(null, rows.map(function (r) { return r.plays; })) || 1, h = rows.length * 26;
    var chart = svg('svg', { viewBox: '0 0 360 ' + h, width: '100%', role: 'img', 'aria-label': title });
    rows.forEach(function (r, i) {
      var w = Math.max(4, 170 * r.plays / max);
      chart.appendChild(svg('rect', { x: 150, y: i * 26 + 4, width: w, height: 18, rx: 5, fill: i === 0 ? '#ff5c8a' : '#7c5cff' }));
      chart.appendChild(svg('text', { x: 144, y: i * 26 + 17, 'text-anchor': 'end' }, label(r).slice(0, 24)));
      chart.appendChild(svg('text', { x: 156 + w, y: i * 26 + 17 }, String(r.plays)));
    });
    wrap.appendChild(chart);
    return wrap;
  }

  function heatmap(cells) {
    var wrap = el('div', { class: 'chart' }, [el('h3', { class: 'hint', text: 'When the crew listens' })]);
    var max = 0; cells.forEach(function (row) { row.forEach(function (v) { max = Math.max(max, v); }); });
    var chart = svg('svg', { viewBox: '0 0 360 150', width: '100%', role: 'img', 'aria-label': 'Listening heatmap' });
    ['Mo', 'Tu', 'We', 'Th', 'Fr', 'Sa', 'Su'].forEach(function (d, day) {
      chart.appendChild(svg('text', { x: 0, y: day * 18 + 26 }, d));
      for (var hour = 0; hour < 24; hour += 1) {
        var v = (cells[day] || [])[hour] || 0, a = max ? 0.08 + 0.92 * v / max : 0.08;
        var cell = svg('rect', { x: 24 + hour * 14, y: day * 18 + 14, width: 12, height: 16, rx: 3, fill: 'rgba(255,92,138,' + a.toFixed(2) + ')' });
        cell.appendChild(svg('title', {}, d + ' ' + hour + ':00 — ' + v));
        chart.appendChild(cell);
      }
    });
    [0, 6, 12, 18].forEach(function (hour) { chart.appendChild(svg('text', { x: 24 + hour * 14, y: 146 }, hour + 'h')); });
    wrap.appendChild(chart);
    return wrap;
  }

  function loadStats() {
    var days = Number($('stats-range').value), to = Date.now(), from = to - days * 86400000;
    var tz = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
    var range = 'from=' + from + '&to=' + to;
    Promise.all([
      api('/history/top?kind=tracks&limit=5&' + range),
      api('/history/top?kind=artists&limit=5&' + range),
      api('/history/heatmap?tz=' + encodeURIComponent(tz) + '&' + range),
    ]).then(function (r) {
      var box = $('stats'); box.textContent = '';
      box.appendChild(bars('Top tracks', r[0].items, function (t) { return t.track; }));
      box.appendChild(bars('Top artists', r[1].items, function (a) { return a.artist; }));
      box.appendChild(heatmap(r[2].cells));
    }, function (e) {
      $('stats').textContent = ''; $('stats').appendChild(el('p', { class: 'empty', text: 'Stats are not available: ' + e.message }));
    });
  }
  $('stats-range').addEventListener('change', loadStats);

  // ---- import ----
  function showImport(p) {
    var total = p.bytes_total || 1;
    $('import-bar').style.width = (p.state === 'done' ? 100 : Math.round(100 * (p.bytes_read || 0) / total)) + '%';
    var c = p.counts || {};
    var counts = Object.keys(c).map(function (k) { return k.replace('_', ' ') + ' ' + c[k]; }).join(' · ');
    $('import-status').textContent = p.state + (counts ? ': ' + counts : '');
  }

  $('import').addEventListener('submit', function (event) {
    event.preventDefault();
    var file = $('import-file').files[0]; if (!file) return;
    $('import-progress').hidden = false; $('import-bar').style.width = '0%';
    $('import-status').textContent = 'uploading…';
    var xhr = new XMLHttpRequest();
    // The import record keeps the name of the file the member chose.
    xhr.open('POST', '/crew/api/history/import?name=' + encodeURIComponent(file.name.slice(0, 200)));
    xhr.setRequestHeader('content-type', 'application/zip');
    xhr.upload.onprogress = function (e) { if (e.lengthComputable) $('import-bar').style.width = Math.round(100 * e.loaded / e.total) + '%'; };
    xhr.onerror = function () { $('import-status').textContent = 'The upload failed; check the connection and try again.'; };
    xhr.onload = function () {
      var body = {}; try { body = JSON.parse(xhr.responseText); } catch (e) { body = {}; }
      if (xhr.status >= 300) { $('import-status').textContent = 'Import refused: ' + (body.message || xhr.status) + (body.code ? ' (' + body.code + ')' : ''); return; }
      var events = new EventSource(body.events_url);
      events.addEventListener('progress', function (m) { showImport(JSON.parse(m.data)); });
      events.addEventListener('done', function (m) { showImport(JSON.parse(m.data)); events.close(); loadStats(); });
      events.addEventListener('failed', function (m) {
        var p = JSON.parse(m.data); events.close();
        $('import-status').textContent = 'Import failed: ' + (p.error ? p.error.message + ' (' + p.error.code + ')' : 'unknown error');
      });
    };
    xhr.send(file);
  });

  api('/state').then(function (state) {
    me = state.me;
    offset = state.server_time - Date.now();
    takeQueue(state.queue);
    showRecent(state.recent || []);
    connect(state.latest_seq);
    loadStats();
    setInterval(tick, 250);
  }, function (e) { toast(e.message); });
})();
`;
