import type { z } from 'zod';
import { ERROR_CODES, type ErrorCode } from './errors.js';
import { Inbound, Outbound, type InboundMessage, type OutboundMessage } from './messages.js';

export type ParseResult<T> = { ok: true; message: T } | { ok: false; code: ErrorCode; message: string; type?: string; client_msg_id?: string };

/** A sentence naming the first few fields that are wrong: `payload.text must not be empty`. */
export function describeIssues(error: z.ZodError, limit = 3): string {
  const parts = error.issues.slice(0, limit).map((issue) => {
    const path = issue.path.map(String).join('.');
    const text = issue.code === 'invalid_type' && /received undefined$/.test(issue.message) ? 'is required' : issue.message;
    return path ? `${path} ${text}` : text;
  });
  const more = error.issues.length > limit ? ` (and ${error.issues.length - limit} more)` : '';
  return parts.join('; ') + more;
}

/**
 * Field gadgets send `None` for an optional field they have no value for (`device_id` on a
 * first boot, `to_device` on every reaction): in a device's frame, and in its `payload`, a
 * null field counts as absent. A required field that is null is still reported missing.
 */
function withoutNulls(record: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record)) {
    if (value === null) continue;
    out[key] = key === 'payload' && typeof value === 'object' && !Array.isArray(value) ? withoutNulls(value as Record<string, unknown>) : value;
  }
  return out;
}

function parseWith<T>(table: Record<string, z.ZodType>, raw: string | unknown, nullIsAbsent: boolean): ParseResult<T> {
  let data: unknown = raw;
  if (typeof raw === 'string') {
    try {
      data = JSON.parse(raw);
    } catch {
      return { ok: false, code: 'invalid_json', message: ERROR_CODES.invalid_json };
    }
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return { ok: false, code: 'invalid_message', message: 'A message must be a JSON object with a "type" field.' };
  }
  const record = nullIsAbsent ? withoutNulls(data as Record<string, unknown>) : (data as Record<string, unknown>);
  const type = record.type;
  const clientMsgId = typeof record.client_msg_id === 'string' ? record.client_msg_id.slice(0, 64) : undefined;
  if (typeof type !== 'string') {
    return { ok: false, code: 'invalid_message', message: 'A message must have a string "type" field.', client_msg_id: clientMsgId };
  }
  const schema = Object.hasOwn(table, type) ? table[type] : undefined;
  if (!schema) {
    return {
      ok: false,
      code: 'unknown_type',
      message: `The message type "${type.slice(0, 40)}" is not one the relay knows.`,
      client_msg_id: clientMsgId,
    };
  }
  const result = schema.safeParse(record);
  if (!result.success) {
    // Second-generation gadgets expect `invalid_crew_code` for any unusable code.
    const onlyCrewCode = result.error.issues.every((issue) => issue.path[0] === 'crew_code');
    return {
      ok: false,
      code: onlyCrewCode ? 'invalid_crew_code' : 'invalid_message',
      message: `Invalid "${type}" message: ${describeIssues(result.error)}.`,
      type,
      client_msg_id: clientMsgId,
    };
  }
  return { ok: true, message: result.data as T };
}

/** Validates a frame a device sent. Never throws. */
export function parseInbound(raw: string | unknown): ParseResult<InboundMessage> {
  return parseWith<InboundMessage>(Inbound, raw, true);
}

/** Validates a frame the relay sent. Devices use it; never throws. */
export function parseOutbound(raw: string | unknown): ParseResult<OutboundMessage> {
  return parseWith<OutboundMessage>(Outbound, raw, false);
}

/** Builds an `error` frame. */
export function errorFrame(
  code: ErrorCode,
  message: string = ERROR_CODES[code],
  extra: { client_msg_id?: string; ref_type?: string; retry_after_ms?: number } = {},
): Extract<OutboundMessage, { type: 'error' }> {
  return { type: 'error', code, error: code, message, ...extra };
}
