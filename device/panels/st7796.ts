import { DCS, MADCTL, type PanelSpec } from './panel.js';

/** ST7796S, 320×480, the common 3.5"/4" SPI module; plain 8-bit command bus. */
export const ST7796: PanelSpec = {
  name: 'st7796',
  nativeWidth: 320,
  nativeHeight: 480,
  defaultSpeedHz: 32_000_000,
  defaultRegWidth: 8,
  bgr: true,
  invert: false,
  init: [
    { cmd: DCS.SWRESET, delayMs: 120 },
    { cmd: DCS.SLPOUT, delayMs: 120 },
    { cmd: 0xf0, data: [0xc3] }, // command set control: unlock part I
    { cmd: 0xf0, data: [0x96] }, // unlock part II
    { cmd: DCS.COLMOD, data: [0x55] },
    { cmd: 0xb4, data: [0x01] }, // 1-dot inversion
    { cmd: 0xb6, data: [0x80, 0x02, 0x3b] }, // display function control
    { cmd: 0xe8, data: [0x40, 0x8a, 0x00, 0x00, 0x29, 0x19, 0xa5, 0x33] }, // output timing adjust
    { cmd: 0xc1, data: [0x06] }, // power control 2
    { cmd: 0xc2, data: [0xa7] }, // power control 3
    { cmd: 0xc5, data: [0x18], delayMs: 120 }, // VCOM
    { cmd: 0xe0, data: [0xf0, 0x09, 0x0b, 0x06, 0x04, 0x15, 0x2f, 0x54, 0x42, 0x3c, 0x17, 0x14, 0x18, 0x1b] },
    { cmd: 0xe1, data: [0xe0, 0x09, 0x0b, 0x06, 0x04, 0x03, 0x2b, 0x43, 0x42, 0x3b, 0x16, 0x14, 0x17, 0x1b], delayMs: 120 },
    { cmd: 0xf0, data: [0x3c] }, // lock part I
    { cmd: 0xf0, data: [0x69], delayMs: 120 }, // lock part II
  ],
  madctl: {
    0: MADCTL.MX,
    90: MADCTL.MV,
    180: MADCTL.MY,
    270: MADCTL.MX | MADCTL.MY | MADCTL.MV,
  },
};
