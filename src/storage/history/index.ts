// Public surface of history compression (issue 6); see README.md for the backend recipe.
export {
  applyChain,
  baseFromChain,
  compressLatest,
  BodyCache,
  decodeCached,
  decodeChain,
  encodeDeltaPayload,
  decompressLatest,
  encodeRevision,
  HistoryChainError,
  orderChain,
  planPurge,
  planRevision,
  runLength,
} from './codec.ts';
export type { StoredChainRow, ChainMeta, EncodedRevision, HistoryOptions, HistoryRow, RevisionPlan, RowRef } from './codec.ts';
export { applyDelta, createDelta, DeltaFormatError, DeltaIndex, parseDelta } from './delta.ts';
export { MemoryHistoryStore } from './memory.ts';
