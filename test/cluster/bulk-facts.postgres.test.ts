import { runBulkFactsSuite } from '../../master/bulk-facts.common.js';
import { useThrowAwaySchema } from './pg-env.js';

// master/bulk-facts.ts (the import's set-based facts and codes) on a real
// PostgreSQL, in a throw-away schema xb_<random> dropped afterwards; an
// unreachable database fails the suite (pg-env.ts).
const schema = useThrowAwaySchema('xb');

runBulkFactsSuite('PostgreSQL', () => schema.open(4));
