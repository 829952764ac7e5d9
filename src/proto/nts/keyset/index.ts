export {
  DEFAULT_STALE_KEY_COUNT,
  KeySet,
  MASTER_KEY_AEAD,
  MASTER_KEY_LENGTH,
  type KeySetParts,
  type RandomBytes,
} from "./keyset.js";
export {
  KEY_FILE_HEADER_LENGTH,
  nextRotationDelay,
  parseKeySet,
  serializeKeySet,
  type KeyFileErrorCode,
  type ParseKeySetResult,
} from "./storage.js";
