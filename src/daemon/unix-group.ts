// A group name → its numeric id, from /etc/group (Node has no getgrnam).
// Groups served by NSS alone (LDAP, systemd-userdb) are not found here: give
// their numeric id instead.

import { readFile } from "node:fs/promises";

export class UnknownGroupError extends Error {}

export async function groupId(group: string | number, file = "/etc/group"): Promise<number> {
  if (typeof group === "number") return group;
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new UnknownGroupError(
      `cannot read ${file} to look up group "${group}" (${(error as Error).message}); give its numeric id`,
    );
  }
  for (const line of text.split("\n")) {
    const [name, , gid] = line.split(":");
    if (name === group && gid !== undefined && /^[0-9]+$/.test(gid)) return Number(gid);
  }
  throw new UnknownGroupError(`no group "${group}" in ${file}; give its numeric id`);
}
