import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A temp directory laid out like the parts of /sys (and /dev) the drivers read:
 * class/graphics/fbN, class/gpio/gpiochipN, class/backlight/NAME, and
 * module/spidev/parameters/bufsiz. Files hold what the kernel would print.
 */
export class SysfsTree {
  private constructor(readonly root: string) {}

  static async create(): Promise<SysfsTree> {
    return new SysfsTree(await mkdtemp(join(tmpdir(), 'leeloo-sysfs-')));
  }

  get sys(): string {
    return join(this.root, 'sys');
  }

  get dev(): string {
    return join(this.root, 'dev');
  }

  async file(path: string, content: string): Promise<string> {
    const full = join(this.root, path);
    await mkdir(join(full, '..'), { recursive: true });
    await writeFile(full, content.endsWith('\n') || content === '' ? content : `${content}\n`);
    return full;
  }

  async framebuffer(index: number, geometry: { name: string; width: number; height: number; bpp: number; stride?: number }): Promise<string> {
    const dir = `sys/class/graphics/fb${index}`;
    await this.file(`${dir}/name`, geometry.name);
    await this.file(`${dir}/virtual_size`, `${geometry.width},${geometry.height}`);
    await this.file(`${dir}/bits_per_pixel`, String(geometry.bpp));
    await this.file(`${dir}/stride`, String(geometry.stride ?? (geometry.width * geometry.bpp) / 8));
    await this.file(`${dir}/blank`, '0');
    const device = join(this.dev, `fb${index}`);
    await mkdir(this.dev, { recursive: true });
    await writeFile(device, Buffer.alloc((geometry.stride ?? (geometry.width * geometry.bpp) / 8) * geometry.height));
    return device;
  }

  async gpiochip(base: number, label: string, ngpio: number): Promise<void> {
    const dir = `sys/class/gpio/gpiochip${base}`;
    await this.file(`${dir}/base`, String(base));
    await this.file(`${dir}/label`, label);
    await this.file(`${dir}/ngpio`, String(ngpio));
  }

  async backlight(name: string, options: { max: number; blPower: boolean }): Promise<string> {
    const dir = `sys/class/backlight/${name}`;
    await this.file(`${dir}/max_brightness`, String(options.max));
    await this.file(`${dir}/brightness`, String(options.max));
    if (options.blPower) await this.file(`${dir}/bl_power`, '0');
    return join(this.root, dir);
  }

  async spidevBufsiz(bytes: number): Promise<void> {
    await this.file('sys/module/spidev/parameters/bufsiz', String(bytes));
  }

  async remove(): Promise<void> {
    await rm(this.root, { recursive: true, force: true });
  }
}
