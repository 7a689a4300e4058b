import { RedisMcpStore } from '../../../cloud/store/redis/redis-mcp.js';
import { onBothStores } from './both-stores.js';
import { mcpContract } from './mcp-contract.js';

// Every key the Redis area writes is under its own name (beside the directory entries the test made).
onBothStores(mcpContract, { sqlite: (store) => store.mcp, redis: (redis, prefix) => new RedisMcpStore(redis, prefix), keys: ['mcp:', 'dir:'] });
