import { RedisTokenStore } from '../../../cloud/store/redis/redis-tokens.js';
import { onBothStores } from './both-stores.js';
import { tokensContract } from './tokens-contract.js';

// Every key the Redis area writes is under its own name.
onBothStores(tokensContract, { sqlite: (store) => store.tokens, redis: (redis, prefix) => new RedisTokenStore(redis, prefix), keys: ['tokens:'] });
