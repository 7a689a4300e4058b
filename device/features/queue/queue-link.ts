import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { Logger } from 'pino';
import { isTrackUri, type OutboundMessage, type OutboundOf } from '../../../protocol/index.js';
import type { QueueItemView, QueueSnapshot, VoteValue } from '../../../protocol/queue.js';
import type { Clock, TimerHandle } from '../../clock.js';
import type { DeviceFeature, DeviceHost } from '../../device-host.js';
import { copyOf, serverNow, type CrewQueueCopy } from '../../crew-clock.js';
import { PlayAlong, type OwnerPlayback, type OwnerPlayer } from './play-along.js';
import type { RelayClientEvent } from '../../relay-client.js';
import { AIRHORN_ANIMATION_MS, AIRHORN_FRAME_MS, AirhornScreen } from '../../screens/airhorn.js';
import { CrewLinkScreen, type CrewLinkPurpose } from '../../screens/crew-link.js';
import { QueueScreen } from '../../screens/queue.js';
import type { NowPlaying } from '../../screens/now-playing.js';
import type { MenuEntry } from '../../screens/screen.js';

export interface QueueLinkDeps {
  readonly host: DeviceHost;
  readonly clock: Clock;
  readonly log: Logger;
  /** The owner's Spotify (the device Web API client with tokens from the relay). */
  readonly player: OwnerPlayer;
  /** What the owner's Spotify plays, as the now-playing poller reads it (play along keeps in step by it). */
  readonly playback?: OwnerPlayback;
  readonly dataDir: string;
}

const NOTICE_MS = 4_000;
/** Airhorns older than this (replayed after a reconnect) are not animated any more. */
const AIRHORN_FRESH_MS = 30_000;

/**
 * The crew's shared queue on the gadget: keeps the newest `queue_state` (by version), asks
 * for it after every connect or resync, runs the queue screen, the airhorn, the crew page
 * link and play-along. `attach()` adds the screens and menu entries before
 * the gadget starts; start()/stop() follow the Controller's.
 */
export class QueueLink implements DeviceFeature {
  readonly screen: QueueScreen;
  readonly airhorn = new AirhornScreen();
  readonly crewLink: CrewLinkScreen;
  readonly playAlong: PlayAlong;
  private copy: CrewQueueCopy | null = null;
  private crewCode: string | null = null;
  /** Votes and jams sent through the outbox: a refusal of one of them is shown. */
  private readonly sent = new Set<string>();
  private airhornId: string | null = null;
  /** A crew_link request is out: an error without ref_type (the relay sends none for it) is its answer. */
  private awaitingLink = false;
  private unsubscribe: (() => void) | null = null;
  private unsubscribePlayback: (() => void) | null = null;
  /** What the owner's Spotify played at the last answer (OwnerPlayback), for "add what I'm playing". */
  private ownerPlaying: NowPlaying | null = null;
  private tick: TimerHandle | null = null;
  private blastTimer: TimerHandle | null = null;

  constructor(private readonly deps: QueueLinkDeps) {
    this.screen = new QueueScreen(
      { vote: (item, vote) => void this.vote(item, vote), jam: (item, on) => void this.jam(item, on) },
      () => this.playAlong.status,
    );
    this.crewLink = new CrewLinkScreen(() => this.requestCrewLink(this.crewLink.purpose));
    this.playAlong = new PlayAlong({
      player: deps.player,
      file: path.join(deps.dataDir, 'play-along.json'),
      log: deps.log,
      onChange: () => deps.host.invalidate(),
      notify: (text) => deps.host.showLine(text),
      now: () => deps.clock.now(),
    });
  }

  /** The crew's queue as last received, or null before the first snapshot. */
  get queue(): QueueSnapshot | null {
    return this.copy?.snapshot ?? null;
  }

  attach(): this {
    this.deps.host.screens.add(this.screen).add(this.airhorn).add(this.crewLink);
    for (const entry of this.menuEntries()) this.deps.host.screens.addMenuEntry(entry);
    return this;
  }

  async start(): Promise<void> {
    await this.playAlong.load();
    this.unsubscribe = this.deps.host.relay.onEvent((event) => this.onRelayEvent(event));
    this.unsubscribePlayback =
      this.deps.playback?.subscribe((owner) => {
        this.ownerPlaying = owner;
        void this.playAlong.observe(owner, this.copy?.snapshot.now_playing ?? null, () => this.serverTime());
      }) ?? null;
    this.scheduleTick();
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.unsubscribePlayback?.();
    this.unsubscribePlayback = null;
    this.deps.clock.clearTimeout(this.tick);
    this.deps.clock.clearTimeout(this.blastTimer);
    this.tick = null;
    this.blastTimer = null;
    await this.playAlong.settled();
  }

  /**
   * The play-along press (menu): switches it on (joining the crew's track at once) or off;
   * after it stepped out because the owner took over, the press rejoins.
   */
  async togglePlayAlong(): Promise<void> {
    const playing = this.copy?.snapshot.now_playing ?? null;
    if (this.playAlong.steppedOut) return this.playAlong.rejoin(playing, () => this.serverTime());
    try {
      await this.playAlong.setEnabled(!this.playAlong.enabled, playing, () => this.serverTime());
    } catch (error) {
      this.deps.log.error({ err: (error as Error).message }, 'could not save the play-along setting');
      this.notify('Could not save the play-along setting.', 'error');
    }
    this.deps.host.invalidate();
  }

  /** Sounds the airhorn for the whole crew; worthless later, so it is never queued offline. */
  soundAirhorn(): boolean {
    const id = `airhorn-${randomUUID()}`;
    if (!this.deps.host.relay.sendNow({ type: 'airhorn', client_msg_id: id })) {
      return this.notify('Not connected: the airhorn needs the relay.', 'error');
    }
    this.airhornId = id;
    return this.notify('Airhorn sent to your crew 📣', 'ok');
  }

  /** Asks the relay for a signed link to the crew page (or its Spotify app section) and shows it as a QR code. */
  requestCrewLink(purpose: CrewLinkPurpose = 'crew_page'): void {
    this.crewLink.link = null;
    this.crewLink.purpose = purpose;
    this.awaitingLink = this.deps.host.relay.sendNow({ type: 'crew_link' });
    this.crewLink.message = this.awaitingLink
      ? 'Asking the relay for a link to your crew page…'
      : 'Not connected to the relay; try again once the gadget is online.';
    this.deps.host.show('crew_link');
  }

  /**
   * Puts what the owner's Spotify plays (the track now playing shows) into the crew's queue as
   * this member (menu). Through the outbox, like votes: offline it goes out later. (Shares go
   * into the crew queue by themselves.)
   */
  async addPlayingToCrewQueue(): Promise<void> {
    const playing = this.ownerPlaying;
    if (!playing || !isTrackUri(playing.uri)) {
      this.notify(playing ? 'Only Spotify tracks can go in the crew queue.' : 'Nothing is playing on your Spotify.', 'error');
      return;
    }
    const track = {
      spotify_uri: playing.uri,
      track: playing.track,
      artist: playing.artist,
      album: playing.album,
      album_art_url: playing.artUrl ?? '',
      duration_ms: playing.durationMs,
    };
    await this.sendCommand({ type: 'queue_add', ...track }, `Added "${track.track}" to the crew queue`);
  }

  /** A vote to skip the crew's playing track (or taking it back): a majority of the members online skips it. */
  private async voteSkip(me: string | null): Promise<void> {
    const playing = this.copy?.snapshot.now_playing;
    if (!playing) return;
    const skip = !playing.skip_votes.includes(me ?? '');
    await this.sendCommand(
      { type: 'queue_skip_vote', item_id: playing.item_id, skip },
      skip ? `Voted to skip "${playing.track}"` : `Vote to skip "${playing.track}" taken back`,
    );
  }

  private async vote(item: QueueItemView, vote: VoteValue): Promise<void> {
    await this.sendCommand(
      { type: 'queue_vote', item_id: item.item_id, vote },
      vote === 'up' ? `Voted up "${item.track}"` : `Vote taken back from "${item.track}"`,
    );
  }

  private async jam(item: QueueItemView, on: boolean): Promise<void> {
    await this.sendCommand(
      { type: 'queue_jam', item_id: item.item_id, jam: on },
      on ? `Jamming on "${item.track}" 🔥` : `No longer jamming on "${item.track}"`,
    );
  }

  /** Through the outbox: a vote made offline goes out when the gadget is back. */
  private async sendCommand(message: Parameters<DeviceHost['relay']['send']>[0], done: string): Promise<void> {
    try {
      const entry = await this.deps.host.relay.send(message);
      this.sent.add(entry.clientMsgId);
      this.notify(done, 'ok');
    } catch (error) {
      this.deps.log.error({ err: (error as Error).message }, 'queue command could not be queued');
      this.notify('Could not save that; try again.', 'error');
    }
  }

  private menuEntries(): MenuEntry[] {
    return [
      {
        id: 'queue_airhorn',
        order: 50,
        label: () => 'Sound the airhorn',
        run: () => {
          this.soundAirhorn();
          this.deps.host.show('queue');
        },
      },
      { id: 'crew_page', order: 51, label: () => 'Crew page on your phone', run: () => this.requestCrewLink() },
      {
        // With the Spotify entries (30–32): what to do with the music; the crew's own entries (50–52) stay last.
        id: 'crew_skip_vote',
        order: 34,
        label: (state) => {
          const playing = this.copy?.snapshot.now_playing;
          const mine = playing?.skip_votes.includes(state.deviceId ?? '') ?? false;
          return mine ? 'Take back my vote to skip' : `Vote to skip${playing ? ` "${playing.track}"` : ''}`;
        },
        visible: (state) => state.crew !== null && state.crew.ownerDeviceId !== state.deviceId && !!this.copy?.snapshot.now_playing,
        run: (host) => void this.voteSkip(host.state.deviceId).then(() => this.deps.host.show('queue')),
      },
      {
        id: 'crew_queue_playing',
        order: 33,
        label: () => (this.ownerPlaying ? `Crew queue: add "${this.ownerPlaying.track}"` : "Crew queue: add what I'm playing"),
        visible: (state) => state.crew !== null,
        run: () => void this.addPlayingToCrewQueue().then(() => this.deps.host.show('queue')),
      },
      {
        // Next to "Re-pair Spotify" (40): the owner's other Spotify entry.
        id: 'crew_spotify_app',
        order: 41,
        label: () => 'Spotify app for this crew',
        visible: (state) => state.crew !== null && state.crew.ownerDeviceId === state.deviceId,
        run: () => this.requestCrewLink('spotify_app'),
      },
      {
        id: 'play_along',
        order: 52,
        label: () =>
          this.playAlong.steppedOut
            ? 'Play along: stepped out (press to rejoin)'
            : this.playAlong.enabled
              ? 'Play along: on (press to stop)'
              : 'Play along: off (press to start)',
        run: () => void this.togglePlayAlong().then(() => this.deps.host.show('queue')),
      },
    ];
  }

  private onRelayEvent(event: RelayClientEvent): void {
    if (event.kind === 'connection' && event.connection.status === 'online') this.askForQueue();
    if (event.kind === 'crew') this.onCrew(event.crew?.crew_code ?? null, event.reason);
    if (event.kind === 'event' || event.kind === 'frame') this.onMessage(event.message);
    if (event.kind === 'rejected' && this.sent.delete(event.clientMsgId)) this.notify(event.message, 'error');
    // The relay does not echo a member's own changes live: ask for the queue to see our vote applied.
    if (event.kind === 'acked' && this.sent.delete(event.clientMsgId)) this.askForQueue();
  }

  private askForQueue(): void {
    this.deps.host.relay.sendNow({ type: 'queue_get' });
  }

  /** Another crew's versions mean nothing here: forget the copy; a resync asks again. */
  private onCrew(code: string | null, reason: string): void {
    if (code !== this.crewCode) {
      this.crewCode = code;
      this.accept(null);
    }
    if (reason === 'resync') this.askForQueue();
  }

  private onMessage(message: OutboundMessage): void {
    if (message.type === 'queue_state') return this.onQueueState(message.queue);
    if (message.type === 'airhorn') return this.onAirhorn(message);
    if (message.type === 'crew_link_issued') {
      this.awaitingLink = false;
      this.crewLink.link = { url: message.url, expiresAt: message.expires_at };
      this.deps.host.invalidate();
      return;
    }
    if (message.type === 'error') this.onError(message);
  }

  /** Keeps the newest snapshot; an equal version refreshes the clock offset (a queue_get answer). */
  private onQueueState(snapshot: QueueSnapshot): void {
    const current = this.copy?.snapshot;
    if (current && snapshot.version < current.version) return;
    this.accept(snapshot);
  }

  private accept(snapshot: QueueSnapshot | null): void {
    this.copy = snapshot ? copyOf(snapshot, this.deps.clock.now()) : null;
    this.screen.queue = this.copy;
    if (snapshot) void this.playAlong.follow(snapshot.now_playing, () => this.serverTime());
    this.deps.host.invalidate();
  }

  private serverTime(): number {
    const now = this.deps.clock.now();
    return this.copy ? serverNow(this.copy, now) : now;
  }

  private onAirhorn(message: OutboundOf<'airhorn'>): void {
    if (this.serverTime() - message.timestamp > AIRHORN_FRESH_MS) return;
    const host = this.deps.host;
    // From the menu, go back to the queue: returning into the menu would lose where it came from.
    const from = host.currentScreen;
    if (from !== 'airhorn') this.airhorn.returnTo = from === 'menu' ? 'queue' : from;
    this.airhorn.blast = { fromName: message.from_name, start: this.deps.clock.now() };
    host.show('airhorn');
    this.animateBlast();
  }

  /** Frames until the blast is over, then back to where the owner was. */
  private animateBlast(): void {
    this.deps.clock.clearTimeout(this.blastTimer);
    const frame = (): void => {
      const blast = this.airhorn.blast;
      const host = this.deps.host;
      if (!blast || host.currentScreen !== 'airhorn') return;
      if (this.deps.clock.now() - blast.start >= AIRHORN_ANIMATION_MS) {
        this.airhorn.blast = null;
        host.show(this.airhorn.returnTo);
        return;
      }
      host.invalidate();
      this.blastTimer = this.deps.clock.setTimeout(frame, AIRHORN_FRAME_MS);
    };
    this.blastTimer = this.deps.clock.setTimeout(frame, AIRHORN_FRAME_MS);
  }

  private onError(message: OutboundOf<'error'>): void {
    if (message.ref_type === 'crew_link' || (this.awaitingLink && !message.ref_type && !message.client_msg_id)) {
      this.awaitingLink = false;
      this.crewLink.message = message.message;
      this.deps.host.invalidate();
    } else if (message.ref_type === 'airhorn' && message.client_msg_id === this.airhornId) {
      this.notify(message.message, 'error');
    }
  }

  private notify(text: string, tone: 'ok' | 'error'): boolean {
    this.screen.notice = { text, tone, until: this.deps.clock.now() + NOTICE_MS };
    this.deps.host.invalidate();
    return tone === 'ok';
  }

  /** Once a second while the queue or the crew link is up: the crew clock and the link's time left. */
  private scheduleTick(): void {
    this.tick = this.deps.clock.setTimeout(() => {
      const screen = this.deps.host.currentScreen;
      if (screen === 'queue' || screen === 'crew_link') this.deps.host.invalidate();
      this.scheduleTick();
    }, 1_000);
  }
}
