import { ProtocolError, type ErrorCode } from '../../protocol/errors.js';
import type { AppendRequest, AppendResult, DeliveredMark } from './store.js';

/* What the store's writer thread (sqlite-writer-thread.ts) and the relay's side of it (sqlite-writer.ts) say to each other. */

export type WriterRequest =
  | { readonly id: number; readonly op: 'append'; readonly batch: readonly AppendRequest[]; readonly at: number; readonly each: boolean }
  | { readonly id: number; readonly op: 'mark'; readonly marks: readonly DeliveredMark[] }
  | { readonly id: number; readonly op: 'probe'; readonly at: number }
  | { readonly op: 'close' };

/** The thread's answer to request `id` (-1: it could not open the file, and handled nothing). */
export interface WriterReply {
  readonly id: number;
  /** An append's results in order; with `each`, a request that failed on its own has its error in its place. */
  readonly results?: (AppendResult | { readonly error: WriterError })[];
  readonly error?: WriterError;
}

/** An error as it crosses the thread boundary: a ProtocolError keeps its code, an SQLite error its SQLITE_* code. */
export interface WriterError {
  readonly protocol: boolean;
  readonly code?: string;
  readonly message: string;
}

export function serializeWriterError(error: unknown): WriterError {
  const code = (error as { code?: unknown } | null)?.code;
  return {
    protocol: error instanceof ProtocolError,
    ...(typeof code === 'string' ? { code } : {}),
    message: error instanceof Error ? error.message : String(error),
  };
}

export function toError(error: WriterError): Error {
  if (error.protocol) return new ProtocolError(error.code as ErrorCode, error.message);
  return Object.assign(new Error(error.message), error.code ? { code: error.code } : {});
}
