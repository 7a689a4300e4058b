/**
 * The crew owner's "Spotify app for this crew" section of the crew page: how to make an
 * app in Spotify's dashboard (development mode serves five users per app), the exact
 * redirect URI to paste, the client id (and optional secret), a check by a real sign-in,
 * who is signed in with it against the five-user budget, and how to allowlist a member.
 * It talks to /crew/api/spotify-app (owner only; cloud/web/crew-pages.ts).
 */

export const SPOTIFY_APP_SECTION_ID = 'spotify-app';

export function spotifyAppSectionHtml(): string {
  return `<section class="card" id="${SPOTIFY_APP_SECTION_ID}" aria-labelledby="sa-title">
    <h2 id="sa-title">Spotify app for this crew</h2>
    <p class="hint">Spotify lets an app in development mode sign in five people. With the crew's own app, your crew does not share the relay's five places with other crews.</p>
    <p id="sa-current" class="hint" role="status">Loading…</p>
    <p id="sa-quota" class="form-error" role="alert" hidden></p>
    <ol class="steps">
      <li>Open <b>developer.spotify.com/dashboard</b>, sign in with your Spotify account (Premium is needed to own an app) and choose <b>Create app</b>.</li>
      <li>Give it any name and description. Tick <b>Web API</b>.</li>
      <li>Paste this exact <b>Redirect URI</b>, then save:
        <div class="copy"><input id="sa-redirect" readonly aria-label="Redirect URI"><button type="button" id="sa-copy">Copy</button></div></li>
      <li>Open the app's <b>Settings</b>, copy its <b>Client ID</b> and paste it below. The secret is optional: LEELOO signs in without it.</li>
    </ol>
    <form id="sa-form" class="add" autocomplete="off">
      <label class="field"><span>Client ID</span><input id="sa-client-id" name="client_id" required spellcheck="false" placeholder="32 letters and digits"></label>
      <label class="field"><span>Client secret (optional)</span><input id="sa-secret" name="client_secret" type="password" spellcheck="false"></label>
      <button type="submit" class="primary">Use this app for the crew</button>
      <p class="form-error" id="sa-error" role="alert"></p>
    </form>
    <div id="sa-own" hidden>
      <button type="button" class="primary" id="sa-check">Check it: sign in with it now</button>
      <p class="hint">The check signs your gadget in to Spotify through the crew's app, exactly as members will. If Spotify shows “INVALID_CLIENT: Invalid redirect URI”, the redirect URI above is not saved in the app.</p>
      <button type="button" id="sa-remove">Go back to the relay's app</button>
      <p class="hint">Removing or replacing the app asks every member to sign in to Spotify again.</p>
    </div>
    <h3>Signed in <span id="sa-budget" class="count"></span></h3>
    <ul id="sa-members" class="recent"></ul>
    <p class="hint" id="sa-allowlist">To let a member in: in the app's page on the dashboard open <b>User Management</b>, add the member's name and the <b>e-mail address of their Spotify account</b>, save, then the member signs in from their gadget (hold a button, <b>Re-pair Spotify</b>). Spotify refuses anybody not on that list.</p>
  </section>`;
}

/** Plain ES2020 like the rest of the page; runs only on the owner's page. */
export const SPOTIFY_APP_SCRIPT = String.raw`
(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };
  if (!$('spotify-app')) return;
  var APPS = { crew: "the crew's app", relay: "the relay's app", other: 'an older app (sign in again)' };

  function show(s) {
    $('sa-redirect').value = s.redirect_uri || '';
    $('sa-current').textContent = !s.configured
      ? 'This relay has no Spotify sign-in set up (its operator must set LEELOO_ENCRYPTION_KEY and PUBLIC_URL).'
      : s.client_id ? 'The crew signs in with its own app: ' + s.client_id + (s.has_secret ? ' (with its secret).' : '.')
      : s.relay_app ? "The crew signs in with the relay's app, shared with other crews." : 'No app yet: members cannot sign in to Spotify until you add one.';
    $('sa-own').hidden = !s.client_id;
    if (s.client_id) $('sa-client-id').value = s.client_id;
    $('sa-quota').hidden = !s.quota_exceeded_at;
    $('sa-quota').textContent = s.quota_exceeded_at ? 'Spotify refused this app for its quota at ' + new Date(s.quota_exceeded_at).toLocaleString() + '. ' + s.quota_message : '';
    $('sa-budget').textContent = s.client_id ? s.accounts_on_crew_app + ' of ' + s.budget + " on the crew's app" : '';
    var list = $('sa-members'); list.textContent = '';
    s.members.forEach(function (m) {
      var li = document.createElement('li');
      li.dataset.device = m.device_id;
      li.textContent = m.display_name + ' — ' + (m.app ? (m.spotify_name || 'Spotify') + ' via ' + APPS[m.app] : 'not signed in');
      list.appendChild(li);
    });
  }

  function fail(e) { $('sa-error').textContent = e.message; }
  function load() { crewApi('/spotify-app').then(show, fail); }

  $('sa-copy').addEventListener('click', function () {
    var field = $('sa-redirect');
    var done = function () { $('sa-copy').textContent = 'Copied'; };
    if (navigator.clipboard) navigator.clipboard.writeText(field.value).then(done, function () { field.select(); document.execCommand('copy'); done(); });
    else { field.select(); document.execCommand('copy'); done(); }
  });
  $('sa-form').addEventListener('submit', function (event) {
    event.preventDefault();
    $('sa-error').textContent = '';
    var body = { client_id: $('sa-client-id').value.trim() };
    if ($('sa-secret').value.trim()) body.client_secret = $('sa-secret').value.trim();
    crewApi('/spotify-app', { method: 'PUT', body: body }).then(function (s) { $('sa-secret').value = ''; show(s); }, fail);
  });
  $('sa-remove').addEventListener('click', function () { crewApi('/spotify-app', { method: 'DELETE' }).then(show, fail); });
  $('sa-check').addEventListener('click', function () {
    crewApi('/spotify-app/check', { method: 'POST', body: {} }).then(function (session) { location.href = session.url; }, fail);
  });
  load();
})();
`;
