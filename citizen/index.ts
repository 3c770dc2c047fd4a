export { CITIZEN, type CitizenInstance } from './capability.js';
export { CITIZEN_ERRORS, CitizenError } from './errors.js';
