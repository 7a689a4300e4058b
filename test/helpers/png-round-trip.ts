import { createCanvas, loadImage } from '@napi-rs/canvas';
import type { Frame } from '../../device/hardware.js';

export type Rgb = [number, number, number];

/** A frame as the mirror page sees it: encoded to PNG and decoded again. */
export interface DecodedFrame {
  readonly width: number;
  readonly height: number;
  /** RGBA, row by row. */
  readonly data: Uint8ClampedArray;
  /** Red, green and blue of one pixel. */
  at(x: number, y: number): Rgb;
}

export async function throughPng(frame: Frame): Promise<DecodedFrame> {
  const canvas = createCanvas(frame.width, frame.height);
  const g = canvas.getContext('2d');
  const image = g.createImageData(frame.width, frame.height);
  image.data.set(frame.data);
  g.putImageData(image, 0, 0);
  const decoded = await loadImage(await canvas.encode('png'));
  const back = createCanvas(decoded.width, decoded.height).getContext('2d');
  back.drawImage(decoded, 0, 0);
  const { width, height } = decoded;
  const data = back.getImageData(0, 0, width, height).data;
  const at = (x: number, y: number): Rgb => {
    const i = (y * width + x) * 4;
    return [data[i]!, data[i + 1]!, data[i + 2]!];
  };
  return { width, height, data, at };
}
