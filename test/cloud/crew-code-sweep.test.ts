import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AddressBudget, addressKey } from '../../cloud/address-budget.js';
import { loadConfig } from '../../cloud/config.js';
import { CREW_CODE_ALPHABET } from '../../protocol/index.js';
import { waitUntil } from '../helpers/wait-until.js';
import { startInProcessRelay, type InProcessRelay } from '../helpers/relay-in-process.js';
import { isType, TestClient, type Frame } from '../helpers/ws-client.js';

const CODE_SPACE = CREW_CODE_ALPHABET.length ** 4;
const DAY = 86_400_000;

/** The best an attacker can do against one budget: try again exactly when told. Returns the tries admitted by `until`. */
function admittedBy(budget: AddressBudget, clock: { now: number }, until: number): number {
  let admitted = 0;
  while (clock.now < until) {
    const verdict = budget.take('198.51.100.9');
    if (verdict.ok) admitted += 1;
    else clock.now += verdict.retryAfterMs;
  }
  return admitted;
}

describe('crew-entry budgets per client address', () => {
  const defaults = loadConfig({}).addressBudgets!;

  it('makes a full sweep of the code space take more than 30 days from one address', () => {
    const clock = { now: 0 };
    const budget = new AddressBudget(defaults.joinFailures, () => clock.now);
    const in30Days = admittedBy(budget, clock, 30 * DAY);
    const sweepDays = (CODE_SPACE / in30Days) * 30;
    expect(in30Days).toBeLessThan(CODE_SPACE);
    expect(sweepDays).toBeGreaterThan(30);
    // The configured rate alone implies it: the back-off only lowers what gets through.
    expect(CODE_SPACE / defaults.joinFailures.perHour / 24).toBeGreaterThan(30);
  });

  it('lets one address create only a few crews an hour, and backs off a hammering one further', () => {
    const clock = { now: 0 };
    const budget = new AddressBudget(defaults.newCrews, () => clock.now);
    const firstDay = admittedBy(budget, clock, DAY);
    expect(firstDay / 24).toBeLessThanOrEqual(defaults.newCrews.perHour + defaults.newCrews.burst / 24);

    const hammered = new AddressBudget(defaults.newCrews, () => clock.now);
    for (let i = 0; i < defaults.newCrews.burst; i += 1) expect(hammered.take('203.0.113.1').ok).toBe(true);
    const waits: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      const verdict = hammered.take('203.0.113.1');
      expect(verdict.ok).toBe(false);
      if (!verdict.ok) waits.push(verdict.retryAfterMs);
    }
    expect(waits).toEqual([...waits].sort((a, b) => a - b));
    expect(waits.at(-1)!).toBeGreaterThan(waits[0]!);
    expect(waits.at(-1)!).toBeLessThanOrEqual(defaults.newCrews.maxBackoffMs);
  });

  it('budgets IPv6 by /64 and IPv4-mapped addresses as IPv4', () => {
    expect(addressKey('2001:db8:1:2::1')).toBe(addressKey('2001:db8:1:2:ffff:ee:dd:cc'));
    expect(addressKey('2001:db8:1:2::1')).not.toBe(addressKey('2001:db8:1:3::1'));
    expect(addressKey('2001:0db8:0001:0002:0:0:0:1')).toBe(addressKey('2001:db8:1:2::9'));
    expect(addressKey('::ffff:192.0.2.4')).toBe('192.0.2.4');
    expect(addressKey('192.0.2.4')).toBe('192.0.2.4');
  });
});

describe('an attacker sweeping crew codes over many connections from one address', () => {
  let relay: InProcessRelay;
  const open: TestClient[] = [];
  const from = async (address: string) => {
    const client = await TestClient.connect(relay.wsUrl, 5000, { 'X-Forwarded-For': address });
    open.push(client);
    return client;
  };
  const hello = (c: TestClient, name: string) => c.request({ type: 'hello', protocol_version: 3, device_name: name }, isType('welcome'));

  beforeAll(async () => {
    relay = await startInProcessRelay({
      env: { TRUST_PROXY: 'loopback', JOIN_FAILURES_BURST: '5', JOIN_FAILURES_PER_HOUR: '60', NEW_CREWS_BURST: '3', NEW_CREWS_PER_HOUR: '3' },
    });
  });
  afterEach(() => {
    for (const client of open.splice(0)) client.ws.terminate();
  });
  afterAll(async () => {
    await relay.close();
  });

  it('gets a handful of answers, then rate_limited on every connection; the crew it aims at never notices', async () => {
    const owner = await from('192.0.2.50');
    await hello(owner, 'Owner');
    const created = await owner.request({ type: 'create_crew', display_name: 'Owner' }, isType('crew_created'));
    const realCode = created.crew_code as string;

    // Each connection from another address inside one /64, as a host choosing fresh addresses would.
    const attackers = await Promise.all(Array.from({ length: 20 }, (_, i) => from(`2001:db8:bad:1::${(i + 1).toString(16)}`)));
    const answers: Frame[] = [];
    let guess = 0;
    for (const attacker of attackers) {
      for (let k = 0; k < 3; k += 1) {
        const code = `LEELOO-${[...(guess++).toString(32).padStart(4, '2')].map((c) => CREW_CODE_ALPHABET[parseInt(c, 32)]).join('')}`;
        if (code === realCode) continue;
        answers.push(await attacker.request({ type: 'join_crew', crew_code: code, display_name: 'Sweep', client_msg_id: `g${guess}` }, isType('error')));
      }
    }
    const failed = answers.filter((a) => a.code === 'invalid_crew_code');
    const refused = answers.filter((a) => a.code === 'rate_limited');
    expect(failed.length).toBe(5);
    expect(refused.length).toBe(answers.length - 5);
    for (const r of refused) expect(r).toMatchObject({ retry_after_ms: expect.any(Number), client_msg_id: expect.any(String), ref_type: 'join_crew' });

    // Spent, the address is refused even for the right code: refusals tell nothing about which codes exist.
    const lucky = await from('2001:db8:bad:1:ffff::1');
    lucky.send({ type: 'join_crew', crew_code: realCode, display_name: 'Sweep' });
    expect(await lucky.next(isType('error'))).toMatchObject({ code: 'rate_limited' });

    // A member from elsewhere joins with the code, and mistypes once, as before.
    const member = await from('192.0.2.51');
    await hello(member, 'Member');
    member.send({ type: 'join_crew', crew_code: 'LEELOO-ZZZZ', display_name: 'Member' });
    expect(await member.next(isType('error'))).toMatchObject({ code: 'invalid_crew_code' });
    await member.request({ type: 'join_crew', crew_code: realCode, display_name: 'Member' }, isType('crew_joined'));

    const metrics = relay.relay.metrics;
    expect(await metrics.addressBudgetRefusals.get({ budget: 'join_failures' })).toBe(refused.length + 1);
    expect(await metrics.registry.getSingleMetricAsString('leeloo_addresses_backing_off')).toMatch(/leeloo_addresses_backing_off 1/);
  });

  it('squats only a few codes with first-generation register and create_crew', async () => {
    const squatters = await Promise.all(Array.from({ length: 10 }, () => from('198.51.100.20')));
    const answers: Frame[] = [];
    for (const [i, s] of squatters.entries()) {
      s.send({ type: 'register', device_id: `squat-${i}`, device_name: 'Squat', crew_code: `LEELOO-S${'ABCDEFGHJK'[i]}QT` });
      answers.push(await s.next((f) => f.type === 'registered' || f.type === 'error'));
    }
    const more = await from('198.51.100.20');
    await hello(more, 'Squat');
    more.send({ type: 'create_crew', display_name: 'Squat', client_msg_id: 'c1' });
    answers.push(await more.next((f) => f.type === 'crew_created' || f.type === 'error'));
    const crewsMade = (await Promise.all(Array.from({ length: 10 }, (_, i) => relay.store.crews.getCrewByCode(`LEELOO-S${'ABCDEFGHJK'[i]}QT`)))).filter(
      Boolean,
    );
    expect(crewsMade.length).toBe(3);
    expect(answers.filter((a) => a.type === 'error').map((a) => a.code)).toEqual(Array(8).fill('rate_limited'));
  });
});

describe('careless and greedy clients: anonymous sockets and connections per address', () => {
  let relay: InProcessRelay;

  beforeAll(async () => {
    relay = await startInProcessRelay({ env: { TRUST_PROXY: 'loopback', IDENTIFY_TIMEOUT_MS: '300', MAX_CONNECTIONS_PER_ADDRESS: '5' } });
  });
  afterAll(async () => {
    await relay.close();
  });

  it('closes a socket that never identifies, and keeps one that did', async () => {
    const silent = await TestClient.connect(relay.wsUrl, 5000, { 'X-Forwarded-For': '192.0.2.70' });
    const speaker = await TestClient.connect(relay.wsUrl, 5000, { 'X-Forwarded-For': '192.0.2.71' });
    await speaker.request({ type: 'hello', protocol_version: 3, device_name: 'Speaker' }, isType('welcome'));
    expect((await silent.closed).code).toBe(1008);
    await speaker.barrier();
    speaker.ws.terminate();
  });

  it('refuses the sixth connection from one address with 429, not from another, and frees the slot on close', async () => {
    const mine = await Promise.all(
      Array.from({ length: 5 }, (_, i) => TestClient.connect(relay.wsUrl, 5000, { 'X-Forwarded-For': `2001:db8:aa:1::${i + 1}` })),
    );
    await expect(TestClient.connect(relay.wsUrl, 5000, { 'X-Forwarded-For': '2001:db8:aa:1:ffff::9' })).rejects.toThrow(/429/);
    const other = await TestClient.connect(relay.wsUrl, 5000, { 'X-Forwarded-For': '2001:db8:bb:1::1' });
    mine[0]!.ws.close();
    await mine[0]!.closed;
    // The slot frees when the TCP socket closes, just after the client saw the close frame.
    let again: TestClient | undefined;
    await waitUntil(
      async () => (again = await TestClient.connect(relay.wsUrl, 5000, { 'X-Forwarded-For': '2001:db8:aa:1::77' }).catch(() => undefined)) !== undefined,
      'a free slot',
    );
    for (const c of [...mine, other, again!]) c.ws.terminate();
  });
});
