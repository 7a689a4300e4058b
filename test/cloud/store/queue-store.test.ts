import { RedisQueueStore } from '../../../cloud/store/redis/redis-queue.js';
import { onBothStores } from './both-stores.js';
import { queueContract } from './queue-contract.js';

// Every key the Redis area writes is under its own name.
onBothStores(queueContract, { sqlite: (store) => store.queue, redis: (redis, prefix) => new RedisQueueStore(redis, prefix), keys: ['queue:'] });
