import { isType, type TestClient } from './ws-client.js';

/** A gadget that says hello (and joins `crewCode` when given); `opened` collects it for closing. */
export async function crewMember(connect: () => Promise<TestClient>, opened: TestClient[], name: string, crewCode?: string): Promise<TestClient> {
  const client = await connect();
  opened.push(client);
  await client.request({ type: 'hello', protocol_version: 3, device_name: name }, isType('welcome'));
  if (crewCode) await client.request({ type: 'join_crew', crew_code: crewCode, display_name: name }, isType('crew_joined'));
  return client;
}

/** Asks the relay for the member's crew link and trades it for the crew cookie, as a phone's browser does. */
export async function crewCookie(httpUrl: string, client: TestClient): Promise<string> {
  const issued = await client.request({ type: 'crew_link' }, isType('crew_link_issued'));
  const opened = await fetch(httpUrl + new URL(String(issued.url)).pathname, { redirect: 'manual' });
  const cookie = opened.headers.get('set-cookie');
  if (opened.status !== 303 || !cookie) throw new Error(`the crew link was not accepted (${opened.status})`);
  return cookie.split(';')[0]!;
}

/** A crew API call with the cookie; the JSON answer and its status. */
export async function crewApi<T = Record<string, unknown>>(
  httpUrl: string,
  cookie: string,
  path: string,
  init: { method?: string; body?: unknown } = {},
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${httpUrl}/crew/api${path}`, {
    method: init.method ?? 'GET',
    headers: { cookie, ...(init.body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  return { status: res.status, body: (await res.json()) as T };
}

/**
 * Reads the crew page's event stream (`/crew/api/events` + query) until `marker` appears
 * (the test makes it appear), then closes it; returns the text read. Fails when the stream
 * ends without it.
 */
export async function crewStreamUntil(httpUrl: string, cookie: string, query: string, marker: string): Promise<string> {
  const aborted = new AbortController();
  const res = await fetch(`${httpUrl}/crew/api/events${query}`, { headers: { cookie }, signal: aborted.signal });
  if (res.status !== 200 || !res.body) throw new Error(`the event stream answered ${res.status}`);
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  try {
    while (!text.includes(marker)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the stream ended without ${marker}: ${text}`);
      text += decoder.decode(value, { stream: true });
    }
    return text;
  } finally {
    aborted.abort();
  }
}
