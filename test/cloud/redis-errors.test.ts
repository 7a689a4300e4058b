import { describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { createLogger } from '../../cloud/log.js';
import { connectRedis, openRedisConnection, withoutPassword } from '../../cloud/store/redis/redis-connection.js';
import { storeUnavailable } from '../../cloud/store/store.js';
import { freeLoopbackPort } from '../helpers/free-port.js';
import { TEST_REDIS_URL } from '../helpers/redis.js';

/** What a Redis that is away, full or read-only answers becomes `unavailable` (clients retry), never internal_error. */
describe('Redis errors as the relay answers them', () => {
  it('a command while Redis is unreachable fails at once and is `unavailable`', async () => {
    const port = await freeLoopbackPort();
    const redis = connectRedis(`redis://127.0.0.1:${port}`, createLogger('silent'), 'test');
    void redis.connect().catch(() => undefined);
    const error = await redis.get('x').catch((e: unknown) => e);
    redis.disconnect();
    expect(storeUnavailable(error)).toMatchObject({ code: 'unavailable' });
  });

  it("Redis's own refusals (OOM under noeviction, READONLY replica, LOADING) are `unavailable`; other errors are not", async () => {
    const redis = new Redis(TEST_REDIS_URL);
    try {
      // A real ReplyError, then the shapes Redis gives when full, a replica or still loading.
      const reply = await redis.call('NOSUCHCOMMAND').catch((e: Error) => e);
      expect(storeUnavailable(reply)).toBeNull();
      for (const message of [
        'OOM command not allowed when used memory > maxmemory.',
        "READONLY You can't write against a read only replica.",
        'LOADING Redis is loading the dataset in memory',
      ]) {
        const ReplyError = (reply as Error).constructor as new (message: string) => Error;
        const refusal = new ReplyError(message);
        expect(storeUnavailable(refusal)).toMatchObject({ code: 'unavailable' });
      }
    } finally {
      redis.disconnect();
    }
    expect(storeUnavailable(new Error('boom'))).toBeNull();
  });

  it('a relay whose Redis is not there refuses to start with a sentence naming it, without the password', async () => {
    const port = await freeLoopbackPort();
    await expect(openRedisConnection(`redis://:hunter2@127.0.0.1:${port}/0`, createLogger('silent'), 'test')).rejects.toThrow(
      new RegExp(`cannot reach its Redis at redis://:\\*\\*\\*@127\\.0\\.0\\.1:${port}/0 \\(ECONNREFUSED\\)`),
    );
    expect(withoutPassword('redis://user:secret@host:6379/2')).toBe('redis://user:***@host:6379/2');
  });
});
