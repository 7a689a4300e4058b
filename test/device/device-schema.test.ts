import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { deviceJsonSchema, deviceSchemaText, loadConfig, parseConfig } from '../../device/config.js';

const DEVICE = path.resolve(import.meta.dirname, '../../device');

/** device/device.schema.json is generated from the zod schema (scripts/generate-device-schema.ts) and checked in. */
describe('device/device.schema.json', () => {
  it('is what scripts/generate-device-schema.ts writes from device/config.ts', async () => {
    const checkedIn = await readFile(path.join(DEVICE, 'device.schema.json'), 'utf8');
    // On failure: run `npx tsx scripts/generate-device-schema.ts` and commit the file.
    expect(checkedIn === deviceSchemaText(), 'device/device.schema.json is stale: run npx tsx scripts/generate-device-schema.ts').toBe(true);
  });

  it('documents the defaults the parser applies', () => {
    const properties = deviceJsonSchema().properties as Record<string, { default: unknown }>;
    const documented = Object.fromEntries(Object.entries(properties).map(([key, property]) => [key, property.default]));
    expect(parseConfig(documented, '/etc/leeloo')).toEqual(parseConfig({}, '/etc/leeloo'));
    expect(documented).toMatchObject({ dataDir: './data/device', display: { driver: 'sim', spi: { panel: 'ili9486', dcPin: 24 } }, mqtt: { enabled: false } });
  });

  it('is the schema the example config names, and the example validates', async () => {
    const example = JSON.parse(await readFile(path.join(DEVICE, 'device.example.json'), 'utf8')) as { $schema: string };
    expect(path.resolve(DEVICE, example.$schema)).toBe(path.join(DEVICE, 'device.schema.json'));
    expect(loadConfig(path.join(DEVICE, 'device.example.json')).device.name).toBe('Kitchen');
  });
});
