// CIDR lists for server policies in tests, parsed as the configuration parses them.
import { parseValue } from "../../src/proto/config/fields.js";
import type { Cidr } from "../../src/proto/config/types.js";
import { cidr } from "../../src/proto/config/value-types.js";

/** `cidrs("192.0.2.0/24", "::/0")`: throws on text the configuration would refuse. */
export function cidrs(...texts: string[]): Cidr[] {
  return texts.map((text) => parseValue(cidr, text));
}
