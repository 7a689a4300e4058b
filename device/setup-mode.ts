import type { Logger } from 'pino';
import { systemClock, type Clock, type TimerHandle } from './clock.js';
import type { DeviceConfig } from './config.js';
import type { Display } from './hardware.js';
import { newHotspot, type Hotspot } from './hotspot.js';
import { NetworkError, type Network, type WifiNetwork } from './network.js';
import { markSetupNeeded, saveSetup, type SetupAnswers } from './setup-form.js';
import { SetupPage, type SetupProgress } from './setup-page.js';
import { ScreenRenderer } from './screens/renderer.js';
import { SetupScreen, type SetupStep } from './screens/setup.js';
import { initialState } from './state.js';

export interface SetupModeDeps {
  readonly configFile: string;
  /** The config as it is now (defaults where there is none): hardware, relay default, setup options. */
  readonly config: DeviceConfig;
  readonly display: Display;
  readonly network: Network;
  readonly log: Logger;
  readonly clock?: Clock;
  /** Tests fix the access point's name and password. */
  readonly hotspot?: Hotspot;
  /** Called with the setup page's URL once it listens. */
  readonly onPage?: (url: string) => void;
}

/** How long a failed network is retried before setup mode gives up on nmcli and says so. */
const RETRY_UNAVAILABLE_MS = 30_000;
const PROGRESS_FRAME_MS = 200;

/**
 * Setup mode: scan, open the access point `LEELOO-XXXX`, serve the setup page, and on
 * "done" save the config, leave the access point and join the home network. A network
 * that fails brings the access point back with the reason on the screen and the page.
 * The display is the caller's, started; setup mode only presents frames on it.
 */
export class SetupMode {
  readonly screen = new SetupScreen();
  private readonly renderer: ScreenRenderer;
  private readonly clock: Clock;
  private readonly hotspot: Hotspot;
  private networks: WifiNetwork[] = [];
  private progress: SetupProgress = { state: 'waiting', error: null };
  /** Why the last answers did not work; shown once the access point is back. */
  private failure: string | null = null;
  private page: SetupPage | null = null;
  private submitted: ((answers: SetupAnswers) => void) | null = null;
  private frameTimer: TimerHandle | null = null;
  private drawing: Promise<void> = Promise.resolve();

  constructor(private readonly deps: SetupModeDeps) {
    this.renderer = new ScreenRenderer(deps.display.width, deps.display.height);
    this.clock = deps.clock ?? systemClock;
    this.hotspot = deps.hotspot ?? newHotspot();
  }

  /** The setup page's URL once it is up (tests drive it). */
  get url(): string | null {
    return this.page?.url ?? null;
  }

  /** Shows a step on the screen (the boot gesture and factory reset use it too). */
  async show(step: SetupStep): Promise<void> {
    this.screen.step = step;
    this.clock.clearTimeout(this.frameTimer);
    this.frameTimer = null;
    await this.draw();
    // The progress bar moves while the gadget waits for nmcli.
    if (step.kind === 'connecting') this.animate();
  }

  /** Runs until the gadget is set up and on its home network; resolves with the saved config. */
  async run(): Promise<DeviceConfig> {
    const { config, log } = this.deps;
    this.page = new SetupPage({
      host: config.setup.host,
      port: config.setup.port,
      address: config.setup.address,
      networks: () => this.networks,
      relayUrl: config.relay.url,
      deviceName: config.device.name,
      progress: () => this.progress,
      onSubmit: (answers) => this.submitted?.(answers),
    });
    await this.page.start();
    log.info({ url: this.page.url, ssid: this.hotspot.ssid }, 'setup mode');
    this.deps.onPage?.(this.page.url);
    try {
      for (;;) {
        await this.openHotspot();
        const answers = await new Promise<SetupAnswers>((resolve) => (this.submitted = resolve));
        this.submitted = null;
        const saved = await this.tryAnswers(answers);
        if (saved) return saved;
      }
    } finally {
      this.clock.clearTimeout(this.frameTimer);
      await this.page.stop();
      this.page = null;
    }
  }

  /** Scans while the radio is free, then opens the access point; keeps retrying (and saying why) while NetworkManager is unusable. */
  private async openHotspot(): Promise<void> {
    const error = this.failure;
    for (;;) {
      try {
        if (!error) await this.show({ kind: 'scanning' });
        // A scan while the access point is still up finds nothing: keep the list seen before.
        const found = await this.deps.network.scan();
        if (found.length > 0 || this.networks.length === 0) this.networks = found;
        await this.deps.network.startHotspot(this.hotspot.ssid, this.hotspot.password);
        await this.show({ kind: 'hotspot', hotspot: this.hotspot, url: this.page?.url ?? '', error });
        // Only now: the page that polls /status reloads into the form once the phone can reach it again.
        this.progress = { state: 'waiting', error };
        return;
      } catch (failure) {
        const reason = failure instanceof NetworkError ? failure.message : `The access point did not open: ${(failure as Error).message}`;
        this.deps.log.error({ err: reason }, 'setup access point failed');
        await this.show({ kind: 'unavailable', reason: `${reason} Trying again in ${RETRY_UNAVAILABLE_MS / 1000} s.` });
        await new Promise<void>((resolve) => this.clock.setTimeout(resolve, RETRY_UNAVAILABLE_MS));
      }
    }
  }

  /** Saves, leaves the access point, joins; on failure marks setup as needed again and says why. */
  private async tryAnswers(answers: SetupAnswers): Promise<DeviceConfig | null> {
    const { network, log, configFile } = this.deps;
    const ssid = answers.wifi.ssid;
    this.progress = { state: 'connecting', ssid };
    let config: DeviceConfig;
    try {
      config = await saveSetup(configFile, answers);
    } catch (error) {
      this.failure = `The settings could not be saved: ${(error as Error).message}`;
      return null;
    }
    await this.show({ kind: 'connecting', ssid, startedAt: this.clock.now() });
    try {
      await network.stopHotspot();
      await network.connect(answers.wifi);
    } catch (error) {
      const reason = error instanceof NetworkError ? error.message : `The gadget could not join "${ssid}": ${(error as Error).message}`;
      log.warn({ ssid, err: reason }, 'home network failed; back to setup');
      // A restart now must come back to setup, not to a network that does not work.
      await markSetupNeeded(configFile, true);
      this.failure = reason;
      return null;
    }
    this.progress = { state: 'connected', ssid };
    await this.show({ kind: 'connected', ssid });
    log.info({ ssid }, 'setup done');
    return config;
  }

  private animate(): void {
    this.frameTimer = this.clock.setTimeout(() => {
      void this.draw().then(() => {
        if (this.screen.step.kind === 'connecting' && this.frameTimer) this.animate();
      });
    }, PROGRESS_FRAME_MS);
  }

  private draw(): Promise<void> {
    const { config, display, log } = this.deps;
    const state = { ...initialState(config.device.name, config.relay.url), connection: { status: 'offline' as const, detail: 'Setup', retryAt: null } };
    this.drawing = this.drawing.then(async () => {
      try {
        await display.present(this.renderer.render({ screen: this.screen, state, now: this.clock.now() }));
      } catch (error) {
        log.error({ err: (error as Error).message }, 'failed to present a setup frame');
      }
    });
    return this.drawing;
  }
}
