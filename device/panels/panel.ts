/**
 * What a panel controller needs from the driver: its native (portrait) size, the
 * commands that wake it, and the MADCTL bits that turn its memory into a landscape
 * picture at each rotation. The MIPI DCS commands below are shared by all of them.
 */
export const DCS = {
  SWRESET: 0x01,
  SLPIN: 0x10,
  SLPOUT: 0x11,
  INVOFF: 0x20,
  INVON: 0x21,
  DISPOFF: 0x28,
  DISPON: 0x29,
  CASET: 0x2a,
  RASET: 0x2b,
  RAMWR: 0x2c,
  MADCTL: 0x36,
  COLMOD: 0x3a,
} as const;

/** MADCTL bits: row order, column order, row/column exchange, BGR colour filter order. */
export const MADCTL = { MY: 0x80, MX: 0x40, MV: 0x20, BGR: 0x08 } as const;

export const ROTATIONS = [0, 90, 180, 270] as const;
export type Rotation = (typeof ROTATIONS)[number];

export interface PanelCommand {
  cmd: number;
  data?: readonly number[];
  /** Milliseconds the controller needs before the next command. */
  delayMs?: number;
}

export interface PanelSpec {
  readonly name: string;
  /** Size in the controller's own orientation (rotation 0). */
  readonly nativeWidth: number;
  readonly nativeHeight: number;
  /** The SPI clock the usual boards are run at. */
  readonly defaultSpeedHz: number;
  /** Register width on the wire: 16 for boards with a 16-bit shift register in front of the controller. */
  readonly defaultRegWidth: 8 | 16;
  /** Panels whose colour filters are BGR need the MADCTL BGR bit for RGB565 to come out right. */
  readonly bgr: boolean;
  /** Whether the usual modules need display inversion on (IPS glass usually does). */
  readonly invert: boolean;
  /** Sent after reset; the driver adds MADCTL, inversion and DISPON after it. */
  readonly init: readonly PanelCommand[];
  /** MADCTL without the BGR bit, per rotation. */
  readonly madctl: Readonly<Record<Rotation, number>>;
}

/** Width and height as the panel shows them at this rotation. */
export function rotatedSize(panel: PanelSpec, rotation: Rotation): { width: number; height: number } {
  const swap = rotation === 90 || rotation === 270;
  return swap ? { width: panel.nativeHeight, height: panel.nativeWidth } : { width: panel.nativeWidth, height: panel.nativeHeight };
}

export function madctlValue(panel: PanelSpec, rotation: Rotation, bgr: boolean): number {
  return panel.madctl[rotation] | (bgr ? MADCTL.BGR : 0);
}
