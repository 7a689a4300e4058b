import { createHash } from 'node:crypto';
import { mkdir, readdir, rename, unlink, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createCanvas } from '@napi-rs/canvas';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import { z } from 'zod';
import { BUTTON_NAMES, type ButtonName, type Display, type Frame } from './hardware.js';
import { mirrorPage } from './mirror-page.js';
import { firstIssue, PanelRequest, panelError, runPanelRequest, SAMPLE_TRACKS, type PanelErrorReply, type PanelReply, type SimActions } from './sim-panel.js';

/** What the mirror page sends when a button is used: raw edges, or a whole gesture. */
export interface MirrorInput {
  readonly button: ButtonName;
  readonly action: 'down' | 'up' | 'press' | 'long_press';
}

export interface MirrorInputSource {
  onInput(listener: (input: MirrorInput) => void): () => void;
}

export interface SimDisplayOptions {
  readonly title: string;
  readonly log: Logger;
  /** null: no PNG files, only the mirror. */
  readonly snapshotDir: string | null;
  readonly snapshotKeep: number;
  readonly mirror: { enabled: boolean; host: string; port: number };
  readonly width?: number;
  readonly height?: number;
}

const SNAPSHOT_PATTERN = /^frame-(\d{6,})\.png$/;

/**
 * The simulated display: every changed frame becomes a PNG, written as a bounded
 * series of snapshots plus `latest.png`, and pushed to every open mirror page.
 */
export class SimDisplay implements Display, MirrorInputSource {
  readonly width: number;
  readonly height: number;
  private server: http.Server | null = null;
  private sockets: WebSocketServer | null = null;
  private readonly inputListeners = new Set<(input: MirrorInput) => void>();
  private lastHash = '';
  private lastPng: Buffer | null = null;
  private lastText: readonly string[] = [];
  private snapshots: string[] = [];
  private counter = 0;
  private backlight = true;
  private urlValue: string | null = null;
  private actions: SimActions | null = null;

  constructor(private readonly options: SimDisplayOptions) {
    this.width = options.width ?? 480;
    this.height = options.height ?? 320;
  }

  /** The mirror page's URL, once started (null when the mirror is off). */
  get url(): string | null {
    return this.urlValue;
  }

  /** The PNG of the frame on screen. */
  get png(): Buffer | null {
    return this.lastPng;
  }

  async start(): Promise<void> {
    if (this.options.snapshotDir) await this.openSnapshots(this.options.snapshotDir);
    if (this.options.mirror.enabled) await this.startMirror();
  }

  async present(frame: Frame): Promise<void> {
    if (frame.width !== this.width || frame.height !== this.height) {
      throw new Error(`Frame is ${frame.width}×${frame.height}; this display is ${this.width}×${this.height}.`);
    }
    const hash = createHash('sha1').update(frame.data).digest('hex');
    if (hash === this.lastHash) return;
    this.lastHash = hash;
    const png = await encodePng(frame);
    this.lastPng = png;
    this.lastText = frame.text ?? [];
    this.broadcast(png);
    this.broadcast(screenText(this.lastText));
    if (this.options.snapshotDir) await this.writeSnapshot(this.options.snapshotDir, png);
  }

  async setBacklight(on: boolean): Promise<void> {
    this.backlight = on;
    this.broadcast(JSON.stringify({ type: 'backlight', on }));
  }

  async stop(): Promise<void> {
    for (const client of this.sockets?.clients ?? []) client.close(1001, 'display stopping');
    await new Promise<void>((resolve) => (this.sockets ? this.sockets.close(() => resolve()) : resolve()));
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server?.closeAllConnections();
    this.sockets = null;
    this.server = null;
  }

  onInput(listener: (input: MirrorInput) => void): () => void {
    this.inputListeners.add(listener);
    return () => this.inputListeners.delete(listener);
  }

  /** Turns on the mirror page's simulator panel (share a track, send a message) and what it calls. */
  useActions(actions: SimActions): void {
    this.actions = actions;
  }

  // -------------------------------------------------------------------------

  private async openSnapshots(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true });
    // By number: past frame-999999 the names grow a digit and no longer sort as text.
    const numberOf = (name: string): number => Number(SNAPSHOT_PATTERN.exec(name)?.[1]);
    const existing = (await readdir(dir)).filter((name) => SNAPSHOT_PATTERN.test(name)).sort((a, b) => numberOf(a) - numberOf(b));
    this.snapshots = existing;
    const last = existing.at(-1);
    this.counter = last ? numberOf(last) : 0;
    await this.prune(dir);
  }

  private async writeSnapshot(dir: string, png: Buffer): Promise<void> {
    if (this.options.snapshotKeep === 0) return;
    const name = `frame-${String(++this.counter).padStart(6, '0')}.png`;
    await writeFile(path.join(dir, name), png);
    this.snapshots.push(name);
    // Replaced by rename so a viewer never reads a half-written latest.png.
    const temp = path.join(dir, '.latest.png.tmp');
    await writeFile(temp, png);
    await rename(temp, path.join(dir, 'latest.png'));
    await this.prune(dir);
  }

  private async prune(dir: string): Promise<void> {
    while (this.snapshots.length > this.options.snapshotKeep) {
      const oldest = this.snapshots.shift() as string;
      await unlink(path.join(dir, oldest)).catch(() => undefined);
    }
  }

  private async startMirror(): Promise<void> {
    const server = http.createServer((req, res) => this.serve(req, res));
    const sockets = new WebSocketServer({ server, path: '/mirror', maxPayload: 16_384 });
    sockets.on('connection', (socket) => this.onMirrorClient(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.mirror.port, this.options.mirror.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.sockets = sockets;
    const { port } = server.address() as AddressInfo;
    const host = this.options.mirror.host === '0.0.0.0' ? '127.0.0.1' : this.options.mirror.host;
    this.urlValue = `http://${host}:${port}/`;
    this.options.log.info({ url: this.urlValue }, 'screen mirror is serving');
  }

  private serve(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://mirror');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (url.pathname === '/') {
      // Built per request: the panel appears once actions are attached (daemon), not in bare display tests.
      const page = mirrorPage(this.options.title, this.width, this.height, this.actions ? { samples: SAMPLE_TRACKS } : null);
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(page);
    } else if (url.pathname === '/frame.png' && this.lastPng) {
      res.writeHead(200, { 'content-type': 'image/png', 'cache-control': 'no-store' }).end(this.lastPng);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found');
    }
  }

  private onMirrorClient(socket: WebSocket): void {
    if (this.lastPng) {
      socket.send(this.lastPng);
      socket.send(screenText(this.lastText));
    }
    if (!this.backlight) socket.send(JSON.stringify({ type: 'backlight', on: false }));
    socket.on('message', (data, isBinary) => {
      const parsed = isBinary ? binaryRefused() : parseMirrorMessage(String(data));
      if (parsed.type === 'error') return reply(socket, parsed);
      if (parsed.type === 'button') {
        for (const listener of this.inputListeners) listener({ button: parsed.button, action: parsed.action });
        return;
      }
      runPanelRequest(this.actions, parsed)
        .then((answer) => reply(socket, answer))
        .catch((error: Error) => this.options.log.error({ err: error.message }, 'a simulator panel request failed'));
    });
  }

  private broadcast(data: Buffer | string): void {
    for (const client of this.sockets?.clients ?? []) {
      if (client.readyState === client.OPEN) client.send(data);
    }
  }
}

const ButtonMessage = z.object({
  type: z.literal('button'),
  button: z.enum(BUTTON_NAMES),
  action: z.enum(['down', 'up', 'press', 'long_press']),
});

/** Everything the mirror page may send: a button, or a simulator panel request. */
export const MirrorMessage = z.discriminatedUnion('type', [ButtonMessage, ...PanelRequest.options]);
export type MirrorMessage = z.infer<typeof MirrorMessage>;

const MIRROR_MESSAGE_HELP =
  'Send {"type":"button","button":"prev|next|primary|secondary","action":"down|up|press|long_press"}, ' +
  '{"type":"share_track","request_id","track":{"link","artist","track","album"}} or {"type":"send_text","request_id","text"}.';

/** A mirror socket frame checked against MirrorMessage, or the error reply it gets. */
export function parseMirrorMessage(text: string): MirrorMessage | PanelErrorReply {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return invalid(`The frame is not JSON. ${MIRROR_MESSAGE_HELP}`);
  }
  const parsed = MirrorMessage.safeParse(value);
  if (parsed.success) return parsed.data;
  // Echo a usable request id so the page can show the error beside the right form.
  const requestId = (value as { request_id?: unknown } | null)?.request_id;
  return invalid(`${firstIssue(parsed.error)}. ${MIRROR_MESSAGE_HELP}`, typeof requestId === 'string' && requestId.length <= 40 ? requestId : undefined);
}

/** The button input of a mirror frame, or null when the frame is anything else. */
export function parseMirrorInput(text: string): MirrorInput | null {
  const parsed = parseMirrorMessage(text);
  return parsed.type === 'button' ? { button: parsed.button, action: parsed.action } : null;
}

function invalid(message: string, requestId?: string): PanelErrorReply {
  return panelError('invalid_message', message, requestId);
}

function binaryRefused(): PanelErrorReply {
  return invalid(`Binary frames are not accepted. ${MIRROR_MESSAGE_HELP}`);
}

/** The words on screen, for the page's text alternative of the image (screen readers). */
function screenText(text: readonly string[]): string {
  return JSON.stringify({ type: 'screen_text', text });
}

function reply(socket: WebSocket, answer: PanelReply): void {
  if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(answer));
}

async function encodePng(frame: Frame): Promise<Buffer> {
  const canvas = createCanvas(frame.width, frame.height);
  const g = canvas.getContext('2d');
  const image = g.createImageData(frame.width, frame.height);
  image.data.set(frame.data);
  g.putImageData(image, 0, 0);
  return canvas.encode('png');
}
