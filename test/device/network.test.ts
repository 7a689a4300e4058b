import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NetworkError, NmcliNetwork, parseWifiList, splitTerse } from '../../device/network.js';
import { FakeNmcli } from '../fakes/fake-nmcli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const NETWORKS = [
  { ssid: 'Home:5G', signal: 81, security: 'WPA2' },
  { ssid: 'Café \\ Guest', signal: 40, security: '' },
  { ssid: 'Home:5G', signal: 55, security: 'WPA2' },
  { ssid: 'Neighbour', signal: 62, security: 'WPA1 WPA2' },
];

describe('nmcli terse output', () => {
  it('splits on unescaped colons only and unescapes \\: and \\\\', () => {
    expect(splitTerse('My\\:Net:72:WPA2')).toEqual(['My:Net', '72', 'WPA2']);
    expect(splitTerse('back\\\\slash::')).toEqual(['back\\slash', '', '']);
  });

  it('drops hidden networks, keeps the strongest of each name, sorts by signal', () => {
    const list = parseWifiList('Home\\:5G:55:WPA2\n:90:WPA2\nHome\\:5G:81:WPA2\nOpen:30:\nOld:20:--\n');
    expect(list).toEqual([
      { ssid: 'Home:5G', signal: 81, security: 'WPA2' },
      { ssid: 'Open', signal: 30, security: '' },
      { ssid: 'Old', signal: 20, security: '' },
    ]);
  });
});

describe('NmcliNetwork against a fake nmcli on PATH', () => {
  let dir: string;
  let fake: FakeNmcli;
  let network: NmcliNetwork;

  beforeEach(async () => {
    dir = await makeTempDir();
    fake = await FakeNmcli.install(dir, {
      networks: NETWORKS,
      passwords: { 'Home:5G': 'correct horse', 'Café \\ Guest': '', Attic: 'hidden-pw' },
      state: 'disconnected',
    });
    network = new NmcliNetwork({ ifname: 'wlan0', env: fake.env, waitSeconds: 5 });
  });
  afterEach(() => removeTempDir(dir));

  it('scans with a rescan and reads names with colons and backslashes', async () => {
    const list = await network.scan();
    expect(list.map((n) => n.ssid)).toEqual(['Home:5G', 'Neighbour', 'Café \\ Guest']);
    expect(await fake.calls()).toEqual([['-t', '-f', 'SSID,SIGNAL,SECURITY', 'device', 'wifi', 'list', 'ifname', 'wlan0', '--rescan', 'yes']]);
  });

  it('opens and closes the hotspot; a scan while it is up finds nothing', async () => {
    await network.startHotspot('LEELOO-7KQ2', 'sunny-otter-42');
    expect((await fake.scenario()).hotspot).toEqual({ ssid: 'LEELOO-7KQ2', password: 'sunny-otter-42' });
    expect(await network.scan()).toEqual([]);
    await network.stopHotspot();
    await network.stopHotspot(); // already closed: not an error
    expect((await fake.scenario()).hotspot).toBeNull();
    expect((await fake.calls())[0]).toEqual([
      'device',
      'wifi',
      'hotspot',
      'ifname',
      'wlan0',
      'con-name',
      'leeloo-setup',
      'ssid',
      'LEELOO-7KQ2',
      'password',
      'sunny-otter-42',
    ]);
  });

  it('joins a network, an open one without a password and a hidden one with hidden yes', async () => {
    await network.connect({ ssid: 'Home:5G', password: 'correct horse', hidden: false });
    expect((await fake.scenario()).connectedTo).toBe('Home:5G');
    expect(await network.waitOnline(0)).toBe(true);
    await network.connect({ ssid: 'Café \\ Guest', password: '', hidden: false });
    await network.connect({ ssid: 'Attic', password: 'hidden-pw', hidden: true });
    const calls = await fake.calls();
    expect(calls[0]).toEqual(['--wait', '5', 'device', 'wifi', 'connect', 'Home:5G', 'password', 'correct horse', 'ifname', 'wlan0']);
    expect(calls[2]).toEqual(['--wait', '5', 'device', 'wifi', 'connect', 'Café \\ Guest', 'ifname', 'wlan0']);
    expect(calls[3]).toEqual(['--wait', '5', 'device', 'wifi', 'connect', 'Attic', 'password', 'hidden-pw', 'ifname', 'wlan0', 'hidden', 'yes']);
  });

  it('forgets every saved Wi-Fi profile and nothing else', async () => {
    await network.connect({ ssid: 'Home:5G', password: 'correct horse', hidden: false });
    await network.startHotspot('LEELOO-7KQ2', 'sunny-otter-42');
    await fake.update({ saved: [...((await fake.scenario()).saved ?? []), 'Old: office'] });
    await network.forgetWifi();
    const after = await fake.scenario();
    expect(after.saved).toEqual([]);
    expect(after.hotspot).toBeNull();
    const deletes = (await fake.calls()).filter((args) => args[1] === 'delete').map((args) => args[3]);
    expect(deletes).toEqual(['leeloo-setup', 'Home:5G', 'Old: office']);
  });

  it('turns nmcli failures into codes and sentences', async () => {
    const wrong = await network.connect({ ssid: 'Home:5G', password: 'nope', hidden: false }).catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(NetworkError);
    expect(wrong).toMatchObject({ code: 'wifi_wrong_password' });
    expect((wrong as Error).message).toContain('refused the password');
    const missing = await network.connect({ ssid: 'Attic', password: 'hidden-pw', hidden: false }).catch((e: unknown) => e);
    expect(missing).toMatchObject({ code: 'wifi_not_found' });
    expect((missing as Error).message).toContain('"Attic"');
    await fake.update({ managerDown: true });
    await expect(network.scan()).rejects.toMatchObject({ code: 'network_unavailable' });
    expect(await network.waitOnline(0)).toBe(false);
  });

  it('says offline when disconnected and when nmcli is missing', async () => {
    expect(await network.waitOnline(0)).toBe(false);
    const none = new NmcliNetwork({ ifname: 'wlan0', command: `${dir}/no-such-nmcli` });
    await expect(none.scan()).rejects.toMatchObject({ code: 'network_unavailable' });
  });
});
