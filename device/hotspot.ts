import { randomInt } from 'node:crypto';
import { CREW_CODE_ALPHABET } from '../protocol/index.js';

/** The gadget's own access point during setup: its name and WPA2 password. */
export interface Hotspot {
  readonly ssid: string;
  readonly password: string;
}

function randomText(length: number): string {
  let text = '';
  for (let i = 0; i < length; i++) text += CREW_CODE_ALPHABET[randomInt(CREW_CODE_ALPHABET.length)];
  return text;
}

/**
 * A fresh name `LEELOO-XXXX` and password for a setup session, from the crew code alphabet
 * (no I, O, 0, 1), so someone who types it off the screen cannot misread it.
 */
export function newHotspot(): Hotspot {
  return { ssid: `LEELOO-${randomText(4)}`, password: randomText(10) };
}

/** `\ ; , : "` are special in the Wi-Fi QR format and get a backslash. */
function escapeWifiField(text: string): string {
  return text.replace(/[\\;,:"]/g, (c) => `\\${c}`);
}

/** The text of a QR code a phone camera offers to join: `WIFI:T:WPA;S:<ssid>;P:<password>;;`. */
export function wifiQrText({ ssid, password }: Hotspot): string {
  return password ? `WIFI:T:WPA;S:${escapeWifiField(ssid)};P:${escapeWifiField(password)};;` : `WIFI:T:nopass;S:${escapeWifiField(ssid)};;`;
}
