import { ProtocolError, type Generation, type InboundOf } from '../protocol/index.js';
import type { CoreDeps, Crews } from './crews.js';
import { deviceSecretMatches, hashDeviceSecret, isLegacyId, newDeviceId, newDeviceSecret, PHONE_DEVICE_ID_PREFIX } from './device-credentials.js';
import type { Session } from './sessions.js';

/** Close code sent after `unauthorized`: the device must not retry without its secret. */
export const CLOSE_UNAUTHORIZED = 4001;
/** Close code for a socket replaced by a newer connection of the same device. */
export const CLOSE_REPLACED = 4002;
/** Close code for a device's socket when the operator resets its credential (it reconnects and gets a new secret). */
export const CLOSE_CREDENTIAL_RESET = 4003;

/**
 * Who is on a socket. The current protocol gets a device secret on first contact and must
 * present it afterwards; older generations cannot hold one, so they keep their secretless
 * ids but can never claim an id that has a secret.
 */
export class Identity {
  private readonly deps: CoreDeps;
  private readonly crews: Crews;

  constructor(deps: CoreDeps, crews: Crews) {
    this.deps = deps;
    this.crews = crews;
  }

  async hello(session: Session, message: InboundOf<'hello'>): Promise<void> {
    if (session.gen !== null) throw new ProtocolError('conflict', 'This connection has already identified itself.');
    if (message.protocol_version < 3) {
      throw new ProtocolError(
        'unsupported_version',
        `hello needs protocol_version 3 or newer; version ${message.protocol_version} uses register or create_crew/join_crew.`,
      );
    }
    const deviceId = await this.currentProtocolId(message.device_id, true);
    const issued = await this.authenticate(session, deviceId, message.device_name, message.device_secret, 3, undefined);
    if (issued === false) return;
    const membership = await this.deps.store.crews.getMembership(session.deviceId!);
    const crew = membership ? await this.deps.store.crews.getCrew(membership.crewId) : null;
    const state = crew ? await this.crews.state(crew.crewId) : null;
    session.send({
      type: 'welcome',
      protocol_version: 3,
      device_id: session.deviceId!,
      ...(issued ? { device_secret: issued } : {}),
      crew: state,
      server_time: Date.now(),
      rate_limit: { per_second: this.deps.config.rateLimit.perSecond, burst: this.deps.config.rateLimit.burst },
    });
    // A returning device resumes from its own last seq: live events wait for that (or its next frame).
    if (crew && state) await this.crews.goOnline(session, crew, state.latest_seq, true, true);
  }

  /**
   * Checks the device's credential and binds the session to it. Returns the newly issued
   * secret (current protocol only), null when none was issued, or false after refusing.
   * `crewCode` is the code the message names (register), the proof an older gadget's id
   * needs before it is given a secret.
   */
  async authenticate(
    session: Session,
    deviceId: string,
    displayName: string,
    secret: string | undefined,
    generation: Generation,
    crewCode: string | undefined,
  ): Promise<string | null | false> {
    // Phone members' ids (crew-page invites) are the relay's to make: no gadget may take one.
    if (deviceId.startsWith(PHONE_DEVICE_ID_PREFIX)) {
      return this.refuse(
        session,
        deviceId,
        `Device ids starting with "${PHONE_DEVICE_ID_PREFIX}" are the crew page's phone members; a gadget gets its own id.`,
      );
    }
    const existing = await this.deps.store.crews.getDevice(deviceId);
    if (existing?.secretHash && !deviceSecretMatches(secret, existing.secretHash)) return this.refuse(session, deviceId);
    // A reset id waits for a current-protocol gadget: an older one could never hold the new secret.
    if (existing?.secretResetAt && generation !== 3) return this.refuse(session, deviceId);
    const issued = generation === 3 && !existing?.secretHash ? newDeviceSecret() : null;
    if (existing && isLegacyId(existing)) {
      // A secret would lock the older gadget out for good: its id stays secretless.
      if (generation === 3) {
        return this.refuse(
          session,
          deviceId,
          `Device id ${deviceId} belongs to an older gadget, which cannot hold a device secret; a current-protocol device gets its own id (send hello without device_id).`,
        );
      }
      if (!(await this.knowsCrewOf(deviceId, crewCode))) {
        return this.refuse(session, deviceId, `Device id ${deviceId} belongs to a crew; connecting as it needs that crew's code.`);
      }
    }
    const saved = await this.deps.store.crews.saveDevice({ deviceId, displayName, secretHash: issued ? hashDeviceSecret(issued) : undefined });
    // Two first contacts racing for one id: only the secret that was stored counts.
    if (issued && saved.secretHash !== hashDeviceSecret(issued)) return this.refuse(session, deviceId);
    session.gen = generation;
    session.deviceId = deviceId;
    session.displayName = displayName;
    const replaced = this.deps.registry.bindDevice(session, deviceId);
    if (replaced) {
      this.crews.detach(replaced);
      replaced.close(CLOSE_REPLACED, 'replaced by a newer connection of this device');
    }
    return issued;
  }

  /** The device came online on another relay process: its socket here is an older one. */
  takenOver(deviceId: string): void {
    const session = this.deps.registry.deviceSession(deviceId);
    if (!session || session.closing) return;
    this.crews.detach(session);
    session.close(CLOSE_REPLACED, 'replaced by a newer connection of this device');
  }

  /**
   * The operator's reset-credential: the stored secret hash is cleared so the device's next
   * hello (with its id, any or no secret) is issued a new one and finds its crew again. The
   * device's current socket is closed with 4003. Null when the device is unknown; `conflict`
   * for an older gadget's id, which never had a secret (a reset would lock it out).
   */
  async resetCredential(deviceId: string): Promise<{ hadSecret: boolean; disconnected: boolean } | null> {
    const device = await this.deps.store.crews.getDevice(deviceId);
    if (!device) return null;
    if (!device.secretHash && !device.secretResetAt) {
      throw new ProtocolError(
        'conflict',
        `Device ${deviceId} never had a device secret (an older gadget, or one that has not finished its first hello): there is nothing to reset.`,
      );
    }
    const reset = await this.deps.store.crews.resetDeviceSecret(deviceId);
    if (!reset) return null;
    const session = this.deps.registry.deviceSession(deviceId);
    const disconnected = session !== undefined && !session.closing;
    // Its crew hears member_offline when the socket closes, as for any disconnect.
    if (session) session.close(CLOSE_CREDENTIAL_RESET, 'device credential reset by the relay operator');
    this.deps.log.warn({ deviceId, hadSecret: reset.hadSecret, disconnected }, 'device credential reset by the admin API');
    return { hadSecret: reset.hadSecret, disconnected };
  }

  /**
   * The id a current-protocol device speaks for. It never adopts an id this relay did not
   * issue: an unknown id (with or without a made-up secret) gets a fresh one, so nobody can
   * take a field gadget's id before that gadget comes back. An older gadget's id gets a fresh
   * one too (`hello`), or is left to authenticate to refuse (`register`, which names it on
   * purpose). An id that holds a secret, or was reset by the operator, is checked by authenticate.
   */
  async currentProtocolId(deviceId: string | undefined, freshForLegacy: boolean): Promise<string> {
    if (deviceId === undefined) return newDeviceId();
    const existing = await this.deps.store.crews.getDevice(deviceId);
    if (!existing || (freshForLegacy && isLegacyId(existing))) return newDeviceId();
    return deviceId;
  }

  /**
   * An older gadget's id (it holds no secret) is bound to its crew: connecting as it needs
   * that crew's code, the proof its own firmware gives. Knowing the id alone must not let
   * anyone into the crew or move the gadget out of it.
   */
  private async knowsCrewOf(deviceId: string, crewCode: string | undefined): Promise<boolean> {
    const membership = await this.deps.store.crews.getMembership(deviceId);
    if (!membership) return true;
    const crew = await this.deps.store.crews.getCrew(membership.crewId);
    return crew !== null && crew.crewCode === crewCode;
  }

  private refuse(
    session: Session,
    deviceId: string,
    sentence = `Device id ${deviceId} is registered with a device secret; present it to connect as this device.`,
  ): false {
    this.deps.log.warn({ deviceId, remote: session.remoteAddress }, 'device credential refused');
    session.fail('unauthorized', sentence);
    session.close(CLOSE_UNAUTHORIZED, 'unauthorized');
    return false;
  }

  /**
   * Identifies a second-generation (or later) session on its create_crew/join_crew; `crewCode`
   * is the code the message names (an older gadget's id needs its crew's).
   */
  async identifyForCrew(session: Session, deviceId: string | undefined, displayName: string, crewCode: string | undefined): Promise<boolean> {
    if (session.gen === null) {
      return (await this.authenticate(session, deviceId ?? newDeviceId(), displayName, undefined, 2, crewCode)) !== false;
    }
    if (deviceId !== undefined && deviceId !== session.deviceId) {
      throw new ProtocolError('unauthorized', 'A connection speaks for one device; this one is already identified as another device id.');
    }
    if (displayName !== session.displayName) {
      await this.deps.store.crews.saveDevice({ deviceId: session.deviceId!, displayName });
      session.displayName = displayName;
    }
    return true;
  }
}
