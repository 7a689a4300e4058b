export interface RelayStatus {
  readonly version: string;
  readonly uptimeSeconds: number;
  readonly crews: number;
  readonly devices: number;
  readonly devicesOnline: number;
  readonly connections: number;
  readonly storeKind: string;
  readonly ready: boolean;
}

export const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export function formatUptime(seconds: number): string {
  const d = Math.floor(seconds / 86_400);
  const h = Math.floor((seconds % 86_400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Math.floor(seconds % 60);
  return d > 0 ? `${d}d ${h}h ${m}m` : h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m ${s}s` : `${s}s`;
}

/** The relay's front page: what LEELOO is and how this relay is doing. */
export function renderLandingPage(status: RelayStatus): string {
  const rows: [string, string][] = [
    ['Status', status.ready ? 'running' : 'store unreachable'],
    ['Crews', String(status.crews)],
    ['Gadgets online', `${status.devicesOnline} of ${status.devices}`],
    ['Open connections', String(status.connections)],
    ['Uptime', formatUptime(status.uptimeSeconds)],
    ['Store', status.storeKind],
    ['Version', status.version],
  ];
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>LEELOO relay</title>
<style>
  body { font-family: system-ui, sans-serif; background: #111; color: #eee; margin: 0; padding: 2rem 1rem; }
  main { max-width: 36rem; margin: 0 auto; }
  h1 { color: #ff5fa2; letter-spacing: .08em; margin-bottom: .2rem; }
  p { line-height: 1.5; color: #ccc; }
  table { border-collapse: collapse; width: 100%; margin: 1.5rem 0; }
  th, td { text-align: left; padding: .45rem .2rem; border-bottom: 1px solid #333; }
  th { color: #999; font-weight: normal; width: 45%; }
  a { color: #ff9fc8; }
  code { background: #222; padding: .1rem .3rem; border-radius: 3px; }
  .ok { color: #6f6; } .bad { color: #f66; }
</style>
</head>
<body>
<main>
<h1>LEELOO</h1>
<p>LEELOO is a small music-sharing gadget for a crew of friends. Each gadget shows what its owner
is playing on Spotify and what the crew shares; one press shares the current track with the crew,
another reacts to it. This server is a LEELOO relay: it connects the gadgets of each crew, keeps the
crew's history and delivers what a gadget missed while it was offline.</p>
<table>
${rows.map(([k, v], i) => `<tr><th>${escapeHtml(k)}</th><td${i === 0 ? ` class="${status.ready ? 'ok' : 'bad'}"` : ''}>${escapeHtml(v)}</td></tr>`).join('\n')}
</table>
<p>Gadgets connect to <code>/ws</code> on this host (<code>wss://</code> behind a TLS proxy).
Operators: <code>/health</code>, <code>/ready</code>, <code>/metrics</code> (from the addresses in
<code>METRICS_ALLOW</code> or with <code>METRICS_TOKEN</code>) and the <a href="/operator">status page</a>
(<code>ADMIN_TOKEN</code>).</p>
</main>
</body>
</html>
`;
}
