import { HardwareError } from '../hardware-error.js';
import { ILI9341 } from './ili9341.js';
import { ILI9486 } from './ili9486.js';
import { ST7789 } from './st7789.js';
import { ST7796 } from './st7796.js';
import type { PanelSpec } from './panel.js';

export const PANELS = {
  ili9486: ILI9486,
  st7796: ST7796,
  st7789: ST7789,
  ili9341: ILI9341,
} as const satisfies Record<string, PanelSpec>;

export type PanelName = keyof typeof PANELS;
export const PANEL_NAMES = Object.keys(PANELS) as PanelName[];

export function panelByName(name: string): PanelSpec {
  if (!Object.hasOwn(PANELS, name)) {
    throw new HardwareError('panel_unknown', `Unknown panel "${name}"; supported: ${PANEL_NAMES.join(', ')}.`);
  }
  return PANELS[name as PanelName];
}
