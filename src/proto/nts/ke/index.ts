// NTS-KE (RFC 8915 §4): record codec, request/response messages, key export inputs.
export * from "./records.js";
export * from "./messages.js";
export * from "./key-export.js";
