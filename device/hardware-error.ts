/**
 * Errors from the hardware drivers. The code is stable (the daemon and the Pi test
 * scripts branch on it); the sentence says what is wrong and what to check.
 */
export type HardwareErrorCode =
  | 'fb_missing'
  | 'fb_geometry'
  | 'fb_format'
  | 'frame_size'
  | 'spi_missing'
  | 'spi_transfer'
  | 'panel_unknown'
  | 'panel_rotation'
  | 'gpio_unavailable'
  | 'gpio_pin'
  | 'gpio_chip_missing'
  | 'backlight_missing'
  | 'backlight_denied'
  | 'input_missing'
  | 'input_event'
  | 'not_started';

export class HardwareError extends Error {
  readonly code: HardwareErrorCode;
  constructor(code: HardwareErrorCode, sentence: string, options?: { cause?: unknown }) {
    super(sentence, options);
    this.name = 'HardwareError';
    this.code = code;
  }
}

/** The errno code of a failed system call, if it was one. */
export function errnoCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : undefined;
}
