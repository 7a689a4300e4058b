/**
 * The crew page's "Say something" card: a phone member sends the crew a text, a nudge or a
 * hang proposal — the same crew messages a gadget sends (POST /crew/api/messages,
 * cloud/web/crew-messages-routes.ts), each once by its client message id. Reactions and
 * "I'm in" are on the recent lines (crew-page-script.ts).
 */

export function saySectionHtml(): string {
  return `<section class="card" id="say" aria-labelledby="say-title">
    <h2 id="say-title">Say something</h2>
    <form id="say-text" class="add" autocomplete="off">
      <label class="field"><span>To the crew</span><textarea id="say-body" maxlength="4096" rows="2" required></textarea></label>
      <div class="row"><button type="submit" class="primary">Send</button><button type="button" id="say-nudge">Nudge the crew</button></div>
    </form>
    <form id="say-hang" class="add" autocomplete="off">
      <div class="row">
        <label class="field"><span>Hang out when</span><input id="hang-when" maxlength="100" placeholder="friday 7pm" required></label>
        <label class="field"><span>What (optional)</span><input id="hang-what" maxlength="200" placeholder="pizza at Ana's"></label>
      </div>
      <button type="submit">Propose a hang</button>
    </form>
    <p class="form-error" id="say-error" role="alert"></p>
  </section>`;
}

/** Plain ES2020 like the rest of the page; crewApi is the page's one fetch wrapper (crew-page-api.ts). */
export const SAY_SCRIPT = String.raw`
(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };
  if (!$('say')) return;
  var sent = 0;
  function say(msgType, payload) {
    $('say-error').textContent = '';
    return crewApi('/messages', { method: 'POST', body: { msg_type: msgType, payload: payload, client_msg_id: 'page-say-' + Date.now().toString(36) + '-' + (sent++) } })
      .catch(function (e) { $('say-error').textContent = e.message; throw e; });
  }
  $('say-text').addEventListener('submit', function (event) {
    event.preventDefault();
    var text = $('say-body').value;
    if (!text.trim()) return;
    say('text', { text: text }).then(function () { $('say-body').value = ''; }, function () {});
  });
  $('say-nudge').addEventListener('click', function () {
    var button = $('say-nudge'); button.disabled = true;
    say('nudge', {}).then(function () { button.textContent = 'Nudged ✓'; }, function () {}).then(function () { button.disabled = false; });
  });
  $('say-hang').addEventListener('submit', function (event) {
    event.preventDefault();
    say('hang_propose', { datetime: $('hang-when').value.trim(), description: $('hang-what').value.trim() }).then(function () { $('say-hang').reset(); }, function () {});
  });
})();
`;
