import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { composeFeatures } from '../../cloud/compose.js';
import type { Logger } from '../../cloud/log.js';
import { startInProcessRelay, type InProcessRelay } from './relay-in-process.js';
import { isType, OpenClients, type TestClient } from './ws-client.js';

/* Crews of gadgets and MCP clients for the tests of the relay's MCP endpoint and crew-page tokens. */

/**
 * A relay wired as cloud/main.ts wires it (the composition root, Spotify not configured): the
 * crew pages with the member's MCP tokens and the history routes (stats, import) behind the
 * member link, and /mcp reading through the history queries and writing through the queue.
 */
export function startMcpRelay(options: { env?: Record<string, string>; log?: Logger } = {}): Promise<InProcessRelay> {
  return startInProcessRelay({ env: options.env, log: options.log, features: [composeFeatures] });
}

export const MCP_ADMIN_TOKEN = 'admin-token-0123456789abcdef';

/**
 * One startMcpRelay (with ADMIN_TOKEN) for a test file: gadgets and assistants made through
 * it are closed after each test, the relay after the file.
 */
export function useMcpRelay(env: Record<string, string> = {}, log?: Logger) {
  let relay: InProcessRelay | null = null;
  const clients = new OpenClients(() => relay!.connect());
  const assistants: Client[] = [];
  beforeAll(async () => {
    relay = await startMcpRelay({ env: { ADMIN_TOKEN: MCP_ADMIN_TOKEN, ...env }, log });
  });
  afterEach(async () => {
    await Promise.all(assistants.splice(0).map((c) => c.close()));
    await clients.closeAll();
  });
  afterAll(async () => {
    await relay?.close();
  });
  const self = {
    get relay(): InProcessRelay {
      return relay!;
    },
    gadget: (name: string, crewCode?: string): Promise<CrewGadget> => crewGadget(clients.connect, name, crewCode),
    /** The operator's POST /admin/devices/ID/mcp-token. */
    async issueToken(deviceId: string): Promise<string> {
      const res = await fetch(`${relay!.httpUrl}/admin/devices/${deviceId}/mcp-token`, { method: 'POST', headers: bearer(MCP_ADMIN_TOKEN) });
      if (res.status !== 201) throw new Error(`the operator's token was refused: ${res.status}`);
      return ((await res.json()) as { token: string }).token;
    },
    /** An SDK client on /mcp (or the given URL) with these headers, closed after the test. */
    async assistant(headers: Record<string, string>, url = `${relay!.httpUrl}/mcp`): Promise<Client> {
      const client = await mcpClient(url, headers);
      assistants.push(client);
      return client;
    },
  };
  return self;
}

export interface CrewGadget {
  readonly client: TestClient;
  readonly deviceId: string;
  readonly crewCode: string;
}

/** A gadget that says hello and creates a crew, or joins the one with crewCode. */
export async function crewGadget(connect: () => Promise<TestClient>, name: string, crewCode?: string): Promise<CrewGadget> {
  const client = await connect();
  const welcome = await client.request({ type: 'hello', protocol_version: 3, device_name: name }, isType('welcome'));
  const entered = crewCode
    ? await client.request({ type: 'join_crew', crew_code: crewCode, display_name: name }, isType('crew_joined'))
    : await client.request({ type: 'create_crew', display_name: name }, isType('crew_created'));
  return { client, deviceId: String(welcome.device_id), crewCode: String(entered.crew_code) };
}

/** Trades a member's crew link (as the gadget's QR code shows it) for the crew pages' cookie, as a phone does. */
export async function crewCookie(httpUrl: string, gadget: TestClient): Promise<string> {
  const issued = await gadget.request({ type: 'crew_link' }, isType('crew_link_issued'));
  const opened = await fetch(httpUrl + new URL(String(issued.url)).pathname, { redirect: 'manual' });
  const cookie = opened.headers.get('set-cookie');
  if (!cookie) throw new Error(`the crew link was refused (${opened.status})`);
  return cookie.split(';')[0]!;
}

/** The SDK's own client on the relay's /mcp over HTTP, with a member's token. */
export async function mcpClient(mcpUrl: string, headers: Record<string, string>): Promise<Client> {
  const client = new Client({ name: 'test-assistant', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(mcpUrl), { requestInit: { headers } }));
  return client;
}

export const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

/** A tool's JSON result (structuredContent.result); throws with the tool's error text when it answered an error. */
export function resultOf<T = unknown>(answer: unknown): T {
  const a = answer as { isError?: boolean; content?: { text?: string }[]; structuredContent?: { result: unknown } };
  if (a.isError) throw new Error(`the tool answered an error: ${a.content?.[0]?.text}`);
  return a.structuredContent!.result as T;
}

/** A tool's error text, or null when the call succeeded. */
export function toolError(answer: unknown): string | null {
  const a = answer as { isError?: boolean; content?: { text?: string }[] };
  return a.isError ? String(a.content?.[0]?.text) : null;
}

/**
 * Uploads a Spotify export ZIP through the crew page's import route, as the page does, and
 * follows the job's event stream to its end; resolves with the finished job (its counts).
 */
export async function importThroughCrewPage(
  httpUrl: string,
  cookie: string,
  zip: Buffer,
  fileName: string,
): Promise<{ state: string; counts: Record<string, number> }> {
  const started = await fetch(`${httpUrl}/crew/api/history/import?name=${encodeURIComponent(fileName)}`, {
    method: 'POST',
    headers: { cookie, 'content-type': 'application/zip' },
    body: new Uint8Array(zip),
  });
  if (started.status !== 202) throw new Error(`the import was refused: ${started.status} ${await started.text()}`);
  const { events_url: eventsUrl } = (await started.json()) as { events_url: string };
  // The stream ends after `done` or `failed`; the timeout fails the test rather than hanging it.
  const stream = await fetch(httpUrl + eventsUrl, { headers: { cookie }, signal: AbortSignal.timeout(20_000) });
  const last = (await stream.text()).trim().split('\n\n').at(-1)!;
  const [event, data] = last.split('\n');
  const job = JSON.parse(data!.slice('data: '.length)) as { state: string; counts: Record<string, number>; error?: unknown };
  if (event !== 'event: done') throw new Error(`the import did not finish: ${last}`);
  return job;
}
