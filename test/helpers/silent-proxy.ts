import net from 'node:net';

interface Link {
  readonly client: net.Socket;
  readonly upstream: net.Socket;
  silent: boolean;
}

/**
 * A TCP proxy on 127.0.0.1 in front of the relay whose links can go silent: bytes stop
 * flowing both ways and nothing is closed, as when a gadget's Wi-Fi drops without a FIN.
 * Links opened after `silence()` forward again (the gadget reconnecting).
 */
export class SilentProxy {
  private constructor(
    private readonly server: net.Server,
    private readonly links: Set<Link>,
    readonly port: number,
  ) {}

  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<SilentProxy> {
    const links = new Set<Link>();
    const server = net.createServer((client) => {
      const upstream = net.connect(targetPort, targetHost);
      const link: Link = { client, upstream, silent: false };
      links.add(link);
      client.on('data', (data) => void (link.silent || upstream.write(data)));
      upstream.on('data', (data) => void (link.silent || client.write(data)));
      const end = () => {
        links.delete(link);
        client.destroy();
        upstream.destroy();
      };
      client.on('close', end).on('error', end);
      upstream.on('close', end).on('error', end);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    return new SilentProxy(server, links, typeof address === 'object' && address ? address.port : 0);
  }

  url(path = '/ws'): string {
    return `ws://127.0.0.1:${this.port}${path}`;
  }

  /** Every open link stops forwarding, in both directions, without closing. */
  silence(): void {
    for (const link of this.links) link.silent = true;
  }

  async close(): Promise<void> {
    for (const link of this.links) {
      link.client.destroy();
      link.upstream.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
