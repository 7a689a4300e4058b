import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { z } from 'zod';
import {
  DeviceId,
  describeIssues,
  HistoryHeatmapQuery,
  HistoryImportQuery,
  HistoryOnThisDayQuery,
  HistoryRecapQuery,
  HistoryThrowbackQuery,
  HistoryTimelineQuery,
  HistoryTopQuery,
  ProtocolError,
  type HistoryImportStarted,
  type HistoryOnThisDayResponse,
  type HistoryThrowbackResponse,
  type HistoryTimelineResponse,
  type HistoryTopResponse,
} from '../../protocol/index.js';
import { requireAdminToken } from '../admin-auth.js';
import { visibleFromSeq } from '../crew-visibility.js';
import { sendError } from '../http-errors.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/store.js';
import type { ImportJobs, ImportJobView } from './import-jobs.js';
import { memberCsv, memberJson } from './member-export.js';
import type { HistoryScope } from '../ports.js';
import type { HistoryQueries } from './queries.js';
import { recapPng } from './recap-image.js';
import { crewRecap } from './recap.js';

/** Who is asking: set in res.locals.historyViewer by whatever authorised the request. */
export interface HistoryViewer {
  readonly deviceId: string;
  readonly crewId: string | null;
  /**
   * The operator's view of one member (/admin/history/members/ID/…): every figure is that
   * member's alone, never the crew's, and `?member=` may name no one else.
   */
  readonly memberOnly?: boolean;
}

export interface HistoryRouteDeps {
  readonly store: Store;
  readonly queries: HistoryQueries;
  readonly jobs: ImportJobs;
  readonly log: Logger;
  readonly now?: () => number;
}

const DAY_MS = 86_400_000;
function parse<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const result = schema.safeParse(value);
  if (!result.success) throw new ProtocolError('invalid_message', `The query is not valid: ${describeIssues(result.error)}.`);
  return result.data;
}

type Handler = (req: Request, res: Response, viewer: HistoryViewer) => Promise<void>;

/**
 * The history API for one authorised member, mounted behind the crew pages' member link
 * (or the admin token). Every path is documented in docs/REFERENCE.md "History".
 */
export function memberHistoryRouter(deps: HistoryRouteDeps): express.Router {
  const router = express.Router();
  const now = deps.now ?? Date.now;
  const route = (handler: Handler) => async (req: Request, res: Response) => {
    const viewer = res.locals.historyViewer as HistoryViewer | undefined;
    if (!viewer) {
      sendError(res, new ProtocolError('unauthorized', 'Open the crew page from the link your gadget shows.'), deps.log);
      return;
    }
    try {
      await handler(req, res, viewer);
    } catch (error) {
      sendError(res, error, deps.log);
    }
  };

  /** The viewer's crew, or one member of it (?member=); crew events only from what the viewer may see. */
  async function scopeOf(viewer: HistoryViewer, member: string | undefined): Promise<HistoryScope> {
    return { ...(await whoseOf(viewer, member)), fromSeq: await fromSeqOf(viewer) };
  }
  const fromSeqOf = (viewer: HistoryViewer) => (viewer.crewId ? visibleFromSeq(deps.store.crews, viewer.deviceId, viewer.crewId) : Promise.resolve(1));
  async function whoseOf(viewer: HistoryViewer, member: string | undefined): Promise<HistoryScope> {
    if (viewer.memberOnly) {
      if (member !== undefined && member !== viewer.deviceId) {
        throw new ProtocolError('invalid_message', `This admin path is for ${viewer.deviceId} only; ask /admin/history/members/${member}/… for ${member}.`);
      }
      return { memberId: viewer.deviceId };
    }
    if (member === undefined) return viewer.crewId ? { crewId: viewer.crewId } : { memberId: viewer.deviceId };
    if (member === viewer.deviceId) return { memberId: member };
    const membership = await deps.store.crews.getMembership(member);
    if (!viewer.crewId || membership?.crewId !== viewer.crewId) throw new ProtocolError('not_found', `${member} is not a member of this crew.`);
    return { memberId: member };
  }
  const rangeOf = (q: { from?: number; to?: number }, defaultFrom: number) => {
    const range = { fromMs: q.from ?? defaultFrom, toMs: q.to ?? now() + DAY_MS };
    if (range.fromMs >= range.toMs) throw new ProtocolError('invalid_message', '"from" must be before "to".');
    return range;
  };

  router.get(
    '/history',
    route(async (req, res, viewer) => {
      const q = parse(HistoryTimelineQuery, req.query);
      const items = await deps.queries.timeline(await scopeOf(viewer, q.member), rangeOf(q, now() - 30 * DAY_MS), { limit: q.limit });
      res.json({ items } satisfies HistoryTimelineResponse);
    }),
  );

  router.get(
    '/history/top',
    route(async (req, res, viewer) => {
      const q = parse(HistoryTopQuery, req.query);
      const scope = await scopeOf(viewer, q.member);
      const options = { by: q.by, limit: q.limit };
      const answer: HistoryTopResponse =
        q.kind === 'tracks'
          ? { kind: q.kind, by: q.by, items: await deps.queries.topTracks(scope, rangeOf(q, 0), options) }
          : { kind: q.kind, by: q.by, items: await deps.queries.topArtists(scope, rangeOf(q, 0), options) };
      res.json(answer);
    }),
  );

  router.get(
    '/history/heatmap',
    route(async (req, res, viewer) => {
      const q = parse(HistoryHeatmapQuery, req.query);
      res.json(await deps.queries.heatmap(await scopeOf(viewer, q.member), rangeOf(q, 0), { timeZone: q.tz, measure: q.measure }));
    }),
  );

  router.get(
    '/history/on-this-day',
    route(async (req, res, viewer) => {
      const q = parse(HistoryOnThisDayQuery, req.query);
      const days = await deps.queries.onThisDay(await scopeOf(viewer, q.member), {
        date: q.date,
        timeZone: q.tz,
        mode: q.mode,
        count: q.count,
        limit: q.limit,
        nowMs: now(),
      });
      res.json({ days } satisfies HistoryOnThisDayResponse);
    }),
  );

  router.get(
    '/history/throwback',
    route(async (req, res, viewer) => {
      const q = parse(HistoryThrowbackQuery, req.query);
      if (!viewer.crewId) throw new ProtocolError('not_in_crew', 'Throwback picks from a crew’s shares; join a crew first.');
      const fromSeq = await fromSeqOf(viewer);
      const items = await deps.queries.throwback(viewer.crewId, { nowMs: now(), timeZone: q.tz, weeks: q.weeks, limit: q.limit, fromSeq });
      res.json({ items } satisfies HistoryThrowbackResponse);
    }),
  );

  /** The crew's month or year (JSON), and the same as a shareable picture (PNG). */
  const recapOf = async (req: Request, viewer: HistoryViewer) => {
    const q = parse(HistoryRecapQuery, req.query);
    if (!viewer.crewId || viewer.memberOnly) throw new ProtocolError('not_in_crew', 'A recap is a crew’s; open it from your crew page.');
    const recap = await crewRecap({ store: deps.store, queries: deps.queries }, viewer.crewId, await fromSeqOf(viewer), q.period, q.tz);
    return { recap, crewName: (await deps.store.crews.getCrew(viewer.crewId))?.crewName ?? '' };
  };
  router.get(
    '/history/recap',
    route(async (req, res, viewer) => {
      res.json((await recapOf(req, viewer)).recap);
    }),
  );
  router.get(
    '/history/recap.png',
    route(async (req, res, viewer) => {
      const { recap, crewName } = await recapOf(req, viewer);
      res
        .type('png')
        .set({ 'Cache-Control': 'private, no-store', 'Content-Disposition': `inline; filename="leeloo-recap-${recap.period}.png"` })
        .send(recapPng(recap, crewName));
    }),
  );

  router.get(
    '/history/export.json',
    route(async (req, res, viewer) => {
      await streamDownload(req, res, deps.log, 'application/json; charset=utf-8', `leeloo-${viewer.deviceId}.json`, () =>
        memberJson(deps.store, viewer.deviceId, now()),
      );
    }),
  );

  router.get(
    '/history/export.csv',
    route(async (req, res, viewer) => {
      await streamDownload(req, res, deps.log, 'text/csv; charset=utf-8', `leeloo-${viewer.deviceId}.csv`, () => memberCsv(deps.store, viewer.deviceId));
    }),
  );

  router.post(
    '/history/import',
    route(async (req, res, viewer) => {
      const q = parse(HistoryImportQuery, req.query);
      const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (!['application/zip', 'application/octet-stream', 'application/x-zip-compressed'].includes(type)) {
        throw new ProtocolError('invalid_message', 'Send the export ZIP itself as the request body (Content-Type: application/zip).');
      }
      const job = await deps.jobs.receive(viewer.deviceId, req, { minPlayMs: q.min_play_ms, fileName: q.name });
      const base = `${req.baseUrl}/history/import/${job.job_id}`;
      res.status(202).json({ job_id: job.job_id, status_url: base, events_url: `${base}/events`, job } satisfies HistoryImportStarted);
    }),
  );

  router.get(
    '/history/import/:jobId',
    route(async (req, res, viewer) => {
      res.json(jobOf(deps.jobs, String(req.params.jobId), viewer));
    }),
  );

  router.get(
    '/history/import/:jobId/events',
    route(async (req, res, viewer) => {
      streamJob(deps.jobs, jobOf(deps.jobs, String(req.params.jobId), viewer), req, res);
    }),
  );

  return router;
}

function jobOf(jobs: ImportJobs, jobId: string, viewer: HistoryViewer): ImportJobView {
  const job = jobs.get(jobId);
  // Another member's job is reported as missing: job ids are not for sharing.
  if (!job || job.member_id !== viewer.deviceId)
    throw new ProtocolError('not_found', 'No import job has this id (jobs are kept for a while after they finish).');
  return job;
}

/** Server-sent events: `progress` on every change, then `done` or `failed`, then the stream ends. */
function streamJob(jobs: ImportJobs, job: ImportJobView, req: Request, res: Response): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
  const send = (view: ImportJobView) => {
    const event = view.state === 'done' ? 'done' : view.state === 'failed' ? 'failed' : 'progress';
    res.write(`event: ${event}\ndata: ${JSON.stringify(view)}\n\n`);
    if (event !== 'progress') res.end();
  };
  const unsubscribe = jobs.subscribe(job.job_id, send);
  req.on('close', unsubscribe);
  send(job);
  if (res.writableEnded) unsubscribe();
}

/**
 * A download of the member's whole history. HEAD gets the headers only (the export is not
 * read); a client that goes away mid-download (a phone locking its screen) is normal and
 * logged at debug, not as a failed request.
 */
async function streamDownload(req: Request, res: Response, log: Logger, type: string, fileName: string, body: () => AsyncIterable<string>): Promise<void> {
  res.writeHead(200, { 'content-type': type, 'content-disposition': `attachment; filename="${fileName}"`, 'cache-control': 'no-store' });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  try {
    await pipeline(Readable.from(body()), res);
  } catch (error) {
    if (!res.writableFinished && (res.destroyed || req.destroyed)) {
      log.debug({ path: req.originalUrl, err: (error as Error).message }, 'download ended before it was complete');
      return;
    }
    throw error;
  }
}

/**
 * The same API for the operator: `/admin/history/members/:deviceId/…` behind the admin
 * API's bearer check (cloud/admin-auth.ts: 503 without a configured token, 401 when wrong).
 */
export function adminHistoryRouter(deps: HistoryRouteDeps & { readonly adminToken: string | undefined }): express.Router {
  const router = express.Router();
  const member = memberHistoryRouter(deps);
  router.use(
    '/admin/history/members/:deviceId',
    requireAdminToken(deps.adminToken, deps.log),
    async (req: Request, res: Response, next: NextFunction) => {
      try {
        const deviceId = parse(DeviceId, req.params.deviceId);
        if (!(await deps.store.crews.getDevice(deviceId))) throw new ProtocolError('not_found', `No device "${deviceId}" is known to the relay.`);
        const membership = await deps.store.crews.getMembership(deviceId);
        res.locals.historyViewer = { deviceId, crewId: membership?.crewId ?? null, memberOnly: true } satisfies HistoryViewer;
        next();
      } catch (error) {
        sendError(res, error, deps.log);
      }
    },
    member,
  );
  return router;
}
