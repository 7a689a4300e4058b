import type { CrewEvent } from '../protocol/index.js';

/** A crew event another relay process committed, as the bus carries it. */
export interface BusEvent {
  readonly crewId: string;
  /** With its seq and crew code. */
  readonly event: CrewEvent;
  /** The device whose message it is (live fan-out does not echo it back), or null. */
  readonly senderDeviceId: string | null;
}

/** What the bus tells a relay process about the other processes. */
export interface BusHandlers {
  /** An event another process committed (it may not have reached that process's own sockets yet). */
  event(message: BusEvent): void;
  /** A device came online on another process: a socket of it here is stale (replaced). */
  takenOver(deviceId: string): void;
  /** The bus lost messages (its connection dropped) and is back: what was missed must be read from the log. */
  resubscribed(): void;
  /** Devices of a relay process that died (no goodbye): their crews hear `member_offline` from this process. */
  orphaned(deviceIds: readonly string[]): void;
}

/**
 * What crosses relay processes: committed crew events (each process fans them out to its own
 * sockets) and presence (which device is online on which process). One process on the embedded
 * store has nobody to tell: LocalBus. Several processes on Redis: RedisBus (cloud/store/redis/redis-bus.ts).
 */
export interface RelayBus {
  /** Whether other processes exist: events may then arrive out of seq order and are put in order (cloud/crew-sequencer.ts). */
  readonly shared: boolean;
  start(handlers: BusHandlers): Promise<void>;
  /** The device is online on this process (a newer socket elsewhere is closed). */
  deviceOnline(deviceId: string): void;
  /**
   * The device's socket here closed. Resolves true when this process was the one it was online
   * on (its crew hears `member_offline`), false when another process has it now.
   */
  deviceOffline(deviceId: string): Promise<boolean>;
  /** Whether the device is online on another relay process. */
  onlineElsewhere(deviceId: string): boolean;
  /** Throws when the bus cannot carry messages (/ready). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** One relay process: nothing to tell anyone. */
export class LocalBus implements RelayBus {
  readonly shared = false;
  async start(): Promise<void> {}
  deviceOnline(): void {}
  async deviceOffline(): Promise<boolean> {
    return true;
  }
  onlineElsewhere(): boolean {
    return false;
  }
  async ping(): Promise<void> {}
  async close(): Promise<void> {}
}
