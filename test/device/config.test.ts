import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, deviceJsonSchema, loadConfig, parseConfig } from '../../device/config.js';

function errorsOf(raw: unknown): string[] {
  try {
    parseConfig(raw, '/etc/leeloo');
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return [...(error as ConfigError).problems];
  }
  throw new Error('expected the config to be refused');
}

describe('device config', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'leeloo-config-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('fills every absent property from the defaults and resolves paths against the config file', () => {
    const config = parseConfig({ device: { name: 'Kitchen' } }, '/etc/leeloo');
    expect(config.device).toEqual({ name: 'Kitchen', crewCode: null });
    expect(config.relay.url).toBe('ws://127.0.0.1:8080/ws');
    expect(config.dataDir).toBe('/etc/leeloo/data/device');
    expect(config.sim.mirror.port).toBe(8081);
  });

  it('accepts a crew code in any case and keeps the canonical form', () => {
    expect(parseConfig({ device: { name: 'A', crewCode: ' leeloo-7kq2 ' } }, '/').device.crewCode).toBe('LEELOO-7KQ2');
  });

  it('names the path and the problem of every wrong property', () => {
    const errors = errorsOf({
      relay: { url: 42 },
      device: { name: '', crewCode: 'LEELOO-10OI' },
      display: { driver: 'hdmi' },
      sim: { mirror: { port: 70000 } },
      colour: 'red',
    });
    expect(errors).toEqual([
      'relay.url must be a string',
      'device.name must not be empty',
      'device.crewCode must look like LEELOO-XXXX (letters and digits without I, O, 0, 1)',
      'display.driver must be one of "sim", "fb", "spi"',
      'sim.mirror.port must be at most 65535',
      'colour is not a setting (misspelt, or from another version?)',
    ]);
  });

  it('screen sleep: the no-music rule is off and the asleep poll is 45 s unless set; a poll faster than 10 s is refused', () => {
    const { display } = parseConfig({}, '/');
    expect([display.sleepAfterSeconds, display.sleepWithoutMusicSeconds, display.pollWhileAsleepSeconds]).toEqual([300, 0, 45]);
    expect(parseConfig({ display: { sleepAfterSeconds: 0, sleepWithoutMusicSeconds: 600, pollWhileAsleepSeconds: 0 } }, '/').display).toMatchObject({
      sleepAfterSeconds: 0,
      sleepWithoutMusicSeconds: 600,
      pollWhileAsleepSeconds: 0,
    });
    expect(errorsOf({ display: { sleepWithoutMusicSeconds: -1, pollWhileAsleepSeconds: 5 } })).toEqual([
      'display.sleepWithoutMusicSeconds must be at least 0',
      'display.pollWhileAsleepSeconds must be 0 or at least 10',
    ]);
  });

  it('refuses a relay URL that is not a WebSocket URL', () => {
    expect(errorsOf({ relay: { url: 'http://relay.example.com/ws' } })).toEqual(['relay.url must be a ws:// or wss:// URL']);
  });

  it('refuses a config that is not an object', () => {
    expect(errorsOf([1, 2])).toEqual(['config must be an object']);
  });

  it('documents every property with title, description and examples, and a default unless it is required', () => {
    type Schema = { properties?: Record<string, Schema>; anyOf?: Schema[]; required?: string[] } & Record<string, unknown>;
    const missing: string[] = [];
    let seen = 0;
    const walk = (schema: Schema, where: string) => {
      for (const [key, child] of Object.entries(schema.properties ?? {})) {
        seen++;
        const fields = ['title', 'description', 'examples', ...(schema.required?.includes(key) ? [] : ['default'])];
        for (const field of fields) if (!(field in child)) missing.push(`${where}${key} lacks ${field}`);
        walk(child, `${where}${key}.`);
      }
      // A nullable block (buttons.gpio.rotary) keeps its properties one level down.
      for (const branch of schema.anyOf ?? []) walk(branch, where);
    };
    walk(deviceJsonSchema() as Schema, '');
    expect(missing).toEqual([]);
    expect(seen).toBeGreaterThan(80);
  });

  it('loads a file, and says clearly when it is missing or not JSON', async () => {
    const good = path.join(dir, 'device.json');
    await writeFile(good, JSON.stringify({ device: { name: 'Desk' }, dataDir: 'state' }));
    expect(loadConfig(good).dataDir).toBe(path.join(dir, 'state'));

    expect(() => loadConfig(path.join(dir, 'nope.json'))).toThrow(/No config file at .*nope\.json/);
    const broken = path.join(dir, 'broken.json');
    await writeFile(broken, '{"device": ');
    try {
      loadConfig(broken);
      throw new Error('expected a ConfigError');
    } catch (error) {
      expect((error as ConfigError).code).toBe('config_invalid_json');
      expect((error as Error).message).toMatch(/is not valid JSON/);
    }
  });

  it('ships an example config that validates', () => {
    const example = path.resolve(import.meta.dirname, '../../device/device.example.json');
    expect(loadConfig(example).display.driver).toBe('sim');
  });
});
