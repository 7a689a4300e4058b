import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { createCanvas, loadImage, type Image } from '@napi-rs/canvas';
import { imageSize } from 'image-size';

/**
 * Album art is at most 640×640 on Spotify; a crew mate's share may name any image, and a
 * small file can decode to a bitmap the Pi's 512 MB cannot hold. Larger sources are refused
 * from their header, before anything is decoded.
 */
export const MAX_SOURCE_PIXELS = 2048 * 2048;

export interface ArtCacheOptions {
  readonly dir: string;
  /** Edge of the square art box, in pixels: images are stored at this size. */
  readonly size: number;
  /** Bytes on disk; the oldest files go first when over. */
  readonly maxBytes: number;
  /** Biggest download accepted. */
  readonly maxDownloadBytes?: number;
  readonly timeoutMs?: number;
}

/**
 * Album art, downloaded once, resized to the art box with the canvas and kept on disk as
 * PNG under a size cap. `lookup` is synchronous for drawing: it answers from memory and
 * starts a load when the image is not there yet (`onReady` then asks for a redraw).
 */
export class ArtCache {
  private readonly memory = new Map<string, Image>();
  private readonly loading = new Map<string, Promise<Image | null>>();

  constructor(
    private readonly options: ArtCacheOptions,
    private readonly onReady: () => void = () => undefined,
  ) {}

  lookup(url: string): Image | null {
    const image = this.memory.get(url);
    if (image) return image;
    void this.get(url);
    return null;
  }

  /** The resized image for the URL, from memory, disk or the network; null when it cannot be had. */
  get(url: string): Promise<Image | null> {
    const known = this.memory.get(url);
    if (known) return Promise.resolve(known);
    let pending = this.loading.get(url);
    if (!pending) {
      // lookup() does not wait for this promise: it must never reject.
      pending = this.load(url)
        .catch(() => null)
        .finally(() => this.loading.delete(url));
      this.loading.set(url, pending);
    }
    return pending;
  }

  private async load(url: string): Promise<Image | null> {
    const file = path.join(this.options.dir, `${createHash('sha1').update(url).digest('hex')}.png`);
    let bytes: Buffer | null = await fs.readFile(file).catch(() => null);
    if (bytes) {
      const now = new Date();
      await fs.utimes(file, now, now).catch(() => undefined);
    } else {
      bytes = await this.download(url);
      if (!bytes) return null;
      // A full or read-only disk costs the cache, not the picture.
      await this.store(file, bytes).catch(() => undefined);
    }
    const image = await loadImage(bytes).catch(() => null);
    if (!image) return null;
    this.remember(url, image);
    this.onReady();
    return image;
  }

  private async download(url: string): Promise<Buffer | null> {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000) });
      const limit = this.options.maxDownloadBytes ?? 2_000_000;
      if (!response.ok || Number(response.headers.get('content-length') ?? 0) > limit) return null;
      // Art URLs come from crew mates' shares too: read no more than the limit, whatever the server sends.
      const raw = await readAtMost(response, limit);
      return raw ? await this.resize(raw) : null;
    } catch {
      // Unreachable art is drawn as a placeholder; the next lookup tries again.
      return null;
    }
  }

  private async resize(raw: Buffer): Promise<Buffer> {
    const { width, height } = imageSize(raw);
    if (!(width > 0 && height > 0) || width * height > MAX_SOURCE_PIXELS) {
      throw new Error(`album art of ${width}×${height} pixels is larger than the gadget decodes`);
    }
    const source = await loadImage(raw);
    const { size } = this.options;
    const canvas = createCanvas(size, size);
    const g = canvas.getContext('2d');
    // Cover the square: crop the longer side of non-square art.
    const scale = Math.max(size / source.width, size / source.height);
    const w = source.width * scale;
    const h = source.height * scale;
    g.drawImage(source, (size - w) / 2, (size - h) / 2, w, h);
    return canvas.toBuffer('image/png');
  }

  private async store(file: string, bytes: Buffer): Promise<void> {
    await fs.mkdir(this.options.dir, { recursive: true });
    const temp = `${file}.${process.pid}.tmp`;
    await fs.writeFile(temp, bytes);
    await fs.rename(temp, file);
    await this.evict();
  }

  /** Deletes the least recently used files until the directory fits the cap. */
  private async evict(): Promise<void> {
    const names = (await fs.readdir(this.options.dir)).filter((n) => n.endsWith('.png'));
    // Another store may delete a file between readdir and stat.
    const stats = await Promise.all(
      names.map(async (name) => {
        const stat = await fs.stat(path.join(this.options.dir, name)).catch(() => null);
        return stat ? { name, size: stat.size, mtime: stat.mtimeMs } : null;
      }),
    );
    const files = stats.filter((f) => f !== null);
    files.sort((a, b) => a.mtime - b.mtime);
    let total = files.reduce((sum, f) => sum + f.size, 0);
    for (const file of files) {
      if (total <= this.options.maxBytes) break;
      await fs.rm(path.join(this.options.dir, file.name), { force: true });
      total -= file.size;
    }
  }

  private remember(url: string, image: Image): void {
    this.memory.delete(url);
    this.memory.set(url, image);
    // A few decoded images are enough for the screens; the rest stay on disk.
    while (this.memory.size > 8) this.memory.delete(this.memory.keys().next().value!);
  }
}

/** The body, or null when it is longer than `limit` bytes (the download is cancelled there). */
async function readAtMost(response: Response, limit: number): Promise<Buffer | null> {
  if (!response.body) return null;
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of response.body) {
    total += chunk.byteLength;
    if (total > limit) return null;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
