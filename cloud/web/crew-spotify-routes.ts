import express, { type Request, type Response } from 'express';
import {
  CrewMixtapeRequest,
  CrewPlayOnRequest,
  CrewSpotifySearchQuery,
  ProtocolError,
  type CrewSpotifyDevicesResponse,
  type CrewSpotifySearchResponse,
} from '../../protocol/index.js';
import { describeIssues } from '../../protocol/parse.js';
import type { RelayContext } from '../feature.js';
import { sendJson } from '../http-errors.js';
import type { CrewMixtapes, MemberSpotify } from '../ports.js';
import type { CrewViewer } from './member-links.js';

/**
 * The member's own Spotify on the crew page, behind the member link (res.locals.viewer) and its
 * rate limit, mounted at /crew/api: search to add (GET /spotify/search; the member's sign-in,
 * or the crew owner's for a member who has none, e.g. a phone-only member), and the member's
 * Spotify Connect devices (GET /spotify/devices, PUT /spotify/player {device_id}) — always the
 * member's own, never the owner's — and the weekly crew mixtape made in the member's own Spotify
 * (POST /mixtape, once per member and week).
 */
export function crewSpotifyRouter(context: RelayContext, spotify: MemberSpotify | null, mixtapes: CrewMixtapes | null = null): express.Router {
  const log = context.log.child({ feature: 'crew-pages' });
  const router = express.Router();
  const route = (work: (viewer: CrewViewer, req: Request) => Promise<unknown>) => (req: Request, res: Response) => {
    res.set('Cache-Control', 'no-store');
    sendJson(
      res,
      async () => {
        if (!spotify) throw new ProtocolError('spotify_not_configured');
        return work(res.locals.viewer as CrewViewer, req);
      },
      log,
    );
  };

  router.get(
    '/spotify/search',
    route(async (viewer, req) => {
      const parsed = CrewSpotifySearchQuery.safeParse(req.query);
      if (!parsed.success) throw new ProtocolError('invalid_message', `The search's ${describeIssues(parsed.error)}.`);
      const { q, limit } = parsed.data;
      try {
        return { tracks: await spotify!.searchTracks(viewer.deviceId, q, limit), searched_with: 'yours' } satisfies CrewSpotifySearchResponse;
      } catch (error) {
        // A member without a Spotify sign-in searches with the crew owner's, as the queue's lookups do.
        if (!(error instanceof ProtocolError) || error.code !== 'spotify_signin_required' || viewer.isOwner) throw error;
        const crew = await context.store.crews.getCrew(viewer.crewId);
        if (!crew) throw error;
        try {
          return { tracks: await spotify!.searchTracks(crew.ownerDeviceId, q, limit), searched_with: 'owner' } satisfies CrewSpotifySearchResponse;
        } catch (ownerError) {
          if (ownerError instanceof ProtocolError && ownerError.code === 'spotify_signin_required') {
            throw new ProtocolError(
              'spotify_signin_required',
              'Searching needs a Spotify sign-in: sign in with Spotify on your gadget (or ask your crew owner to).',
            );
          }
          throw ownerError;
        }
      }
    }),
  );

  router.get(
    '/spotify/devices',
    route(async (viewer) => ({ devices: await spotify!.devices(viewer.deviceId) }) satisfies CrewSpotifyDevicesResponse),
  );

  router.put(
    '/spotify/player',
    express.json({ limit: '4kb' }),
    route(async (viewer, req) => {
      const parsed = CrewPlayOnRequest.safeParse(req.body ?? {});
      if (!parsed.success) throw new ProtocolError('invalid_message', `The request's ${describeIssues(parsed.error)}.`);
      await spotify!.playOn(viewer.deviceId, parsed.data.device_id);
      log.info({ deviceId: viewer.deviceId }, 'member moved their Spotify playback from the crew page');
      return { ok: true };
    }),
  );
  router.post(
    '/mixtape',
    express.json({ limit: '4kb' }),
    route(async (viewer, req) => {
      if (!mixtapes) throw new ProtocolError('spotify_not_configured');
      const parsed = CrewMixtapeRequest.safeParse(req.body ?? {});
      if (!parsed.success) throw new ProtocolError('invalid_message', `The request's ${describeIssues(parsed.error)}.`);
      const who = { deviceId: viewer.deviceId, crewId: viewer.crewId, fromSeq: viewer.firstVisibleSeq };
      const made = await mixtapes.make(who, { weekOf: parsed.data.week_of, timeZone: parsed.data.tz, limit: parsed.data.limit });
      log.info({ deviceId: viewer.deviceId, week: made.week_of, created: made.created }, 'weekly mixtape from the crew page');
      return made;
    }),
  );
  return router;
}
