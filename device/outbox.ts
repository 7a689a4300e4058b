import { randomUUID } from 'node:crypto';
import { mkdir, readFile, readdir, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { parseInbound, type InboundMessage } from '../protocol/index.js';
import { isTempFile, syncDirectory, writeFileAtomic } from './atomic-file.js';

/**
 * A state-changing message as it is queued; the outbox adds the client_msg_id. Joining
 * and creating crews are excluded: the relay client does those as part of connecting.
 */
export type Outgoing = Exclude<Extract<InboundMessage, { client_msg_id?: string }>, { type: 'register' | 'create_crew' | 'join_crew' }>;
export type OutgoingInput = Outgoing extends infer M ? (M extends Outgoing ? Omit<M, 'client_msg_id'> : never) : never;

export interface OutboxEntry {
  readonly clientMsgId: string;
  readonly order: number;
  readonly queuedAt: number;
  readonly message: Outgoing & { client_msg_id: string };
}

const FILE_PATTERN = /^(\d{12})-([A-Za-z0-9_.:-]{1,64})\.json$/;

/**
 * The durable outbox: one file per message under `dir`, named by queue order, written
 * atomically. A message leaves the outbox only when the relay acks its client_msg_id
 * (or refuses it for good), so nothing queued is lost to a crash or a dead socket.
 */
export class Outbox {
  private readonly entries = new Map<string, OutboxEntry>();
  private nextOrder = 1;

  constructor(
    private readonly dir: string,
    private readonly log: Logger,
  ) {}

  /** Loads what an earlier run left; files that are not valid messages are moved to `rejected/`. */
  async open(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    for (const name of (await readdir(this.dir)).sort()) {
      if (isTempFile(name)) {
        await unlink(path.join(this.dir, name)).catch(() => undefined);
        continue;
      }
      const match = FILE_PATTERN.exec(name);
      if (!match) continue;
      const entry = await this.read(name, Number(match[1]));
      if (entry) this.entries.set(entry.clientMsgId, entry);
      this.nextOrder = Math.max(this.nextOrder, Number(match[1]) + 1);
    }
  }

  private async read(name: string, order: number): Promise<OutboxEntry | null> {
    const file = path.join(this.dir, name);
    try {
      const stored = JSON.parse(await readFile(file, 'utf8')) as { queuedAt?: unknown; message?: unknown };
      const parsed = parseInbound(stored.message);
      if (!parsed.ok || !('client_msg_id' in parsed.message) || !parsed.message.client_msg_id) {
        throw new Error(parsed.ok ? 'the message has no client_msg_id' : parsed.message);
      }
      const message = parsed.message as OutboxEntry['message'];
      return { clientMsgId: message.client_msg_id, order, queuedAt: Number(stored.queuedAt) || 0, message };
    } catch (error) {
      this.log.warn({ file, err: (error as Error).message }, 'outbox file is not a valid message; moved aside');
      await mkdir(path.join(this.dir, 'rejected'), { recursive: true });
      await rename(file, path.join(this.dir, 'rejected', name)).catch(() => undefined);
      return null;
    }
  }

  /** Queues a message durably and returns its entry (with the new client_msg_id). */
  async add(input: OutgoingInput, now = Date.now()): Promise<OutboxEntry> {
    const clientMsgId = randomUUID();
    const message = { ...input, client_msg_id: clientMsgId } as OutboxEntry['message'];
    const parsed = parseInbound(message);
    if (!parsed.ok) throw new Error(`Refusing to queue an invalid message: ${parsed.message}`);
    const order = this.nextOrder++;
    const entry: OutboxEntry = { clientMsgId, order, queuedAt: now, message };
    await writeFileAtomic(this.fileOf(entry), JSON.stringify({ queuedAt: now, message }), 0o600);
    this.entries.set(clientMsgId, entry);
    return entry;
  }

  /** Removes an acked (or finally refused) message. Returns false when it was not queued. */
  async remove(clientMsgId: string): Promise<boolean> {
    const entry = this.entries.get(clientMsgId);
    if (!entry) return false;
    this.entries.delete(clientMsgId);
    await unlink(this.fileOf(entry)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
    await syncDirectory(this.dir);
    return true;
  }

  has(clientMsgId: string): boolean {
    return this.entries.has(clientMsgId);
  }

  /** Queued messages, oldest first. */
  list(): OutboxEntry[] {
    return [...this.entries.values()].sort((a, b) => a.order - b.order);
  }

  get size(): number {
    return this.entries.size;
  }

  private fileOf(entry: OutboxEntry): string {
    return path.join(this.dir, `${String(entry.order).padStart(12, '0')}-${entry.clientMsgId}.json`);
  }
}
