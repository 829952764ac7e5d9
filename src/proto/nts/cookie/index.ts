export {
  COOKIE_HEADER_LENGTH,
  COOKIE_NONCE_LENGTH,
  COOKIE_TAG_LENGTH,
  cookieKeyLength,
  cookieLength,
  decodeCookie,
  encodeCookie,
  type CookieContents,
} from "./cookie.js";
export { CookieStash, MAX_COOKIES } from "./stash.js";
