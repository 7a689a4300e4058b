import express from 'express';
import { ProtocolError, type InboundType } from '../../protocol/index.js';
import type { Feature, MessageHandler, RelayContext, SessionView } from '../feature.js';
import type { CrewSpotifyApp, QueueCommands } from '../ports.js';
import { CrewPages } from './crew-pages.js';
import { loadLinkSecret, MemberLinks } from './member-links.js';

/** The crew pages' ports (cloud/ports.ts), handed in by cloud/compose.ts. */
export interface CrewPagesOptions {
  /** The queue the pages show and change (the queue feature's). */
  readonly queue: QueueCommands;
  readonly now?: () => number;
  /**
   * Routes mounted behind the member link at /crew/api with res.locals.viewer and
   * res.locals.historyViewer set: the member's MCP tokens, history's stats and import.
   */
  readonly memberApi?: express.Router;
  /** The owner's "Spotify app for this crew" (the Spotify feature's); none: those routes answer spotify_not_configured. */
  readonly spotifyApp?: CrewSpotifyApp;
}

/**
 * The crew's pages for phones as a relay feature: it owns the member links (the relay's link
 * secret), answers the gadget's `crew_link` with one for its QR code, and serves the pages,
 * their JSON API and their event stream (crew-pages.ts) once the secret is loaded.
 */
export class CrewPagesFeature implements Feature {
  readonly name = 'crew-pages';
  readonly handlers: Partial<Record<InboundType, MessageHandler>>;
  readonly router = express.Router();
  private readonly now: () => number;
  private links: MemberLinks | null = null;
  private pages: CrewPages | null = null;

  constructor(
    private readonly context: RelayContext,
    private readonly options: CrewPagesOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.handlers = { crew_link: (session) => this.onLink(session) };
  }

  async start(): Promise<void> {
    const { linkSecret, linkTtlMs } = this.context.config.queue;
    this.links = new MemberLinks(await loadLinkSecret(linkSecret, this.context.config.dataDir), linkTtlMs);
    if (!this.pages) {
      const { queue, memberApi, spotifyApp } = this.options;
      this.pages = new CrewPages({ context: this.context, queue, links: this.links, now: this.now, memberApi, spotifyApp });
      this.router.use(this.pages.router);
    }
    this.pages.start();
  }

  async stop(): Promise<void> {
    this.pages?.stop();
  }

  /** A signed link to the crew pages for a member, as the gadget shows it in a QR code. */
  issueLink(crewId: string, deviceId: string, crewCode: string): { url: string; expiresAt: number } {
    if (!this.links) throw new ProtocolError('unavailable', 'The crew pages are starting; try again shortly.');
    const { token, expiresAt } = this.links.issue(crewId, deviceId, crewCode, this.now());
    return { url: `${this.context.publicUrl()}/c/${token}`, expiresAt };
  }

  private async onLink(session: SessionView): Promise<void> {
    const { crews } = this.context.store;
    const membership = session.deviceId ? await crews.getMembership(session.deviceId) : null;
    const crew = membership && (await crews.getCrew(membership.crewId));
    if (!membership || !crew) return session.fail('not_in_crew', 'Join a crew before asking for a link to its pages.');
    const { url, expiresAt } = this.issueLink(crew.crewId, membership.deviceId, crew.crewCode);
    session.send({ type: 'crew_link_issued', url, expires_at: expiresAt });
  }
}
