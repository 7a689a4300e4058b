import express, { type Request, type Response } from 'express';
import { CrewMessageRequest, ProtocolError, type CrewMessageResponse } from '../../protocol/index.js';
import { describeIssues } from '../../protocol/parse.js';
import { crewMessageEvent } from '../crew-messages.js';
import type { RelayContext } from '../feature.js';
import { sendJson } from '../http-errors.js';
import type { CrewViewer } from './member-links.js';

/**
 * The member's crew messages from the crew page (POST /crew/api/messages, behind the member
 * link and its rate limit): a text, a nudge, a hang proposal or confirm, a reaction, a share —
 * the same crew event a gadget sends (crewMessageEvent), stored under the crew's seq, delivered
 * to offline gadgets when they are back, and exactly once by the page's client_msg_id.
 */
export function crewMessagesRouter(context: RelayContext, now: () => number = Date.now): express.Router {
  const log = context.log.child({ feature: 'crew-pages' });
  const router = express.Router();
  router.post('/messages', express.json({ limit: '16kb' }), (req: Request, res: Response) => {
    const viewer = res.locals.viewer as CrewViewer;
    const send = async (): Promise<CrewMessageResponse> => {
      const parsed = CrewMessageRequest.safeParse(req.body ?? {});
      if (!parsed.success) throw new ProtocolError('invalid_message', `The message's ${describeIssues(parsed.error)}.`);
      const { client_msg_id: clientMsgId, ...body } = parsed.data;
      const to = 'to_device' in body.payload ? body.payload.to_device : undefined;
      if (to && !(await context.store.crews.getMembership(to).then((m) => m?.crewId === viewer.crewId))) {
        throw new ProtocolError('not_found', 'Nobody in your crew has that device id.');
      }
      const from = { deviceId: viewer.deviceId, name: viewer.displayName };
      const { seq, duplicate } = await context.publish(viewer.crewId, crewMessageEvent(from, body, clientMsgId, now()), {
        deviceId: viewer.deviceId,
        clientMsgId,
      });
      return { seq, duplicate };
    };
    sendJson(res, send, log);
  });
  return router;
}
