import { runServicesSuite } from '../../master/services.common.js';
import { useThrowAwaySchema } from './pg-env.js';

// The shared services suite (master/services.common.ts) on a real
// PostgreSQL, in a throw-away schema s_<random> that is dropped afterwards.
// Unreachable database → the suite FAILS saying where it looked: a cluster
// test that skips proves nothing. The mass test moves 100 000 codes.
const schema = useThrowAwaySchema('s');

runServicesSuite('PostgreSQL', () => schema.open(10), { report: (line) => console.log(line) });
