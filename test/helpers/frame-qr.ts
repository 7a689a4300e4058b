import jsqr from 'jsqr';
import type { Frame } from '../../device/hardware.js';

/** jsqr is CommonJS: its export is the decoder itself, which also carries itself as `default` (what its types describe). */
const jsQR = jsqr.default;

/** The text of the QR code in a frame, as a phone camera would read it; null when none reads. */
export function readFrameQr(frame: Frame): string | null {
  return jsQR(new Uint8ClampedArray(frame.data), frame.width, frame.height)?.data ?? null;
}
