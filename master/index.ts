export * from './errors.js';
export * from './sql-client.js';
export * from './migrations.js';
export * from './pii-crypto.js';
export * from './store.js';
