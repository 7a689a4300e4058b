/**
 * The crew page's "Add from Spotify" and "Play on" parts: a member searches Spotify's catalog
 * (their own sign-in, or the crew owner's) and queues a result with one tap, and moves their
 * own Spotify playback to one of their Connect devices. It talks to /crew/api/spotify/* (the
 * member's own Spotify: cloud/web/crew-spotify-routes.ts) and POST /crew/api/queue.
 */

export function spotifySearchHtml(): string {
  return `<form id="search" class="add search" autocomplete="off" role="search">
      <label class="field"><span>Search Spotify</span>
        <input name="q" id="search-q" type="search" maxlength="200" placeholder="a title, an artist…" required></label>
      <button type="submit" class="primary">Search</button>
      <p class="form-error" id="search-error" role="alert"></p>
    </form>
    <ul id="search-results" class="results" aria-live="polite"></ul>`;
}

export function spotifyDevicesSectionHtml(): string {
  return `<section class="card" id="spotify-devices" aria-labelledby="devices-title">
    <h2 id="devices-title">Play on</h2>
    <p class="hint">Your own Spotify: the phones, computers and speakers signed in to your account. Tap one to play there.</p>
    <button type="button" id="devices-load">Show my devices</button>
    <p class="form-error" id="devices-error" role="alert"></p>
    <ul id="devices" class="recent"></ul>
  </section>`;
}

/** Plain ES2020 like the rest of the page; crewApi is the page's one fetch wrapper (crew-page-api.ts). */
export const SPOTIFY_SEARCH_SCRIPT = String.raw`
(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };
  if (!$('search')) return;
  var sent = 0;

  function item(tag, cls, text) { var n = document.createElement(tag); if (cls) n.className = cls; if (text !== undefined) n.textContent = text; return n; }

  function showResults(answer) {
    var list = $('search-results'); list.textContent = '';
    if (!answer.tracks.length) { list.appendChild(item('li', 'empty', 'Nothing found.')); return; }
    answer.tracks.forEach(function (t) {
      var li = item('li'); li.dataset.uri = t.spotify_uri;
      var art = t.album_art_url ? item('img', 'thumb') : item('div', 'thumb');
      if (t.album_art_url) { art.src = t.album_art_url; art.alt = ''; art.loading = 'lazy'; }
      var text = item('div', 'what');
      text.appendChild(item('div', 'title', t.track));
      text.appendChild(item('div', 'artist', t.artist + (t.album ? ' · ' + t.album : '')));
      var add = item('button', 'primary', 'Queue'); add.type = 'button'; add.setAttribute('aria-label', 'Queue ' + t.track);
      add.addEventListener('click', function () {
        add.disabled = true;
        crewApi('/queue', { method: 'POST', body: {
          spotify_uri: t.spotify_uri, track: t.track, artist: t.artist, album: t.album,
          album_art_url: t.album_art_url || '', duration_ms: t.duration_ms,
          client_msg_id: 'page-search-' + Date.now().toString(36) + '-' + (sent++)
        } }).then(function () { add.textContent = 'Queued ✓'; }, function (e) { add.disabled = false; $('search-error').textContent = e.message; });
      });
      li.appendChild(art); li.appendChild(text); li.appendChild(add);
      list.appendChild(li);
    });
    if (answer.searched_with === 'owner') list.appendChild(item('li', 'hint', 'Searched with your crew owner’s Spotify (you have not signed in with yours).'));
  }

  $('search').addEventListener('submit', function (event) {
    event.preventDefault();
    var q = $('search-q').value.trim();
    $('search-error').textContent = '';
    if (!q) return;
    crewApi('/spotify/search?q=' + encodeURIComponent(q)).then(showResults, function (e) { $('search-results').textContent = ''; $('search-error').textContent = e.message; });
  });

  function showDevices(answer) {
    var list = $('devices'); list.textContent = '';
    if (!answer.devices.length) {
      list.appendChild(item('li', 'empty', 'No Spotify device is on: open Spotify on your phone, computer or speaker, then look again.'));
      return;
    }
    answer.devices.forEach(function (d) {
      var li = item('li'); li.dataset.device = d.id || '';
      li.appendChild(item('span', 'title', d.name + ' '));
      li.appendChild(item('span', 'when', d.type + (d.is_active ? ' · playing here' : '')));
      if (d.id && !d.is_active) {
        var play = item('button', '', 'Play here'); play.type = 'button';
        play.addEventListener('click', function () {
          crewApi('/spotify/player', { method: 'PUT', body: { device_id: d.id } }).then(loadDevices, function (e) { $('devices-error').textContent = e.message; });
        });
        li.appendChild(play);
      }
      list.appendChild(li);
    });
  }

  function loadDevices() {
    $('devices-error').textContent = '';
    crewApi('/spotify/devices').then(showDevices, function (e) { $('devices').textContent = ''; $('devices-error').textContent = e.message; });
  }
  if ($('devices-load')) $('devices-load').addEventListener('click', loadDevices);
})();
`;
