import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * A fake `nmcli` executable for tests: a node script written into a bin directory that
 * goes first on PATH. It records every call (JSON lines), answers from a scenario file it
 * also updates (hotspot up, connected network), after a short delay like the real one, and
 * fails with NetworkManager's real messages and exit codes:
 *   10 `Error: No network with SSID 'X' found.`
 *    4 `Error: Connection activation failed: (7) Secrets were required, but not provided.`
 *    8 `Error: NetworkManager is not running.`
 * While the hotspot is up the radio cannot scan: `device wifi list` shows nothing.
 */
export interface NmcliScenario {
  /** What a scan finds: `ssid`, `signal`, `security` ('' open). Names may hold ':' and '\'. */
  networks: { ssid: string; signal: number; security: string }[];
  /** The password each network accepts; '' for open ones. Hidden networks are listed here but not in `networks`. */
  passwords: Record<string, string>;
  /** `general STATE` at start: 'connected', 'disconnected', 'connecting'. */
  state: string;
  /** NetworkManager down: every call exits 8. */
  managerDown?: boolean;
  /** Filled in by the fake. */
  hotspot?: { ssid: string; password: string } | null;
  connectedTo?: string | null;
  /** Saved Wi-Fi profiles (a successful connect saves one). */
  saved?: string[];
}

export interface NmcliCall {
  readonly args: string[];
}

const SCRIPT = String.raw`#!/usr/bin/env node
const fs = require('node:fs');
const file = process.env.FAKE_NMCLI_SCENARIO;
const args = process.argv.slice(2);
fs.appendFileSync(process.env.FAKE_NMCLI_CALLS, JSON.stringify({ args }) + '\n');
const s = JSON.parse(fs.readFileSync(file, 'utf8'));
// Atomic, as the test reads the scenario while nmcli runs.
const save = () => { fs.writeFileSync(file + '.' + process.pid, JSON.stringify(s)); fs.renameSync(file + '.' + process.pid, file); };
const escape = (v) => String(v).replace(/\\/g, '\\\\').replace(/:/g, '\\:');
const after = (ms, fn) => setTimeout(fn, ms);
function fail(code, text) { process.stderr.write(text + '\n'); process.exit(code); }
function value(name) { const i = args.indexOf(name); return i < 0 ? undefined : args[i + 1]; }
after(5 + Math.floor(Math.random() * 15), () => {
  if (s.managerDown) fail(8, 'Error: NetworkManager is not running.');
  const rest = args.filter((a, i) => !(a === '--wait' || args[i - 1] === '--wait') && a !== '-t' && a !== '-f' && !(args[i - 1] === '-f'));
  const cmd = rest.slice(0, 3).join(' ');
  if (rest[0] === 'general') {
    process.stdout.write((s.connectedTo ? 'connected' : s.state) + '\n');
    return;
  }
  if (cmd === 'device wifi list') {
    if (s.hotspot) return;
    for (const n of s.networks) process.stdout.write([escape(n.ssid), n.signal, n.security ? escape(n.security) : ''].join(':') + '\n');
    return;
  }
  if (cmd === 'device wifi hotspot') {
    const password = value('password');
    if (!password || password.length < 8) fail(2, "Error: Invalid 'password': '" + password + "' is not valid WPA PSK.");
    s.hotspot = { ssid: value('ssid'), password };
    s.connectedTo = null;
    save();
    process.stdout.write("Device '" + value('ifname') + "' successfully activated with 'b3e2c1d0-0000-4000-8000-00000000feed'.\n");
    process.stdout.write('Hint: "nmcli dev wifi show-password" shows the Wi-Fi name and password.\n');
    return;
  }
  if (rest[0] === 'connection' && rest[1] === 'show') {
    if (s.hotspot) process.stdout.write('leeloo-setup:802-11-wireless\n');
    for (const name of s.saved) process.stdout.write(escape(name) + ':802-11-wireless\n');
    process.stdout.write('Wired connection 1:802-3-ethernet\nlo:loopback\n');
    return;
  }
  if (rest[0] === 'connection' && rest[1] === 'delete') {
    const name = rest[2] === 'id' ? rest[3] : rest[2];
    if (name === 'leeloo-setup' && s.hotspot) s.hotspot = null;
    else if (s.saved.includes(name)) { s.saved = s.saved.filter((n) => n !== name); if (s.connectedTo === name) s.connectedTo = null; }
    else fail(10, "Error: unknown connection '" + name + "'.\nError: cannot delete unknown connection(s): '" + name + "'.");
    save();
    process.stdout.write("Connection '" + name + "' (b3e2c1d0-0000-4000-8000-00000000feed) successfully deleted.\n");
    return;
  }
  if (cmd === 'device wifi connect') {
    const ssid = rest[3];
    const hidden = value('hidden') === 'yes';
    const visible = s.networks.some((n) => n.ssid === ssid);
    if (!(ssid in s.passwords) || (!visible && !hidden)) fail(10, "Error: No network with SSID '" + ssid + "' found.");
    if ((value('password') ?? '') !== s.passwords[ssid]) fail(4, 'Error: Connection activation failed: (7) Secrets were required, but not provided.');
    s.hotspot = null;
    s.connectedTo = ssid;
    if (!s.saved.includes(ssid)) s.saved.push(ssid);
    save();
    process.stdout.write("Device '" + value('ifname') + "' successfully activated with 'a1b2c3d4-0000-4000-8000-000000000001'.\n");
    return;
  }
  fail(2, "Error: argument '" + rest.join(' ') + "' not understood. Try passing --help instead.");
});
`;

export class FakeNmcli {
  private constructor(
    readonly binDir: string,
    private readonly scenarioFile: string,
    private readonly callsFile: string,
  ) {}

  /** Writes the fake into `dir` (its `bin/nmcli`) with the scenario. */
  static async install(dir: string, scenario: NmcliScenario): Promise<FakeNmcli> {
    const binDir = path.join(dir, 'bin');
    await mkdir(binDir, { recursive: true });
    const fake = new FakeNmcli(binDir, path.join(dir, 'nmcli-scenario.json'), path.join(dir, 'nmcli-calls.jsonl'));
    await writeFile(path.join(binDir, 'nmcli'), SCRIPT);
    await chmod(path.join(binDir, 'nmcli'), 0o755);
    await writeFile(fake.scenarioFile, JSON.stringify({ hotspot: null, connectedTo: null, saved: [], ...scenario }));
    await writeFile(fake.callsFile, '');
    return fake;
  }

  /** The environment that finds this nmcli first. */
  get env(): NodeJS.ProcessEnv {
    return { ...process.env, PATH: `${this.binDir}:${process.env.PATH ?? ''}`, FAKE_NMCLI_SCENARIO: this.scenarioFile, FAKE_NMCLI_CALLS: this.callsFile };
  }

  async calls(): Promise<string[][]> {
    const text = await readFile(this.callsFile, 'utf8');
    return text
      .split('\n')
      .filter(Boolean)
      .map((line) => (JSON.parse(line) as NmcliCall).args);
  }

  async scenario(): Promise<NmcliScenario> {
    return JSON.parse(await readFile(this.scenarioFile, 'utf8')) as NmcliScenario;
  }

  async update(change: Partial<NmcliScenario>): Promise<void> {
    await writeFile(this.scenarioFile, JSON.stringify({ ...(await this.scenario()), ...change }));
  }
}
