import type { Logger } from 'pino';
import { SongPush, type OutboundMessage } from '../../../protocol/index.js';
import type { Clock, TimerHandle } from '../../clock.js';
import type { DeviceFeature, DeviceHost } from '../../device-host.js';
import { ART_BOX, NowPlayingScreen, type NowPlaying } from '../../screens/now-playing.js';
import type { MenuEntry } from '../../screens/screen.js';
import { SignInScreen } from '../../screens/sign-in.js';
import { SpotifyDevicesScreen, type PickableDevice } from '../../screens/spotify-devices.js';
import { latestShare } from '../../state.js';
import { ArtCache } from './art-cache.js';
import { NowPlayingPoller, startedPlaying } from './now-playing-poller.js';
import { NotSignedInError } from '../../../spotify/web-api.js';
import { RelayTokenSource } from './relay-tokens.js';
import { SpotifyError, SpotifyHttp, type SpotifyHttpOptions } from '../../../spotify/spotify-http.js';
import { SpotifyWebApi } from '../../../spotify/web-api.js';

export interface SpotifyLinkDeps {
  readonly host: DeviceHost;
  readonly clock: Clock;
  readonly log: Logger;
  /** Album art cache directory (under the device data dir). */
  readonly artDir: string;
  readonly artCacheBytes?: number;
  /** Until the relay names one with a token. */
  readonly defaultApiUrl?: string;
  readonly http?: SpotifyHttpOptions;
  /** Between now-playing polls while the screen sleeps (display.pollWhileAsleepSeconds); 0 stops them. */
  readonly asleepPollMs?: number;
}

const NOTICE_MS = 4_000;

/** A code with less than this left is not worth keeping: scanning and signing in take a while. */
const LIVE_CODE_MARGIN_MS = 90_000;

/**
 * The gadget's Spotify: sign-in screen, tokens from the relay, now-playing polling, and the
 * actions (share what plays, queue or play the crew's shared track, re-pair). `attach()`
 * adds its screens and menu entries before the gadget starts; start()/stop() follow the
 * Controller's.
 */

export class SpotifyLink implements DeviceFeature {
  readonly nowPlaying: NowPlayingScreen;
  readonly signIn: SignInScreen;
  /** "Play on…": the owner's Spotify Connect devices. */
  readonly devices: SpotifyDevicesScreen;
  readonly tokens: RelayTokenSource;
  readonly art: ArtCache;
  private readonly poller: NowPlayingPoller;
  /** The owner's Spotify Web API (tokens from the relay); play-along uses it too. */
  readonly web: SpotifyWebApi;
  private unsubscribe: (() => void) | null = null;
  /** Who follows the owner's playback (play along: OwnerPlayback). */
  private readonly playbackListeners = new Set<(playing: NowPlaying | null) => void>();
  private tick: TimerHandle | null = null;
  private awake = true;

  constructor(private readonly deps: SpotifyLinkDeps) {
    const { host, clock } = deps;
    this.tokens = new RelayTokenSource(host.relay, clock, deps.defaultApiUrl ?? 'https://api.spotify.com/v1');
    this.web = new SpotifyWebApi({ http: new SpotifyHttp(deps.http), apiUrl: () => this.tokens.apiUrl, tokens: this.tokens, limiterKey: 'owner' });
    this.art = new ArtCache({ dir: deps.artDir, size: ART_BOX, maxBytes: deps.artCacheBytes ?? 5_000_000 }, () => host.invalidate());
    this.poller = new NowPlayingPoller(
      this.web,
      clock,
      {
        onChange: (playing) => {
          this.showPlaying(playing);
          host.invalidate();
          for (const listener of this.playbackListeners) listener(playing);
        },
        onError: (error) => this.onPollError(error),
      },
      { artSize: ART_BOX, asleepMs: deps.asleepPollMs },
    );
    this.nowPlaying = new NowPlayingScreen({ share: () => void this.shareNowPlaying(), signIn: () => this.repair() }, (url) => this.art.lookup(url));
    this.signIn = new SignInScreen(() => this.repair());
    this.devices = new SpotifyDevicesScreen({ refresh: () => void this.loadDevices(), pick: (device) => void this.playOn(device) });
  }

  /** Adds the screens and the menu entries; call before the gadget starts. */
  attach(): this {
    this.deps.host.screens.add(this.nowPlaying).add(this.signIn).add(this.devices);
    for (const entry of this.menuEntries()) this.deps.host.screens.addMenuEntry(entry);
    return this;
  }

  start(): void {
    this.unsubscribe = this.deps.host.relay.onEvent((event) => {
      if (event.kind === 'frame' || event.kind === 'event') this.onFrame(event.message);
      if (event.kind === 'connection' && event.connection.status === 'online') void this.checkSignIn();
    });
    this.scheduleTick();
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.deps.clock.clearTimeout(this.tick);
    this.tick = null;
    this.poller.setPace('off');
  }

  /** The screen sleeping slows polling down (to see the owner start music); waking polls at once. */
  setScreenAwake(awake: boolean): void {
    this.awake = awake;
    if (this.nowPlaying.link === 'signed_in') this.poller.setPace(awake ? 'awake' : 'asleep');
  }

  /** Every new answer about the owner's playback (OwnerPlayback, for play along); returns the unsubscribe. */
  subscribe(listener: (playing: NowPlaying | null) => void): () => void {
    this.playbackListeners.add(listener);
    return () => this.playbackListeners.delete(listener);
  }

  /** "Play on…" (menu): the owner's Spotify Connect devices, asked for afresh. */
  async openDevicePicker(): Promise<void> {
    this.devices.devices = null;
    this.devices.message = null;
    this.deps.host.show('spotify_devices');
    await this.loadDevices();
  }

  /** Moves the owner's playback to the device and plays there; says where on now playing. */
  async playOn(device: PickableDevice): Promise<void> {
    if (!device.id) return;
    try {
      await this.web.transferPlayback(device.id, true);
      this.notify(`Playing on ${device.name}`, 'ok');
      this.deps.host.show('now_playing');
      void this.poller.pollNow();
    } catch (error) {
      this.devices.message = spotifyProblem(error);
      this.deps.host.invalidate();
    }
  }

  private async loadDevices(): Promise<void> {
    try {
      const devices = await this.web.devices();
      this.devices.show(devices.map((d) => ({ id: d.is_restricted ? null : d.id, name: d.name, type: d.type, isActive: d.is_active })));
    } catch (error) {
      this.devices.devices = [];
      this.devices.message = spotifyProblem(error);
    }
    this.deps.host.invalidate();
  }

  async shareNowPlaying(): Promise<boolean> {
    const playing = this.poller.nowPlaying;
    if (!playing) return this.notify('Nothing is playing to share.', 'error');
    const song = SongPush.safeParse({
      artist: playing.artist,
      track: playing.track,
      album: playing.album,
      spotify_uri: playing.uri,
      album_art_url: playing.artUrl ?? '',
      note: '',
    });
    if (!song.success) return this.notify('This track cannot be shared (local files are not on Spotify).', 'error');
    try {
      await this.deps.host.shareTrack(song.data);
    } catch (error) {
      this.deps.log.error({ err: (error as Error).message }, 'share failed');
      return this.notify('Could not save the share; try again.', 'error');
    }
    const offline = this.deps.host.state.connection.status !== 'online';
    return this.notify(offline ? 'Shared — it goes out when the gadget is back online.' : 'Shared with your crew ✓', 'ok');
  }

  /** Puts the crew's newest shared track into the owner's Spotify: queue, or play now. */
  async useSharedTrack(mode: 'queue' | 'play'): Promise<boolean> {
    const share = latestShare(this.deps.host.state);
    if (!share) return this.notify('Nothing has been shared yet.', 'error');
    try {
      if (mode === 'queue') await this.web.addToQueue(share.share.spotify_uri);
      else await this.web.play([share.share.spotify_uri]);
    } catch (error) {
      const text = error instanceof SpotifyError || error instanceof NotSignedInError ? error.message : 'Spotify did not take it; try again.';
      return this.notify(text, 'error');
    }
    void this.poller.pollNow();
    return this.notify(mode === 'queue' ? `Added "${share.share.track}" to your queue ✓` : `Playing "${share.share.track}" ✓`, 'ok');
  }

  /** Starts a new sign-in (re-pair) and shows the QR. */
  repair(): void {
    this.tokens.clear();
    this.signIn.session = null;
    this.signIn.message = this.deps.host.relay.sendNow({ type: 'spotify_signin_start' })
      ? 'Asking the relay for a sign-in code…'
      : 'Not connected to the relay; the code appears once it is back.';
    this.deps.host.show('sign_in');
  }

  private menuEntries(): MenuEntry[] {
    return [
      {
        id: 'spotify_queue',
        order: 30,
        label: () => 'Add shared track to my queue',
        run: () => void this.useSharedTrack('queue').then(() => this.deps.host.show('now_playing')),
      },
      {
        id: 'spotify_play',
        order: 31,
        label: () => 'Play shared track now',
        run: () => void this.useSharedTrack('play').then(() => this.deps.host.show('now_playing')),
      },
      {
        id: 'spotify_devices',
        order: 32,
        label: () => 'Play on another device…',
        run: () => void this.openDevicePicker(),
        visible: () => this.nowPlaying.link === 'signed_in',
      },
      { id: 'spotify_repair', order: 40, label: () => 'Re-pair Spotify', run: () => this.repair() },
    ];
  }

  private onFrame(message: OutboundMessage): void {
    if (message.type === 'spotify_signin_session') {
      this.signIn.session = { url: message.url, code: message.code, expiresAt: message.expires_at };
      this.deps.host.show('sign_in');
      return;
    }
    if (message.type === 'error' && message.code === 'spotify_not_configured') {
      this.signIn.message = message.message;
      this.deps.host.invalidate();
    }
    if (message.type === 'error' && message.code === 'spotify_not_allowlisted') {
      // Spotify let the person in but refuses their account for this app: a new code cannot help
      // until the crew owner adds them, so the screen says that instead of showing the QR again.
      this.signIn.session = null;
      this.signIn.message = message.message;
      this.deps.host.invalidate();
    }
    const learned = this.tokens.handle(message);
    if (learned === 'signed_in') this.becameSignedIn(true);
    if (learned === 'signin_required') this.becameSignedOut(true);
    if (learned === 'not_configured') this.becameUnavailableHere();
  }

  /** After each connect: asking for a token tells whether we are signed in (and collects an offline sign-in). */
  private async checkSignIn(): Promise<void> {
    try {
      await this.tokens.token();
      this.becameSignedIn(false);
    } catch (error) {
      if (!(error instanceof NotSignedInError)) this.deps.log.warn({ err: (error as Error).message }, 'spotify token check failed');
    }
  }

  private becameSignedIn(justNow: boolean): void {
    const was = this.nowPlaying.link;
    this.nowPlaying.link = 'signed_in';
    this.signIn.session = null;
    this.poller.setPace(this.awake ? 'awake' : 'asleep');
    if (justNow || was !== 'signed_in') {
      if (justNow) this.notify('Spotify is connected ✓', 'ok');
      if (justNow || this.deps.host.currentScreen === 'sign_in') this.deps.host.show('now_playing');
    }
  }

  private becameSignedOut(startSignin: boolean): void {
    this.nowPlaying.link = 'signed_out';
    this.showPlaying(null);
    this.poller.setPace('off');
    // After a reconnect the code on screen still works: a new one would break the sign-in
    // of a phone that is half-way through it. Only an explicit re-pair replaces a live code.
    if (startSignin && !this.showsLiveCode()) this.repair();
  }

  private showsLiveCode(): boolean {
    const session = this.signIn.session;
    return session !== null && session.expiresAt - this.deps.clock.now() > LIVE_CODE_MARGIN_MS;
  }

  private becameUnavailableHere(): void {
    this.nowPlaying.link = 'not_configured';
    this.showPlaying(null);
    this.poller.setPace('off');
    this.deps.host.invalidate();
  }

  /**
   * Puts a poll's answer on the now-playing screen and tells the gadget whether music
   * plays (the no-music sleep rule). The owner starting music wakes a sleeping screen on
   * now playing (unless the menu is open).
   */
  private showPlaying(playing: NowPlaying | null): void {
    const started = startedPlaying(this.nowPlaying.playing, playing);
    this.nowPlaying.playing = playing;
    this.deps.host.setMusicPlaying(playing?.isPlaying === true);
    if (!started) return;
    void this.deps.host.wake().then((woke) => {
      if (woke && this.deps.host.currentScreen !== 'menu') this.deps.host.show('now_playing');
    });
  }

  private onPollError(error: Error): void {
    if (error instanceof NotSignedInError) return this.becameSignedOut(false);
    this.deps.log.warn({ err: error.message }, 'now-playing poll failed');
  }

  private notify(text: string, tone: 'ok' | 'error'): boolean {
    this.nowPlaying.notice = { text, tone, until: this.deps.clock.now() + NOTICE_MS };
    this.deps.host.invalidate();
    return tone === 'ok';
  }

  /** Once a second while a moving screen is up: the progress bar and the sign-in countdown. */
  private scheduleTick(): void {
    this.tick = this.deps.clock.setTimeout(() => {
      const screen = this.deps.host.currentScreen;
      if (this.awake && (screen === 'sign_in' || screen === 'now_playing')) this.deps.host.invalidate();
      this.scheduleTick();
    }, 1_000);
  }
}

/** What the owner is told when Spotify refused (its sentence), or a plain one for anything else. */
function spotifyProblem(error: unknown): string {
  return error instanceof SpotifyError || error instanceof NotSignedInError ? error.message : 'Spotify did not answer; try again.';
}
