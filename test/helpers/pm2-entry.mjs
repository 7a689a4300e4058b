// PM2's cluster mode forks its workers with cluster.fork() and refuses a .ts script on Node
// before 22.18; this entry registers tsx and loads the relay, as `node --import tsx` does in fork mode.
import { register } from 'tsx/esm/api';

register();
await import('../../cloud/main.ts');
