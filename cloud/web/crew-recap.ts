/**
 * The crew page's "Recap" card: a month or a year of the crew's music (top tracks and
 * artists for the crew and each member, who shared most, the tracks shared for the first
 * time, when the crew listens) and the same as a picture to share (PNG). It reads
 * /crew/api/history/recap and recap.png (cloud/history/recap.ts, recap-image.ts).
 */

export function recapSectionHtml(): string {
  return `<section class="card" id="recap" aria-labelledby="recap-title">
    <h2 id="recap-title">Recap <select id="recap-period" aria-label="Period"></select></h2>
    <div id="recap-body"><p class="empty">Pick a month or a year.</p></div>
    <p class="form-error" id="recap-error" role="alert"></p>
    <h3>This week's crew mixtape</h3>
    <p class="hint">The crew's shares of the week, then its most played tracks, as a private playlist in your own Spotify (once a week: asking again opens the same one).</p>
    <button type="button" id="mixtape-make">Make it in my Spotify</button>
    <p id="mixtape-status" class="hint" role="status"></p>
  </section>`;
}

/** Plain ES2020 like the rest of the page; crewApi is the page's one fetch wrapper (crew-page-api.ts). */
export const RECAP_SCRIPT = String.raw`
(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };
  if (!$('recap')) return;
  var tz = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  var now = new Date(), y = now.getFullYear(), m = now.getMonth() + 1;
  function month(yy, mm) { return yy + '-' + String(mm).padStart(2, '0'); }
  var lastMonth = m === 1 ? month(y - 1, 12) : month(y, m - 1);
  [[month(y, m), 'This month'], [lastMonth, 'Last month'], [String(y), 'This year'], [String(y - 1), 'Last year']].forEach(function (p) {
    var o = document.createElement('option'); o.value = p[0]; o.textContent = p[1] + ' (' + p[0] + ')'; $('recap-period').appendChild(o);
  });
  function item(tag, text, cls) { var n = document.createElement(tag); if (cls) n.className = cls; n.textContent = text; return n; }
  function list(title, lines) {
    var box = document.createElement('div'); box.className = 'recap-list';
    box.appendChild(item('h3', title));
    var ol = document.createElement('ol');
    if (!lines.length) ol.appendChild(item('li', 'nothing yet', 'empty'));
    lines.forEach(function (l) { ol.appendChild(item('li', l)); });
    box.appendChild(ol);
    return box;
  }
  function show() {
    var period = $('recap-period').value, query = '?period=' + encodeURIComponent(period) + '&tz=' + encodeURIComponent(tz);
    $('recap-error').textContent = '';
    crewApi('/history/recap' + query).then(function (r) {
      var body = $('recap-body'); body.textContent = '';
      body.appendChild(item('p', r.crew.plays + ' plays · ' + Math.round(r.crew.listening_ms / 3600000) + ' hours · ' + r.shares.total + ' shares', 'hint'));
      body.appendChild(list('Crew top tracks', r.crew.top_tracks.slice(0, 5).map(function (t) { return t.track + ' · ' + t.artist + ' (' + t.plays + ')'; })));
      body.appendChild(list('Crew top artists', r.crew.top_artists.slice(0, 5).map(function (a) { return a.artist + ' (' + a.plays + ')'; })));
      body.appendChild(list('Members', r.members.map(function (mm) {
        return mm.name + ': ' + mm.plays + ' plays, ' + mm.shares + ' shares' + (mm.top_artists[0] ? ', mostly ' + mm.top_artists[0].artist : '');
      })));
      body.appendChild(list('Shared for the first time', r.shares.first_shares.map(function (s) { return s.track + ' · ' + s.artist + ' (' + s.shared_by + ')'; })));
      var img = document.createElement('img'); img.id = 'recap-image'; img.alt = 'The crew recap as a picture'; img.src = '/crew/api/history/recap.png' + query;
      body.appendChild(img);
      var a = document.createElement('a'); a.href = img.src; a.download = 'leeloo-recap-' + period + '.png'; a.textContent = 'Download the picture'; a.id = 'recap-download';
      body.appendChild(a);
    }, function (e) { $('recap-error').textContent = e.message; });
  }
  $('recap-period').addEventListener('change', show);
  show();

  $('mixtape-make').addEventListener('click', function () {
    var button = $('mixtape-make'), status = $('mixtape-status');
    button.disabled = true; status.textContent = 'Making it…';
    crewApi('/mixtape', { method: 'POST', body: { tz: tz } }).then(function (m) {
      status.textContent = (m.created ? 'Made: ' : 'Already made: ') + m.name + ', ' + m.track_count + ' tracks. ';
      if (m.url) { var a = document.createElement('a'); a.href = m.url; a.id = 'mixtape-link'; a.textContent = 'Open in Spotify'; a.target = '_blank'; a.rel = 'noopener'; status.appendChild(a); }
    }, function (e) { status.textContent = e.message; }).then(function () { button.disabled = false; });
  });
})();
`;
