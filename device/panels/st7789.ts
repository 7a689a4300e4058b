import { DCS, MADCTL, type PanelSpec } from './panel.js';

/** ST7789V, 240×320 IPS modules: RGB filter order and inversion on. */
export const ST7789: PanelSpec = {
  name: 'st7789',
  nativeWidth: 240,
  nativeHeight: 320,
  defaultSpeedHz: 40_000_000,
  defaultRegWidth: 8,
  bgr: false,
  invert: true,
  init: [
    { cmd: DCS.SWRESET, delayMs: 150 },
    { cmd: DCS.SLPOUT, delayMs: 120 },
    { cmd: DCS.COLMOD, data: [0x55], delayMs: 10 },
    { cmd: 0xb2, data: [0x0c, 0x0c, 0x00, 0x33, 0x33] }, // porch control
    { cmd: 0xb7, data: [0x35] }, // gate control
    { cmd: 0xbb, data: [0x28] }, // VCOM
    { cmd: 0xc0, data: [0x2c] }, // LCM control
    { cmd: 0xc2, data: [0x01] }, // VDV/VRH enable
    { cmd: 0xc3, data: [0x0b] }, // VRH
    { cmd: 0xc4, data: [0x20] }, // VDV
    { cmd: 0xc6, data: [0x0f] }, // 60 Hz frame rate
    { cmd: 0xd0, data: [0xa4, 0xa1] }, // power control 1
    { cmd: 0x13, delayMs: 10 }, // normal display mode
  ],
  madctl: {
    0: 0x00,
    90: MADCTL.MX | MADCTL.MV,
    180: MADCTL.MX | MADCTL.MY,
    270: MADCTL.MY | MADCTL.MV,
  },
};
