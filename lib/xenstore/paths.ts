// The path rules live in protocol.ts; this module keeps their former import path.
export { isValidXenStorePath, XENSTORE_PAYLOAD_MAX, xenstoredSocketPath } from './protocol.js';
