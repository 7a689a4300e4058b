import { ProtocolError } from '../../protocol/errors.js';
import type { SqliteDatabase } from './sqlite.js';
import type { AppendRequest, AppendResult, DeliveredMark } from './store.js';

/**
 * The crew log's writes on one connection: appends (seq, dedupe by client message id) and
 * older gadgets' delivery marks. The store's own connection uses it for a store without a
 * file (`:memory:`); a file's store hands it to the writer thread (sqlite-writer.ts), so the
 * commit's fsync does not stop the event loop.
 */
export class SqliteAppender {
  private readonly q;
  private readonly appendAll;
  private readonly markAll;

  /** The crews area's migrations must have run on the file (SqliteCrewStore does them), and store_probe exist. */
  constructor(db: SqliteDatabase) {
    this.q = {
      clientMessage: db.prepare('SELECT seq, at FROM client_messages WHERE device_id = ? AND client_msg_id = ?'),
      insertClientMessage: db.prepare('INSERT INTO client_messages (device_id, client_msg_id, crew_id, seq, at) VALUES (?, ?, ?, ?, ?)'),
      answerClientMessage: db.prepare('INSERT OR IGNORE INTO client_messages (device_id, client_msg_id, crew_id, seq, at) VALUES (?, ?, ?, ?, ?)'),
      nextSeq: db.prepare('UPDATE crews SET latest_seq = latest_seq + 1 WHERE crew_id = ? RETURNING latest_seq, crew_code'),
      insertEvent: db.prepare('INSERT INTO crew_events (crew_id, seq, at, type, device_id, body) VALUES (?, ?, ?, ?, ?, ?)'),
      markDelivered: db.prepare('UPDATE crew_members SET delivered_seq = MAX(delivered_seq, ?) WHERE crew_id = ? AND device_id = ?'),
      probe: db.prepare('INSERT INTO store_probe (id, at) VALUES (1, ?) ON CONFLICT(id) DO UPDATE SET at = excluded.at'),
    };
    this.appendAll = db.transaction((batch: readonly AppendRequest[], at: number) => batch.map((request) => this.appendOne(request, at)));
    this.markAll = db.transaction((marks: readonly DeliveredMark[]) => {
      for (const mark of marks) this.q.markDelivered.run(mark.seq, mark.crewId, mark.deviceId);
    });
  }

  /**
   * The batch in one transaction (one fsync), all or nothing. IMMEDIATE: it takes the write
   * lock before its first read, so another connection's commit cannot make it fail half-way.
   * `at` is the events' time, taken by the relay's clock (not the writer thread's) when it
   * handed the batch over.
   */
  append(batch: readonly AppendRequest[], at: number): AppendResult[] {
    return this.appendAll.immediate(batch, at);
  }

  /** The batch in one transaction, or, when that fails, each request in its own: each one's result or its error, in order. */
  appendEach(batch: readonly AppendRequest[], at: number): (AppendResult | Error)[] {
    try {
      return this.append(batch, at);
    } catch {
      return batch.map((request) => {
        try {
          return this.append([request], at)[0]!;
        } catch (error) {
          return error instanceof Error ? error : new Error(String(error));
        }
      });
    }
  }

  markDelivered(marks: readonly DeliveredMark[]): void {
    if (marks.length === 0) return;
    this.markAll.immediate(marks);
  }

  /** A one-row write: the store's readiness is this connection's ability to commit. */
  probe(at: number): void {
    this.q.probe.run(at);
  }

  private appendOne(request: AppendRequest, at: number): AppendResult {
    const { crewId, event, from } = request;
    if (from?.clientMsgId) {
      const seen = this.q.clientMessage.get(from.deviceId, from.clientMsgId) as { seq: number; at: number } | undefined;
      if (seen) return { seq: seen.seq, duplicate: true, at: seen.at };
    }
    const next = this.q.nextSeq.get(crewId) as { latest_seq: number; crew_code: string } | undefined;
    if (next === undefined) throw new ProtocolError('not_found', 'That crew does not exist.');
    const seq = next.latest_seq;
    this.q.insertEvent.run(crewId, seq, at, event.type, from?.deviceId ?? null, JSON.stringify(event));
    if (from?.clientMsgId) this.q.insertClientMessage.run(from.deviceId, from.clientMsgId, crewId, seq, at);
    for (const other of from?.alsoAnswers ?? []) this.q.answerClientMessage.run(other.deviceId, other.clientMsgId, crewId, seq, at);
    return { seq, duplicate: false, at, crewCode: next.crew_code };
  }
}
