export * from './coded-error.js';
export * from './errors.js';
export * from './code-record.js';
export * from './delta.js';
export * from './replica-layout.js';
