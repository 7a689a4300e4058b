import { DCS, MADCTL, type PanelSpec } from './panel.js';

/** ILI9341, 240×320 (Adafruit PiTFT 2.8" and the many clones); BGR filter order. */
export const ILI9341: PanelSpec = {
  name: 'ili9341',
  nativeWidth: 240,
  nativeHeight: 320,
  defaultSpeedHz: 32_000_000,
  defaultRegWidth: 8,
  bgr: true,
  invert: false,
  init: [
    { cmd: DCS.SWRESET, delayMs: 150 },
    { cmd: 0xef, data: [0x03, 0x80, 0x02] },
    { cmd: 0xcf, data: [0x00, 0xc1, 0x30] }, // power control B
    { cmd: 0xed, data: [0x64, 0x03, 0x12, 0x81] }, // power on sequence
    { cmd: 0xe8, data: [0x85, 0x00, 0x78] }, // driver timing A
    { cmd: 0xcb, data: [0x39, 0x2c, 0x00, 0x34, 0x02] }, // power control A
    { cmd: 0xf7, data: [0x20] }, // pump ratio
    { cmd: 0xea, data: [0x00, 0x00] }, // driver timing B
    { cmd: 0xc0, data: [0x23] }, // power control 1
    { cmd: 0xc1, data: [0x10] }, // power control 2
    { cmd: 0xc5, data: [0x3e, 0x28] }, // VCOM 1
    { cmd: 0xc7, data: [0x86] }, // VCOM 2
    { cmd: 0x37, data: [0x00] }, // vertical scroll start
    { cmd: DCS.COLMOD, data: [0x55] },
    { cmd: 0xb1, data: [0x00, 0x18] }, // frame rate 79 Hz
    { cmd: 0xb6, data: [0x08, 0x82, 0x27] }, // display function control
    { cmd: 0xf2, data: [0x00] }, // 3-gamma off
    { cmd: 0x26, data: [0x01] }, // gamma curve 1
    { cmd: 0xe0, data: [0x0f, 0x31, 0x2b, 0x0c, 0x0e, 0x08, 0x4e, 0xf1, 0x37, 0x07, 0x10, 0x03, 0x0e, 0x09, 0x00] },
    { cmd: 0xe1, data: [0x00, 0x0e, 0x14, 0x03, 0x11, 0x07, 0x31, 0xc1, 0x48, 0x08, 0x0f, 0x0c, 0x31, 0x36, 0x0f] },
    { cmd: DCS.SLPOUT, delayMs: 120 },
  ],
  madctl: {
    0: MADCTL.MX,
    90: MADCTL.MV,
    180: MADCTL.MY,
    270: MADCTL.MX | MADCTL.MY | MADCTL.MV,
  },
};
