/**
 * Writes device/device.schema.json, the JSON Schema of the gadget's config file, from the
 * zod schema in device/config.ts (titles, descriptions, defaults and examples included).
 * Run after changing a device setting: npx tsx scripts/generate-device-schema.ts
 * (test/device/device-schema.test.ts fails while the checked-in file is stale).
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { deviceSchemaText } from '../device/config.js';

const OUT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../device/device.schema.json');
const text = deviceSchemaText();
await writeFile(OUT, text);
process.stdout.write(`wrote ${path.relative(process.cwd(), OUT)} (${text.length} bytes)\n`);
