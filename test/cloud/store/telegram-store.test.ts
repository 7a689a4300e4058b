import { RedisTelegramStore } from '../../../cloud/store/redis/redis-telegram.js';
import { onBothStores } from './both-stores.js';
import { telegramContract } from './telegram-contract.js';

// Every key the Redis area writes is under its own name (beside the directory entries the test made).
onBothStores(telegramContract, {
  sqlite: (store) => store.telegram,
  redis: (redis, prefix) => new RedisTelegramStore(redis, prefix),
  keys: ['telegram:', 'dir:'],
});
