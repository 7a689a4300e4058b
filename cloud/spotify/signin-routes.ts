import express from 'express';
import type { LegacyHandoff } from './legacy-handoff.js';
import { normaliseSigninCode, type SigninHandoff } from './signin-handoff.js';
import { codeEntryPage, failurePage, landingPage, legacySuccessPage, successPage, type Page } from './signin-pages.js';

/**
 * HTTP side of the hand-off:
 *   GET  /s                 code entry (for a person who cannot scan the QR)
 *   GET  /s/:code           landing: which gadget and crew, "Continue to Spotify"
 *   POST /s/:code/continue  303 to Spotify's authorize page
 *   GET  /spotify/callback  Spotify's redirect back; success or a failure page. A state that is
 *                           no session of ours may be a field gadget's own link (its device id).
 */
export function signinRouter(
  handoff: SigninHandoff | null,
  accountsUrl: string,
  now: () => number = Date.now,
  legacy: LegacyHandoff | null = null,
): express.Router {
  const router = express.Router();
  router.use(['/s', '/spotify/callback'], (_req, res, next) => {
    // The callback URL carries a code: no caching, no referrer, no framing.
    res.set({
      'cache-control': 'no-store',
      'referrer-policy': 'no-referrer',
      'x-frame-options': 'DENY',
      'x-content-type-options': 'nosniff',
      'content-security-policy': `default-src 'none'; style-src 'unsafe-inline'; form-action 'self' ${new URL(accountsUrl).origin}; frame-ancestors 'none'`,
    });
    next();
  });
  const send = (res: express.Response, page: Page) => res.status(page.status).type('html').send(page.html);

  router.get('/s', (req, res) => {
    const raw = typeof req.query.code === 'string' ? req.query.code : null;
    if (raw === null) return send(res, codeEntryPage(null));
    const code = normaliseSigninCode(raw);
    if (!code) return send(res, codeEntryPage(raw));
    res.redirect(303, `/s/${code.replace('-', '')}`);
  });

  router.get('/s/:code', async (req, res) => {
    if (!handoff) return send(res, failurePage('not_configured'));
    const result = await handoff.landing(req.params.code);
    send(res, result.ok ? landingPage(result.session, now()) : failurePage(result.failure, result.session));
  });

  router.post('/s/:code/continue', async (req, res) => {
    if (!handoff) return send(res, failurePage('not_configured'));
    const result = await handoff.continue(req.params.code);
    if (result.ok) return res.redirect(303, result.authorizeUrl);
    send(res, failurePage(result.failure, result.session));
  });

  router.get('/spotify/callback', async (req, res) => {
    if (!handoff) return send(res, failurePage('not_configured'));
    const text = (v: unknown) => (typeof v === 'string' && v.length <= 2048 ? v : undefined);
    const query = { code: text(req.query.code), state: text(req.query.state), error: text(req.query.error) };
    const result = await handoff.callback(query);
    if (!result.ok && result.failure === 'invalid' && !result.session && legacy) {
      const old = await legacy.callback(query);
      if (old) return send(res, old.ok ? legacySuccessPage(old.deviceName, old.delivered) : failurePage(old.failure));
    }
    send(res, result.ok ? successPage(result.session, result.spotifyName) : failurePage(result.failure, result.session, result.retryAfterMs));
  });
  // A path that does not decode (`/s/%00%ff`) is a bad link: a page, not the JSON error of the API.
  router.use(['/s', '/spotify/callback'], (_error: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    send(res, failurePage('invalid'));
  });
  return router;
}
