// Checks a workspace exported by Rolecall for OpenFGA ({model, tuples}) with OpenFGA's own
// language tools (npm's @openfga/syntax-transformer): the model must pass OpenFGA's
// validation, and every tuple must name a type and relation of the model whose directly
// related user types take the tuple's user. Prints the model as OpenFGA's JSON on success.
//
//   node check_openfga.mjs <export.json> <model.json>

import { readFileSync, writeFileSync } from "node:fs";
import { transformer, validator } from "@openfga/syntax-transformer";

const [input, output] = process.argv.slice(2);
if (!input || !output) {
  console.error("usage: node check_openfga.mjs <export.json> <model.json>");
  process.exit(2);
}
const { model, tuples } = JSON.parse(readFileSync(input, "utf8"));
try {
  validator.validateDSL(model);
} catch (e) {
  console.error(`OpenFGA refuses the model: ${e.message}`);
  process.exit(1);
}
const json = transformer.transformDSLToJSONObject(model);
const types = new Map(json.type_definitions.map((t) => [t.type, t]));
const problems = [];
for (const { user, relation, object } of tuples) {
  const [objectType] = object.split(":");
  const definition = types.get(objectType);
  const allowed = definition?.metadata?.relations?.[relation]?.directly_related_user_types;
  if (!allowed) {
    problems.push(`${user} ${relation} ${object}: no directly assignable relation \`${relation}\` on \`${objectType}\``);
    continue;
  }
  const [userObject, userRelation] = user.split("#");
  const userType = userObject.split(":")[0];
  const fits = allowed.some((a) => a.type === userType && (a.relation ?? undefined) === (userRelation ?? undefined));
  if (!fits) problems.push(`${user} ${relation} ${object}: \`${relation}\` does not take \`${user.split(":")[0]}${userRelation ? "#" + userRelation : ""}\``);
}
if (problems.length > 0) {
  console.error(problems.slice(0, 20).join("\n"));
  process.exit(1);
}
writeFileSync(output, JSON.stringify(json));
