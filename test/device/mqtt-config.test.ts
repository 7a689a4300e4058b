import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../device/config.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

/** The sentences of a refused config. */
function refusal(raw: unknown, baseDir: string): readonly string[] {
  try {
    parseConfig(raw, baseDir);
  } catch (error) {
    if (error instanceof ConfigError && error.code === 'config_invalid') return error.problems;
    throw error;
  }
  throw new Error('the config was accepted');
}

describe('the mqtt section of the device config', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await makeTempDir('leeloo-mqtt-config-');
  });
  afterEach(async () => {
    await removeTempDir(dir);
  });

  it('is off by default, with zigbee2mqtt-like topic defaults', () => {
    expect(parseConfig({}, dir).mqtt).toEqual({
      enabled: false,
      url: null,
      username: null,
      password: null,
      ca: null,
      cert: null,
      key: null,
      baseTopic: 'leeloo',
      discoveryPrefix: 'homeassistant',
      statusTopic: 'homeassistant/status',
      homeassistant: true,
    });
  });

  it('resolves the TLS files against the config folder and takes them when they can be read', async () => {
    for (const name of ['ca.pem', 'cert.pem', 'key.pem']) await writeFile(path.join(dir, name), 'PEM');
    const mqtt = parseConfig(
      { mqtt: { enabled: true, url: 'mqtts://broker.lan:8883', ca: 'ca.pem', cert: 'cert.pem', key: 'key.pem', username: 'leeloo', password: 's3cret' } },
      dir,
    ).mqtt;
    expect(mqtt).toMatchObject({ ca: path.join(dir, 'ca.pem'), cert: path.join(dir, 'cert.pem'), key: path.join(dir, 'key.pem'), username: 'leeloo' });
  });

  it('says what is wrong in words: missing URL, wrong scheme, wildcard topics, unreadable or half TLS', async () => {
    expect(refusal({ mqtt: { enabled: true } }, dir)).toEqual(['mqtt.url must be an mqtt://, mqtts://, ws:// or wss:// URL when mqtt.enabled is true']);
    expect(refusal({ mqtt: { enabled: true, url: 'http://broker' } }, dir)).toEqual(['mqtt.url must be an mqtt://, mqtts://, ws:// or wss:// URL']);
    expect(refusal({ mqtt: { url: 'mqtt://b', baseTopic: 'home/#', statusTopic: 'ha/status/', discoveryPrefix: '' } }, dir)).toEqual([
      'mqtt.baseTopic must be a topic without "+", "#" or a trailing "/"',
      'mqtt.discoveryPrefix must not be empty',
      'mqtt.statusTopic must be a topic without "+", "#" or a trailing "/"',
    ]);
    expect(refusal({ mqtt: { enabled: 'yes', brokr: 'x' } }, dir)).toEqual([
      'mqtt.enabled must be true or false',
      'mqtt.brokr is not a setting (misspelt, or from another version?)',
    ]);
    expect(refusal({ mqtt: { enabled: true, url: 'mqtts://b', ca: 'missing.pem' } }, dir)).toEqual([
      `mqtt.ca cannot be read: ${path.join(dir, 'missing.pem')} (ENOENT)`,
    ]);
    await writeFile(path.join(dir, 'cert.pem'), 'PEM');
    expect(refusal({ mqtt: { enabled: true, url: 'mqtts://b', cert: 'cert.pem' } }, dir)).toEqual(['mqtt.cert and mqtt.key must be given together']);
  });
});
