/**
 * The crew page's "Members" card: who is in the crew (owner, online, and "phone" or
 * "Telegram" for members without a gadget), from /crew/api/state. The owner also gets
 * "Invite someone without a gadget" (POST /crew/api/invites: a single-use link shown as text
 * with a Copy button) and "Remove" on phone and Telegram members (DELETE
 * /crew/api/members/:deviceId). cloud/web/crew-invites.ts serves both.
 */

export function membersSectionHtml(isOwner: boolean): string {
  const invite = isOwner
    ? `<div id="invite">
      <button type="button" id="invite-make">Invite someone without a gadget</button>
      <div id="invite-new" hidden>
        <p class="hint" role="status">Send this link to the person: it makes one member, and works until <span id="invite-until"></span>.</p>
        <div class="copy"><input id="invite-url" readonly aria-label="Invite link"><button type="button" id="invite-copy">Copy</button></div>
      </div>
    </div>`
    : '';
  return `<section class="card" id="members" aria-labelledby="members-title">
    <h2 id="members-title">Members <span id="members-count" class="count"></span></h2>
    <ul id="members-list" class="recent"><li class="empty">Loading…</li></ul>
    ${invite}
    <p class="form-error" id="members-error" role="alert"></p>
  </section>`;
}

/** Plain ES2020 like the rest of the page; crewApi is the page's one fetch wrapper (crew-page-api.ts). */
export const MEMBERS_SCRIPT = String.raw`
(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };
  if (!$('members')) return;
  var VIA = { phone: 'phone', telegram: 'Telegram' };
  function fail(e) { $('members-error').textContent = e.message; }

  function show(state) {
    var list = $('members-list'); list.textContent = '';
    var members = state.crew.members;
    $('members-count').textContent = String(members.length);
    members.forEach(function (m) {
      var li = document.createElement('li'); li.dataset.member = m.device_id;
      var name = document.createElement('span'); name.className = 'member-name'; name.textContent = m.display_name;
      li.appendChild(name);
      var tags = [];
      if (m.is_owner) tags.push('owner');
      if (m.via) tags.push(VIA[m.via] || m.via); else if (m.online) tags.push('online');
      if (m.device_id === state.me.device_id) tags.push('you');
      if (tags.length) { var tag = document.createElement('span'); tag.className = 'when'; tag.textContent = ' · ' + tags.join(' · '); li.appendChild(tag); }
      if (state.me.is_owner && m.via && m.device_id !== state.me.device_id) {
        var remove = document.createElement('button'); remove.type = 'button'; remove.dataset.remove = m.device_id; remove.textContent = 'Remove';
        remove.setAttribute('aria-label', 'Remove ' + m.display_name);
        li.appendChild(remove);
      }
      list.appendChild(li);
    });
  }

  function load() { return crewApi('/state').then(show, fail); }

  $('members').addEventListener('click', function (event) {
    var remove = event.target.closest('button[data-remove]');
    if (remove) { $('members-error').textContent = ''; crewApi('/members/' + encodeURIComponent(remove.dataset.remove), { method: 'DELETE' }).then(load, fail); return; }
    if (event.target.closest('#invite-make')) {
      $('members-error').textContent = '';
      crewApi('/invites', { method: 'POST', body: {} }).then(function (made) {
        $('invite-url').value = made.url;
        $('invite-until').textContent = new Date(made.expires_at).toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' });
        $('invite-new').hidden = false;
      }, fail);
      return;
    }
    var copy = event.target.closest('#invite-copy');
    if (copy) {
      var done = function () { copy.textContent = 'Copied'; };
      var select = function () { $('invite-url').select(); document.execCommand('copy'); done(); };
      if (navigator.clipboard) navigator.clipboard.writeText($('invite-url').value).then(done, select); else select();
    }
  });
  // Someone joined or left: the list is drawn again (the page's live stream reloads nothing else for it).
  window.addEventListener('crew-members-changed', load);
  load();
})();
`;
