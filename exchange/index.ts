export { exchangeCapability, type ExchangeInstance } from './capability.js';
export { EXCHANGE_ERRORS, ExchangeError } from './errors.js';
export { BUILTIN_DATASETS, type DatasetDef } from './datasets.js';
