import { DCS, MADCTL, type PanelSpec } from './panel.js';

/**
 * ILI9486, 320×480: the Waveshare 3.5" (A) that LEELOO ships with. That board puts a
 * 16-bit shift register in front of the controller, so every command and parameter
 * byte goes out as a 16-bit word (0x00, byte); pixels are 16-bit words anyway. Its
 * overlay runs the bus at 16 MHz. Sequence and MADCTL as in the kernel's fb_ili9486.
 */
export const ILI9486: PanelSpec = {
  name: 'ili9486',
  nativeWidth: 320,
  nativeHeight: 480,
  defaultSpeedHz: 16_000_000,
  defaultRegWidth: 16,
  bgr: true,
  invert: false,
  init: [
    { cmd: 0xb0, data: [0x00] }, // interface mode control
    { cmd: DCS.SLPOUT, delayMs: 250 },
    { cmd: DCS.COLMOD, data: [0x55] }, // 16 bits per pixel
    { cmd: 0xc2, data: [0x44] }, // power control 3
    { cmd: 0xc5, data: [0x00, 0x00, 0x00, 0x00] }, // VCOM control
    { cmd: 0xe0, data: [0x0f, 0x1f, 0x1c, 0x0c, 0x0f, 0x08, 0x48, 0x98, 0x37, 0x0a, 0x13, 0x04, 0x11, 0x0d, 0x00] },
    { cmd: 0xe1, data: [0x0f, 0x32, 0x2e, 0x0b, 0x0d, 0x05, 0x47, 0x75, 0x37, 0x06, 0x10, 0x03, 0x24, 0x20, 0x00] },
    { cmd: 0xe2, data: [0x0f, 0x32, 0x2e, 0x0b, 0x0d, 0x05, 0x47, 0x75, 0x37, 0x06, 0x10, 0x03, 0x24, 0x20, 0x00] },
  ],
  madctl: {
    0: MADCTL.MY,
    90: MADCTL.MV,
    180: MADCTL.MX,
    270: MADCTL.MY | MADCTL.MX | MADCTL.MV,
  },
};
