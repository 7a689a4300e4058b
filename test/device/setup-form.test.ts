import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readBootHold } from '../../device/boot-hold.js';
import { loadConfig } from '../../device/config.js';
import { factoryReset } from '../../device/factory-reset.js';
import type { ButtonEvent, ButtonName, Buttons } from '../../device/hardware.js';
import { NmcliNetwork } from '../../device/network.js';
import { markSetupNeeded, normaliseCrewCode, parseSetupForm, saveSetup } from '../../device/setup-form.js';
import { FakeNmcli } from '../fakes/fake-nmcli.js';
import { ManualClock } from '../fakes/manual-clock.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const GOOD = { ssid: 'Home', password: 'correct horse', name: 'Kitchen', crew: 'new', relayUrl: 'wss://relay.example.com/ws' };

describe('the setup form', () => {
  it('accepts a complete form and normalises the crew code as the relay does', () => {
    const parsed = parseSetupForm({ ...GOOD, crew: 'join', crewCode: ' leeloo-7kq2 ' });
    expect(parsed).toEqual({
      ok: true,
      answers: {
        wifi: { ssid: 'Home', password: 'correct horse', hidden: false },
        name: 'Kitchen',
        crewCode: 'LEELOO-7KQ2',
        relayUrl: 'wss://relay.example.com/ws',
      },
    });
    expect(normaliseCrewCode('7kq2')).toBe('LEELOO-7KQ2');
    expect(normaliseCrewCode('LEELOO-7KQ1')).toBeNull();
    expect(parseSetupForm({ ...GOOD, password: '' }).ok).toBe(true); // an open network
    expect(parseSetupForm({ ...GOOD, password: 'a'.repeat(64).replace(/a/g, 'f') }).ok).toBe(true); // a 64-hex PSK
  });

  it('says what is wrong with each field, in sentences', () => {
    const parsed = parseSetupForm({
      ssid: '__hidden__',
      hiddenSsid: ' ',
      password: 'ünïcødé-pw',
      name: 'a\u0007b',
      crew: 'join',
      crewCode: 'LEELOO-0000',
      relayUrl: 'http://relay',
    });
    expect(parsed.ok).toBe(false);
    const errors = parsed.ok ? [] : parsed.errors;
    expect(errors.map((e) => e.field)).toEqual(['ssid', 'password', 'name', 'crewCode', 'relayUrl']);
    expect(errors[0]?.message).toBe('Type the name of the hidden network.');
    for (const error of errors) expect(error.message).toMatch(/^[A-Z].{15,}\.$/);
    const long = parseSetupForm({ ...GOOD, ssid: 'é'.repeat(17), crew: undefined });
    expect(long.ok ? [] : long.errors.map((e) => e.message)).toEqual([
      'A Wi-Fi network name has at most 32 bytes.',
      'Choose whether to start a new crew or join one.',
    ]);
  });
});

describe('saving the config', () => {
  let dir: string;
  let file: string;
  beforeEach(async () => {
    dir = await makeTempDir();
    file = path.join(dir, 'device.json');
  });
  afterEach(() => removeTempDir(dir));

  it('keeps the hardware blocks, replaces the owner part, validates and leaves no temp file', async () => {
    await writeFile(
      file,
      JSON.stringify({ display: { driver: 'sim', sleepAfterSeconds: 90 }, setup: { done: false, network: 'nmcli' }, device: { name: 'Old' } }),
    );
    const parsed = parseSetupForm({ ...GOOD, crew: 'join', crewCode: 'LEELOO-7KQ2' });
    if (!parsed.ok) throw new Error('form refused');
    const config = await saveSetup(file, parsed.answers);
    expect(config.device).toEqual({ name: 'Kitchen', crewCode: 'LEELOO-7KQ2' });
    const written = JSON.parse(await readFile(file, 'utf8'));
    expect(written).toEqual({
      display: { driver: 'sim', sleepAfterSeconds: 90 },
      setup: { done: true, network: 'nmcli' },
      device: { name: 'Kitchen', crewCode: 'LEELOO-7KQ2' },
      relay: { url: 'wss://relay.example.com/ws' },
    });
    expect(loadConfig(file).setup.done).toBe(true);
    expect(await readdir(dir)).toEqual(['device.json']);
  });

  it('refuses answers that would make the config invalid and leaves the file as it was', async () => {
    const before = JSON.stringify({ display: { driver: 'sim' }, buttons: { driver: 'sim', longPressMs: 10 } });
    await writeFile(file, before);
    const parsed = parseSetupForm(GOOD);
    if (!parsed.ok) throw new Error('form refused');
    await expect(saveSetup(file, parsed.answers)).rejects.toThrow('buttons.longPressMs must be at least 200');
    expect(await readFile(file, 'utf8')).toBe(before);
    expect(await readdir(dir)).toEqual(['device.json']);
  });

  it('marks setup as needed again, with or without the owner part', async () => {
    await writeFile(
      file,
      JSON.stringify({
        relay: { url: 'wss://r.example/ws', pingIntervalSeconds: 30 },
        device: { name: 'Kitchen', crewCode: 'LEELOO-7KQ2' },
        display: { driver: 'sim' },
        setup: { done: true, network: 'nmcli' },
      }),
    );
    await markSetupNeeded(file, true);
    expect(JSON.parse(await readFile(file, 'utf8'))).toMatchObject({ device: { name: 'Kitchen' }, setup: { done: false, network: 'nmcli' } });
    await markSetupNeeded(file, false);
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({
      relay: { url: 'wss://r.example/ws' },
      display: { driver: 'sim' },
      setup: { done: false, network: 'nmcli' },
    });
  });
});

describe('factory reset', () => {
  let dir: string;
  afterEach(() => removeTempDir(dir));

  it('forgets the owner: config part, identity, outbox, caches and saved Wi-Fi; keeps the hardware and the data directory', async () => {
    dir = await makeTempDir();
    const file = path.join(dir, 'device.json');
    const data = path.join(dir, 'data');
    await mkdir(path.join(data, 'art'), { recursive: true });
    for (const name of ['identity.json', 'outbox.json', 'last-seq.json', 'feed.json', 'art/ab.jpg']) await writeFile(path.join(data, name), 'x');
    await writeFile(
      file,
      JSON.stringify({
        device: { name: 'Kitchen', crewCode: 'LEELOO-7KQ2' },
        dataDir: './data',
        display: { driver: 'sim', sleepAfterSeconds: 60 },
        setup: { done: true, network: 'nmcli' },
      }),
    );
    const fake = await FakeNmcli.install(dir, { networks: [], passwords: {}, state: 'connected', saved: ['Home'] });
    await factoryReset(file, loadConfig(file), new NmcliNetwork({ ifname: 'wlan0', env: fake.env }));
    expect(await readdir(data)).toEqual([]);
    const config = loadConfig(file);
    expect(config.setup.done).toBe(false);
    expect(config.device).toEqual({ name: 'LEELOO', crewCode: null });
    expect(config.display.sleepAfterSeconds).toBe(60);
    expect((await fake.scenario()).saved).toEqual([]);
  });
});

/** Buttons the test presses; events arrive asynchronously, like GPIO edges. */
class TestButtons implements Buttons {
  private listeners = new Set<(event: ButtonEvent) => void>();
  constructor(private readonly clock: ManualClock) {}
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  onEvent(listener: (event: ButtonEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  emit(kind: 'long_press' | 'release' | 'press', button: ButtonName): void {
    for (const listener of this.listeners) listener({ kind, button, at: this.clock.now() });
  }
}

describe('the boot hold of ◀ and ▶', () => {
  function start() {
    const clock = new ManualClock();
    const buttons = new TestButtons(clock);
    const steps: number[] = [];
    const choice = readBootHold({ buttons, longPressMs: 700, clock, onProgress: (step) => steps.push(step.heldMs) });
    return { clock, buttons, steps, choice };
  }

  it('starts normally when nothing is held during the window', async () => {
    const { clock, choice } = start();
    clock.advance(4000);
    expect(await choice).toBe('normal');
  });

  it('one button held, or both released early: normal', async () => {
    const { clock, buttons, choice } = start();
    buttons.emit('long_press', 'prev');
    clock.advance(4000);
    expect(await choice).toBe('normal');
    const second = start();
    second.buttons.emit('long_press', 'prev');
    second.buttons.emit('long_press', 'next');
    second.clock.advance(1000);
    second.buttons.emit('release', 'next');
    expect(await second.choice).toBe('normal');
  });

  it('held 3 s and let go: setup mode, with the progress on screen', async () => {
    const { clock, buttons, steps, choice } = start();
    clock.advance(500);
    buttons.emit('long_press', 'prev');
    buttons.emit('long_press', 'next');
    for (let i = 0; i < 10; i++) clock.advance(250);
    buttons.emit('release', 'prev');
    expect(await choice).toBe('setup');
    expect(steps[0]).toBe(700);
    expect(steps.at(-1)).toBe(3200);
  });

  it('held 10 s: factory reset, without waiting for the release', async () => {
    const { clock, buttons, choice } = start();
    buttons.emit('long_press', 'next');
    buttons.emit('long_press', 'prev');
    for (let i = 0; i < 40; i++) clock.advance(250);
    expect(await choice).toBe('factory_reset');
  });
});
