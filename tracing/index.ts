export { tracingCapability } from './capability.js';
export { TRACING_ERRORS, TracingError } from './errors.js';
export { VenueIndex } from './venue-index.js';
