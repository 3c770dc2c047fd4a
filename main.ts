/**
 * `npm start`: the embedded stack (DESIGN §5 operating contract). Grows with
 * the stack; today it says what exists.
 */
const parts = [
  ['core', 'identity, Base45, TF1 tokens, rules, record formats — library, nothing to run'],
];
console.log('health code service — embedded stack');
for (const [name, what] of parts) console.log(`  ${name}: ${what}`);
console.log('The edge, sync and admin-api servers are not wired into `npm start` yet.');
