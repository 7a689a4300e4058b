/**
 * Daemon soak: the gadget's real Controller driving the fb driver on a framebuffer
 * file (a temp sysfs tree stands in for the panel), connected to a child relay, in its
 * own process. Idle for --seconds, then animating for --seconds while a crew friend
 * reacts once a second (each reaction plays the 1 s reaction animation). Prints the
 * gadget's RSS and CPU in each phase, sampled from /proc.
 *
 *   npx tsx scripts/soak-device.ts [--seconds 20]
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { parseConfig } from '../device/config.js';
import { Controller } from '../device/controller.js';
import { createFbDisplay } from '../device/fb-display.js';
import { RelayClient } from '../device/relay-client.js';
import { rssOf, startRelay } from './relay-child.js';

const SELF = fileURLToPath(import.meta.url);
const seconds = Number(process.argv[process.argv.indexOf('--seconds') + 1]) || 20;

/** The gadget process: prints its crew code and device id, then runs until killed. */
async function gadget(relayUrl: string, dir: string): Promise<void> {
  const sys = path.join(dir, 'sys/class/graphics/fb1');
  fs.mkdirSync(sys, { recursive: true });
  for (const [file, value] of Object.entries({ name: 'fb_ili9486', virtual_size: '480,320', bits_per_pixel: '16', stride: '960' }))
    fs.writeFileSync(path.join(sys, file), `${value}\n`);
  fs.writeFileSync(path.join(dir, 'fb1'), Buffer.alloc(960 * 320));
  const config = parseConfig({ relay: { url: relayUrl }, device: { name: 'Soak' }, dataDir: path.join(dir, 'data'), display: { driver: 'fb' } }, dir);
  const display = createFbDisplay({ ...config.display.fb, device: path.join(dir, 'fb1') }, { sysfsRoot: path.join(dir, 'sys') });
  const buttons = { start: async () => {}, stop: async () => {}, onEvent: () => () => undefined };
  const controller = new Controller({ config, display, buttons, log: pino({ level: 'warn' }) });
  controller.onStateChange((state) => {
    if (state.crew && state.deviceId) process.stdout.write(`${JSON.stringify({ crew: state.crew.code, deviceId: state.deviceId })}\n`);
  });
  await controller.start();
}

function cpuTicks(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

async function phase(pid: number, ms: number): Promise<{ cpu: number; rssMb: number }> {
  const ticksPerSecond = 100;
  const startTicks = cpuTicks(pid);
  const start = Date.now();
  const samples: number[] = [];
  while (Date.now() - start < ms) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    samples.push(rssOf(pid).rssMb);
  }
  const cpu = ((cpuTicks(pid) - startTicks) / ticksPerSecond / ((Date.now() - start) / 1000)) * 100;
  return { cpu, rssMb: Math.max(...samples) };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'leeloo-soak-'));
  const relay = await startRelay(path.join(dir, 'relay'));
  const url = `ws://127.0.0.1:${relay.port}/ws`;
  const child = spawn(process.execPath, ['--import', 'tsx', SELF, '--gadget', url, path.join(dir, 'gadget')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const friend = { client: null as RelayClient | null };
  try {
    const ids = await new Promise<{ crew: string; deviceId: string }>((resolve) =>
      readline.createInterface({ input: child.stdout! }).once('line', (line) => resolve(JSON.parse(line) as { crew: string; deviceId: string })),
    );
    friend.client = new RelayClient({ url, deviceName: 'Ana', crewCode: ids.crew, dataDir: path.join(dir, 'ana'), log: pino({ level: 'silent' }) });
    await friend.client.start();
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const idle = await phase(child.pid!, seconds * 1000);
    const reacting = setInterval(() => {
      void friend.client!.send({ type: 'message', msg_type: 'reaction', payload: { reaction: 'love', to_device: ids.deviceId } });
    }, 1000);
    const animating = await phase(child.pid!, seconds * 1000);
    clearInterval(reacting);
    const peak = rssOf(child.pid!).peakMb;
    console.log(
      `soak-device: idle RSS ${idle.rssMb} MB, CPU ${idle.cpu.toFixed(1)} %; animating (a reaction a second) RSS ${animating.rssMb} MB, CPU ${animating.cpu.toFixed(1)} %; peak RSS ${peak} MB (${seconds} s each, fb driver, this machine)`,
    );
  } finally {
    await friend.client?.stop();
    child.kill('SIGTERM');
    relay.child.kill('SIGTERM');
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--gadget') await gadget(process.argv[3]!, process.argv[4]!);
else await main();
