import { createServer } from 'node:net';

/**
 * A port free on 127.0.0.1 now, for a relay whose PUBLIC_URL must name its own port before
 * it listens (Spotify accepts http redirect URIs only at a loopback IP literal).
 */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
