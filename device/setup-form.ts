import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { CrewCode, DisplayName } from '../protocol/index.js';
import { writeFileAtomic } from './atomic-file.js';
import { ConfigError, parseConfig, type DeviceConfig } from './config.js';
import type { WifiChoice } from './network.js';

/** What the person typed into the setup page, checked. The Wi-Fi password goes to NetworkManager, never into the config file. */
export interface SetupAnswers {
  readonly wifi: WifiChoice;
  readonly name: string;
  /** null starts a new crew. */
  readonly crewCode: string | null;
  readonly relayUrl: string;
}

export interface FieldError {
  readonly field: 'ssid' | 'password' | 'name' | 'crew' | 'crewCode' | 'relayUrl';
  readonly message: string;
}

export type SetupParse = { ok: true; answers: SetupAnswers } | { ok: false; errors: FieldError[] };

const utf8Length = (text: string): number => Buffer.byteLength(text, 'utf8');

/** A crew code as people type it: any case, stray spaces, with or without the LEELOO- prefix. */
export function normaliseCrewCode(raw: string): string | null {
  const compact = raw.trim().toUpperCase().replace(/\s+/g, '');
  const parsed = CrewCode.safeParse(/^[A-Z0-9]{4}$/.test(compact) ? `LEELOO-${compact}` : compact);
  return parsed.success ? parsed.data : null;
}

function wifiPasswordError(password: string): string | null {
  if (password === '') return null;
  if (/^[0-9a-fA-F]{64}$/.test(password)) return null;
  if (password.length < 8 || password.length > 63) return 'A Wi-Fi password has 8 to 63 characters; leave it empty for an open network.';
  if (!/^[\x20-\x7e]+$/.test(password)) return 'A WPA password uses only letters, digits, spaces and the usual symbols.';
  return null;
}

/** Checks the setup page's fields; every problem gets a sentence next to its field. */
export function parseSetupForm(fields: Readonly<Record<string, string | undefined>>): SetupParse {
  const errors: FieldError[] = [];
  const hidden = fields.ssid === '__hidden__' || fields.hidden === 'yes';
  const ssid = (hidden ? (fields.hiddenSsid ?? '') : (fields.ssid ?? '')).trim();
  if (!ssid) errors.push({ field: 'ssid', message: hidden ? 'Type the name of the hidden network.' : 'Choose your home Wi-Fi network.' });
  else if (utf8Length(ssid) > 32) errors.push({ field: 'ssid', message: 'A Wi-Fi network name has at most 32 bytes.' });
  const password = fields.password ?? '';
  const passwordProblem = wifiPasswordError(password);
  if (passwordProblem) errors.push({ field: 'password', message: passwordProblem });

  const name = DisplayName.safeParse(fields.name ?? '');
  if (!name.success) errors.push({ field: 'name', message: `The gadget's name ${name.error.issues[0]?.message ?? 'is invalid'} (1–32 characters).` });

  let crewCode: string | null = null;
  if (fields.crew === 'join') {
    crewCode = normaliseCrewCode(fields.crewCode ?? '');
    if (!crewCode)
      errors.push({
        field: 'crewCode',
        message:
          "A crew code looks like LEELOO-7KQ2: four letters and digits (no I, O, 0 or 1). Ask a friend in the crew to read theirs from their gadget's menu.",
      });
  } else if (fields.crew !== 'new') {
    errors.push({ field: 'crew', message: 'Choose whether to start a new crew or join one.' });
  }

  const relayUrl = (fields.relayUrl ?? '').trim();
  if (!/^wss?:\/\/[^\s/]+(\/\S*)?$/.test(relayUrl))
    errors.push({ field: 'relayUrl', message: 'The relay address starts with wss:// (or ws://), e.g. wss://leeloo.example.com/ws.' });

  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, answers: { wifi: { ssid, password, hidden }, name: (name as { data: string }).data, crewCode, relayUrl } };
}

/** The config file's JSON, or {} when there is none yet (a new gadget keeps the installer's hardware blocks, if any). */
export async function readRawConfig(file: string): Promise<Record<string, unknown>> {
  try {
    const raw: unknown = JSON.parse(await readFile(file, 'utf8'));
    return typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || error instanceof SyntaxError) return {};
    throw error;
  }
}

/**
 * Writes the answers into the config file: the person's part (relay, name, crew) replaced,
 * everything else (display, buttons, setup's network options) kept, setup marked done.
 * The result is validated before it is written, and written atomically.
 */
export async function saveSetup(file: string, answers: SetupAnswers): Promise<DeviceConfig> {
  const raw = await readRawConfig(file);
  const section = (key: string): Record<string, unknown> => (raw[key] && typeof raw[key] === 'object' ? (raw[key] as Record<string, unknown>) : {});
  const next = {
    ...raw,
    relay: { ...section('relay'), url: answers.relayUrl },
    device: { ...section('device'), name: answers.name, crewCode: answers.crewCode },
    setup: { ...section('setup'), done: true },
  };
  const config = parseConfig(structuredClone(next), path.dirname(path.resolve(file)));
  await writeFileAtomic(file, `${JSON.stringify(next, null, 2)}\n`, 0o640);
  return config;
}

/** Marks the config as needing setup again (a failed home network, a factory reset), keeping only what is not the owner's. */
export async function markSetupNeeded(file: string, keepOwner: boolean): Promise<void> {
  const raw = await readRawConfig(file);
  const setup = raw.setup && typeof raw.setup === 'object' ? raw.setup : {};
  const kept: Record<string, unknown> = keepOwner ? { ...raw } : pick(raw, ['$schema', 'display', 'buttons', 'logLevel', 'dataDir', 'sim', 'update']);
  if (!keepOwner && raw.relay && typeof raw.relay === 'object') {
    // The relay address is the build's (the installer's), not the owner's: keep it as the page's default.
    kept.relay = { url: (raw.relay as Record<string, unknown>).url };
  }
  kept.setup = { ...setup, done: false };
  try {
    parseConfig(structuredClone(kept), path.dirname(path.resolve(file)));
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    // A config that no longer validates keeps nothing but the setup flag.
    await writeFileAtomic(file, `${JSON.stringify({ setup: { done: false } }, null, 2)}\n`, 0o640);
    return;
  }
  await writeFileAtomic(file, `${JSON.stringify(kept, null, 2)}\n`, 0o640);
}

function pick(raw: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(keys.filter((key) => key in raw).map((key) => [key, raw[key]]));
}
