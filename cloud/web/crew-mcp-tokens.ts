/**
 * The "AI assistants" section of the crew page: a member makes a personal MCP token (shown
 * once, with the relay's /mcp URL and a config to paste into the assistant), sees their
 * tokens (name, made, last used; never the secret) and revokes one. It talks to
 * /crew/api/mcp-tokens (cloud/mcp/mcp-tokens.ts).
 */

export const MCP_TOKENS_SECTION_ID = 'mcp-tokens';

export function mcpTokensSectionHtml(): string {
  return `<section class="card" id="${MCP_TOKENS_SECTION_ID}" aria-labelledby="mcp-title">
    <h2 id="mcp-title">AI assistants</h2>
    <p class="hint">Give an AI assistant that speaks MCP (Claude, Cursor, VS Code…) a personal token: it can then read your listening and the crew's, and queue, vote, react and write to the crew as you. Each token works until you revoke it here.</p>
    <form id="mcp-form" class="add" autocomplete="off">
      <label class="field"><span>Name (optional, to tell your tokens apart)</span><input id="mcp-name" name="name" maxlength="40" placeholder="e.g. laptop"></label>
      <button type="submit" class="primary">Make a token</button>
      <p class="form-error" id="mcp-error" role="alert"></p>
    </form>
    <div id="mcp-new" hidden>
      <p class="hint" role="status"><b>Copy it now:</b> the token is shown once; the relay keeps only a fingerprint of it.</p>
      <label class="field"><span>Server URL</span><div class="copy"><input id="mcp-url" readonly><button type="button" data-copy="mcp-url">Copy</button></div></label>
      <label class="field"><span>Token (send as <code>Authorization: Bearer …</code>)</span><div class="copy"><input id="mcp-token" readonly><button type="button" data-copy="mcp-token">Copy</button></div></label>
      <label class="field"><span>Client config (JSON, e.g. .mcp.json)</span><div class="copy"><textarea id="mcp-config" readonly rows="9" spellcheck="false"></textarea><button type="button" data-copy="mcp-config">Copy</button></div></label>
      <label class="field"><span>Claude Code</span><div class="copy"><input id="mcp-cli" readonly><button type="button" data-copy="mcp-cli">Copy</button></div></label>
      <button type="button" id="mcp-hide">Done, hide the token</button>
    </div>
    <h3>Your tokens <span id="mcp-count" class="count"></span></h3>
    <ul id="mcp-list" class="recent"><li class="empty">Loading…</li></ul>
  </section>`;
}

/** Plain ES2020 like the rest of the page. */
export const MCP_TOKENS_SCRIPT = String.raw`
(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };
  if (!$('mcp-tokens')) return;

  function when(ms) { return ms ? new Date(ms).toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' }) : 'never'; }

  function show(answer) {
    var list = $('mcp-list'); list.textContent = '';
    $('mcp-count').textContent = answer.tokens.length ? answer.tokens.length + ' of ' + answer.max_tokens : '';
    if (!answer.tokens.length) {
      var none = document.createElement('li'); none.className = 'empty'; none.textContent = 'No tokens yet.'; list.appendChild(none);
    }
    answer.tokens.forEach(function (t) {
      var li = document.createElement('li'); li.dataset.token = t.token_id;
      var line = document.createElement('div'); line.className = 'mcp-name'; line.textContent = t.name || 'Token ' + t.token_id.slice(0, 6);
      var dates = document.createElement('div'); dates.className = 'when';
      dates.textContent = 'made ' + when(t.created_at) + ' · last used ' + when(t.last_used_at);
      var revoke = document.createElement('button'); revoke.type = 'button'; revoke.dataset.revoke = t.token_id; revoke.textContent = 'Revoke';
      li.appendChild(line); li.appendChild(dates); li.appendChild(revoke);
      list.appendChild(li);
    });
  }

  function fail(e) { $('mcp-error').textContent = e.message; }
  function load() { return crewApi('/mcp-tokens').then(show, fail); }

  $('mcp-form').addEventListener('submit', function (event) {
    event.preventDefault();
    $('mcp-error').textContent = '';
    crewApi('/mcp-tokens', { method: 'POST', body: { name: $('mcp-name').value.trim() } }).then(function (made) {
      $('mcp-url').value = made.mcp_url;
      $('mcp-token').value = made.token;
      $('mcp-config').value = JSON.stringify(made.client_config, null, 2);
      $('mcp-cli').value = made.claude_code;
      $('mcp-new').hidden = false; $('mcp-name').value = '';
      return load();
    }, fail);
  });

  $('mcp-tokens').addEventListener('click', function (event) {
    var copy = event.target.closest('button[data-copy]');
    if (copy) {
      var field = $(copy.dataset.copy);
      var done = function () { copy.textContent = 'Copied'; };
      var select = function () { field.select(); document.execCommand('copy'); done(); };
      if (navigator.clipboard) navigator.clipboard.writeText(field.value).then(done, select); else select();
      return;
    }
    var revoke = event.target.closest('button[data-revoke]');
    if (revoke) { $('mcp-error').textContent = ''; crewApi('/mcp-tokens/' + revoke.dataset.revoke, { method: 'DELETE' }).then(load, fail); }
  });

  // Hiding wipes the token from the page: it cannot be shown again.
  $('mcp-hide').addEventListener('click', function () {
    ['mcp-token', 'mcp-config', 'mcp-cli'].forEach(function (id) { $(id).value = ''; });
    $('mcp-new').hidden = true;
  });
  load();
})();
`;
