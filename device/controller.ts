import path from 'node:path';
import type { Logger } from 'pino';
import type { CrewMessageBody, OutboundMessage, Reaction, SongPush } from '../protocol/index.js';
import { systemClock, type Clock, type TimerHandle } from './clock.js';
import type { DeviceConfig } from './config.js';
import type { ButtonEvent, Buttons, Display } from './hardware.js';
import { FeedStore } from './feed-store.js';
import { RelayClient, type RelayClientEvent } from './relay-client.js';
import { ScreenSleep } from './screen-sleep.js';
import { CrewScreen } from './screens/crew.js';
import { CREW_CODE_ENTRY, MenuScreen } from './screens/menu.js';
import { MessagesScreen } from './screens/messages.js';
import { REACTION_ANIMATION_MS, REACTION_FRAMES } from './screens/reaction.js';
import { ScreenRegistry } from './screens/registry.js';
import { ScreenRenderer } from './screens/renderer.js';
import { uiFontProblem } from './screens/theme.js';
import type { Screen, ScreenHost } from './screens/screen.js';
import type { Notice } from './screens/theme.js';
import { ShareScreen, type ArtLookup } from './screens/share.js';
import { StatusScreen } from './screens/status.js';
import { SpotifyLink } from './features/spotify/spotify-link.js';
import type { DeviceFeature, DeviceHost } from './device-host.js';
import { QueueLink } from './features/queue/queue-link.js';
import { applyEvent, applyOwnMessage, initialState, latestShare, markRead, withConnection, withCrew, type DeviceState, type FeedItem } from './state.js';

export interface ControllerDeps {
  readonly config: DeviceConfig;
  readonly display: Display;
  readonly buttons: Buttons;
  readonly log: Logger;
  readonly clock?: Clock;
  /** Supplied by tests that tune timings; built from the config otherwise. */
  readonly relay?: RelayClient;
  readonly art?: ArtLookup;
}

/** A frame that has been presenting this long means the display is wedged (a full SPI frame takes < 1 s). */
export const RENDER_STALL_MS = 20_000;

/**
 * Wires the relay client, the app state, the screens, the buttons and the display.
 * The constructor stores dependencies only; start() subscribes and connects; stop()
 * undoes exactly that.
 */
export class Controller implements DeviceHost {
  readonly screens = new ScreenRegistry();
  readonly relay: RelayClient;
  /** Spotify on the gadget: now playing, sign-in, share / queue / play (device/spotify). */
  readonly spotify: SpotifyLink;
  /** The crew's shared queue on the gadget: queue screen, airhorn, crew page QR, play-along. */
  readonly queue: QueueLink;
  private readonly clock: Clock;
  private readonly renderer: ScreenRenderer;
  private readonly menu: MenuScreen;
  private stateValue: DeviceState;
  private current = 'status';
  private unsubscribe: (() => void)[] = [];
  private readonly stateListeners = new Set<(state: DeviceState) => void>();
  private readonly changeListeners = new Set<() => void>();
  /** A line shown over every screen for a while (showLine: Home Assistant's notify). */
  private line: { notice: Notice; timer: TimerHandle | null } | null = null;
  private rendering: Promise<void> | null = null;
  /** When the frame in flight was handed to the display, null between frames. */
  private presentingSince: number | null = null;
  private dirty = false;
  private animation: { start: number; timer: TimerHandle | null } | null = null;
  private running = false;
  /** Backlight off after inactivity or without music; a button, an incoming share or the owner starting music wakes it. */
  private readonly sleep: ScreenSleep;
  /** The recent feed on disk, so a restarted gadget still shows what the crew shared. */
  private readonly feedStore: FeedStore;
  /** The device features, started in this order and stopped in this order. */
  private readonly features: readonly DeviceFeature[];

  constructor(private readonly deps: ControllerDeps) {
    this.clock = deps.clock ?? systemClock;
    this.relay =
      deps.relay ??
      new RelayClient({
        url: deps.config.relay.url,
        deviceName: deps.config.device.name,
        crewCode: deps.config.device.crewCode,
        dataDir: deps.config.dataDir,
        log: deps.log.child({ part: 'relay' }),
        clock: this.clock,
        pingIntervalMs: deps.config.relay.pingIntervalSeconds * 1000,
        deadAfterMs: deps.config.relay.deadAfterSeconds * 1000,
      });
    this.renderer = new ScreenRenderer(deps.display.width, deps.display.height);
    this.feedStore = new FeedStore(deps.config.dataDir, this.clock, deps.log.child({ part: 'feed' }));
    this.sleep = new ScreenSleep({
      display: deps.display,
      idleMs: deps.config.display.sleepAfterSeconds * 1000,
      silenceMs: deps.config.display.sleepWithoutMusicSeconds * 1000,
      clock: this.clock,
      onError: (error) => deps.log.warn({ err: (error as Error).message }, 'the backlight could not be switched'),
      // Nobody sees now playing while the screen sleeps: ask Spotify only slowly, to see the owner start music.
      onChange: (awake) => this.spotify.setScreenAwake(awake),
    });
    this.menu = new MenuScreen(this.screens);
    this.spotify = new SpotifyLink({
      host: this,
      clock: this.clock,
      log: deps.log.child({ part: 'spotify' }),
      artDir: path.join(deps.config.dataDir, 'art'),
      asleepPollMs: deps.config.display.pollWhileAsleepSeconds * 1000,
    });
    this.stateValue = initialState(deps.config.device.name, deps.config.relay.url);
    this.screens
      .add(new StatusScreen())
      .add(new CrewScreen())
      .add(new ShareScreen(deps.art ?? ((url) => this.spotify.art.lookup(url))))
      .add(new MessagesScreen())
      .add(this.menu)
      .addMenuEntry(CREW_CODE_ENTRY);
    this.spotify.attach();
    this.queue = new QueueLink({
      host: this,
      clock: this.clock,
      log: deps.log.child({ part: 'queue' }),
      player: this.spotify.web,
      playback: this.spotify,
      dataDir: deps.config.dataDir,
    });
    this.queue.attach();
    this.features = [this.spotify, this.queue];
  }

  get state(): DeviceState {
    return this.stateValue;
  }

  get currentScreen(): string {
    return this.current;
  }

  /**
   * For the systemd watchdog: the render loop is not stuck in a frame (a present that has
   * not returned for RENDER_STALL_MS is a wedged bus or driver) and the relay client is
   * still at work. The ping itself runs on the event loop, so a blocked loop stops it too.
   */
  healthy(): boolean {
    if (!this.running) return false;
    const stuck = this.presentingSince !== null && this.clock.now() - this.presentingSince > RENDER_STALL_MS;
    return !stuck && this.relay.alive;
  }

  async start(): Promise<void> {
    this.running = true;
    const fontProblem = uiFontProblem();
    if (fontProblem) this.deps.log.error({ code: 'font_missing' }, fontProblem);
    await this.deps.display.start();
    this.sleep.start();
    await this.deps.buttons.start();
    this.unsubscribe.push(this.deps.buttons.onEvent((event) => this.onButton(event)));
    this.unsubscribe.push(this.relay.onEvent((event) => this.onRelayEvent(event)));
    for (const feature of this.features) await feature.start();
    const feed = await this.feedStore.load();
    if (feed.length > 0) this.update({ ...this.stateValue, feed });
    this.invalidate();
    await this.relay.start();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.sleep.stop();
    for (const off of this.unsubscribe.splice(0)) off();
    for (const feature of this.features) await feature.stop();
    if (this.animation) this.clock.clearTimeout(this.animation.timer);
    this.animation = null;
    if (this.line) this.clock.clearTimeout(this.line.timer);
    this.line = null;
    await this.relay.stop();
    await this.feedStore.flush();
    await this.rendering;
    await this.deps.buttons.stop();
    await this.deps.display.stop();
  }

  /** Subscribes to state changes (MQTT bridge, tests); returns the unsubscribe function. */
  onStateChange(listener: (state: DeviceState) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** Subscribes to every change that redraws the screen (now playing, play-along, the state); returns the unsubscribe function. */
  onChange(listener: () => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /** Shows one line of text over whatever screen is up for LINE_MS, and wakes the screen. */
  showLine(text: string): void {
    if (this.line) this.clock.clearTimeout(this.line.timer);
    const line: { notice: Notice; timer: TimerHandle | null } = { notice: { text, tone: 'ok', until: this.clock.now() + LINE_MS }, timer: null };
    line.timer = this.clock.setTimeout(() => {
      if (this.line === line) this.line = null;
      this.invalidate();
    }, LINE_MS);
    this.line = line;
    void this.sleep.activity();
    this.invalidate();
  }

  wake(): Promise<boolean> {
    return this.sleep.activity();
  }

  setMusicPlaying(playing: boolean): void {
    this.sleep.setPlaying(playing);
  }

  /** Shares a track with the crew: queued durably, shown at once as "you shared". */
  async shareTrack(track: SongPush): Promise<string> {
    return this.sendMessage({ msg_type: 'song_push', payload: track });
  }

  /** Reacts to the share on screen. Does nothing when there is none or it is this device's own. */
  async react(reaction: Reaction): Promise<string | null> {
    const share = latestShare(this.stateValue);
    if (!share || share.mine) return null;
    return this.sendMessage({ msg_type: 'reaction', payload: { reaction, to_device: share.fromDevice } });
  }

  async sendText(text: string): Promise<string> {
    return this.sendMessage({ msg_type: 'text', payload: { text } });
  }

  private async sendMessage(body: CrewMessageBody): Promise<string> {
    const entry = await this.relay.send({ type: 'message', ...body } as Parameters<RelayClient['send']>[0]);
    const echo = {
      ...entry.message,
      from_device: this.stateValue.deviceId ?? 'me',
      from_name: this.stateValue.deviceName,
      timestamp: entry.queuedAt,
    } as Extract<OutboundMessage, { type: 'message' }>;
    this.update(applyOwnMessage(this.stateValue, entry.clientMsgId, { ...echo }));
    return entry.clientMsgId;
  }

  show(id: string): void {
    const screen = this.screens.get(id);
    if (!screen) {
      this.deps.log.warn({ id }, 'no such screen');
      return;
    }
    if (id === 'menu' && this.current !== 'menu') this.menu.returnTo = this.current;
    this.current = id;
    screen.onShow?.(this.host());
    this.invalidate();
  }

  /** Redraws; calls made while a frame is being presented coalesce into one more frame. */
  invalidate(): void {
    if (!this.running) return;
    for (const listener of this.changeListeners) listener();
    this.dirty = true;
    this.rendering ??= this.renderLoop().finally(() => {
      this.rendering = null;
    });
  }

  /** Resolves when every requested frame has been presented (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.rendering) await this.rendering;
  }

  private async renderLoop(): Promise<void> {
    while (this.dirty && this.running) {
      this.dirty = false;
      const screen = this.screens.get(this.current) ?? (this.screens.get('status') as Screen);
      const now = this.clock.now();
      const flash = this.stateValue.flash;
      const overlay = this.animation && flash ? { flash, progress: (now - this.animation.start) / REACTION_ANIMATION_MS } : null;
      const line = this.line?.notice ?? null;
      try {
        const frame = this.renderer.render({ screen, state: this.stateValue, now, overlay, line });
        this.presentingSince = this.clock.now();
        await this.deps.display.present(frame);
      } catch (error) {
        this.deps.log.error({ err: (error as Error).message }, 'failed to present a frame');
      } finally {
        this.presentingSince = null;
      }
    }
  }

  private update(next: DeviceState): void {
    if (next === this.stateValue) return;
    if (next.feed !== this.stateValue.feed) this.feedStore.save(next.feed);
    this.stateValue = next;
    for (const listener of this.stateListeners) listener(next);
    this.invalidate();
  }

  private host(): ScreenHost {
    return {
      state: this.stateValue,
      show: (id) => this.show(id),
      invalidate: () => this.invalidate(),
      react: (reaction) => void this.react(reaction).catch((error: Error) => this.deps.log.error({ err: error.message }, 'reaction failed')),
      markRead: (kinds) => this.update(markRead(this.stateValue, kinds)),
    };
  }

  // -------------------------------------------------------------------------
  // Buttons
  // -------------------------------------------------------------------------

  private onButton(event: ButtonEvent): void {
    // A press on a dark screen only wakes it: the owner cannot see what it would do.
    const wasAsleep = this.sleep.asleep;
    void this.sleep.activity();
    if (wasAsleep) return;
    const screen = this.screens.get(this.current);
    if (screen?.onButton?.(event, this.host())) return;
    if (event.kind === 'long_press') return this.show('menu');
    if (event.kind === 'rotate') return this.step(event.delta);
    if (event.kind !== 'press') return;
    if (event.button === 'prev') this.step(-1);
    if (event.button === 'next') this.step(1);
  }

  private step(delta: 1 | -1): void {
    const rotation = this.screens.rotation();
    if (rotation.length === 0) return;
    const index = rotation.findIndex((s) => s.id === this.current);
    const next = index < 0 ? 0 : (index + delta + rotation.length) % rotation.length;
    this.show((rotation[next] as Screen).id);
  }

  // -------------------------------------------------------------------------
  // Relay
  // -------------------------------------------------------------------------

  private onRelayEvent(event: RelayClientEvent): void {
    switch (event.kind) {
      case 'connection':
        return this.update(withConnection(this.stateValue, event.connection));
      case 'identity':
        return this.update({ ...this.stateValue, deviceId: event.deviceId });
      case 'crew':
        return this.onCrew(event);
      case 'outbox':
        return this.update({ ...this.stateValue, outboxPending: event.pending });
      case 'event':
        return this.onCrewEvent(event.message);
      case 'rejected':
        this.deps.log.warn({ code: event.code }, `a queued message was refused: ${event.message}`);
        return;
      default:
        return;
    }
  }

  private onCrew(event: Extract<RelayClientEvent, { kind: 'crew' }>): void {
    this.update(withCrew(this.stateValue, event.crew));
    if (event.crew && this.current === 'status' && event.reason !== 'resync') this.show('crew');
  }

  private onCrewEvent(message: OutboundMessage): void {
    const before = this.stateValue;
    const after = applyEvent(before, message);
    this.update(after);
    if (after.flash && after.flash !== before.flash) this.startAnimation();
    const newest = after.feed.at(-1);
    const added = newest && newest.key !== before.feed.at(-1)?.key ? newest : undefined;
    if (added && !added.mine && this.current !== 'menu') this.show(screenFor(added));
    const airhorn = message.type === 'airhorn';
    if ((added && !added.mine) || (after.flash && after.flash !== before.flash) || airhorn) void this.sleep.activity();
  }

  private startAnimation(): void {
    if (this.animation) this.clock.clearTimeout(this.animation.timer);
    const animation: { start: number; timer: TimerHandle | null } = { start: this.clock.now(), timer: null };
    this.animation = animation;
    const frameMs = REACTION_ANIMATION_MS / REACTION_FRAMES;
    const tick = (): void => {
      if (this.animation !== animation) return;
      if (this.clock.now() - animation.start >= REACTION_ANIMATION_MS) {
        this.animation = null;
      } else {
        animation.timer = this.clock.setTimeout(tick, frameMs);
      }
      this.invalidate();
    };
    tick();
  }
}

/** How long a line from showLine() stays on the screen. */
export const LINE_MS = 10_000;

function screenFor(item: FeedItem): string {
  return item.kind === 'share' ? 'share' : 'messages';
}
