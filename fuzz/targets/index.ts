// Every fuzz target, by name.

import type { FuzzTarget } from "../engine/target.js";
import { config } from "./config.js";
import { controlRequest } from "./control-request.js";
import { csptp } from "./csptp.js";
import { extensionFields } from "./extension-fields.js";
import { keyFile } from "./key-file.js";
import { driftFile, leapSecondsList } from "./leap-files.js";
import { ntpPacket } from "./ntp-packet.js";
import { ntpV5Packet } from "./ntp-v5-packet.js";
import { ntsCookie } from "./nts-cookie.js";
import { ntsFields } from "./nts-fields.js";
import { ntsKeFast } from "./nts-ke-fast.js";
import { ntsKeMessages } from "./nts-ke-messages.js";
import { ntsKeRecords } from "./nts-ke-records.js";
import { observationClient } from "./observation-client.js";
import { serverHandle } from "./server-handle.js";

export const TARGETS: readonly FuzzTarget[] = [
  ntpPacket,
  extensionFields,
  ntsFields,
  ntsKeRecords,
  ntsKeMessages,
  ntsKeFast,
  ntsCookie,
  keyFile,
  config,
  observationClient,
  serverHandle,
  leapSecondsList,
  driftFile,
  controlRequest,
  ntpV5Packet,
  csptp,
];

export function targetByName(name: string): FuzzTarget | undefined {
  return TARGETS.find((t) => t.name === name);
}
