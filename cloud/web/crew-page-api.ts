/**
 * The crew pages' one fetch wrapper, sent first in the page's inline script so every section's
 * script (crew-page-script.ts, crew-mcp-tokens.ts, crew-spotify-app.ts) calls the same one:
 * `crewApi(path, {method, body})` under /crew/api on the same origin with the member's cookie,
 * JSON in and out; a refusal rejects with the relay's sentence as the message and its code.
 */
export const CREW_API_SCRIPT = String.raw`
var crewApi = function (path, options) {
  'use strict';
  options = options || {};
  var init = { method: options.method || 'GET', credentials: 'same-origin', headers: {} };
  if (options.body !== undefined) { init.headers['content-type'] = 'application/json'; init.body = JSON.stringify(options.body); }
  return fetch('/crew/api' + path, init).then(function (res) {
    return res.json().catch(function () { return {}; }).then(function (body) {
      if (!res.ok) { var e = new Error(body.message || ('The relay answered ' + res.status)); e.code = body.code; throw e; }
      return body;
    });
  });
};
`;
