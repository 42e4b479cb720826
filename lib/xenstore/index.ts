export { XenStore } from './xenstore.js';
export { XenStoreError, AbortError, isXenStoreError } from './errors.js';
export type {
  XenStoreBatchResult,
  XenStoreBatchStep,
  XenStoreNode,
  XenStoreOps,
  XenStoreOpenOptions,
  XenStorePermission,
  XenStoreTransaction,
  XenStoreTransactionOptions,
  XenStoreWaitOptions,
  XenStoreWaitResult,
  XenStoreWatchEvent,
  XenStoreWatchOptions,
} from './types.js';
