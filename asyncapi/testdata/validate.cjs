// Validates AsyncAPI documents with the official parser (@asyncapi/parser,
// pinned in package.json). Usage: node validate.cjs FILE... Prints every
// diagnostic; exits 1 if any document has an error.
const fs = require('fs');
const { Parser } = require('@asyncapi/parser');

async function main() {
  const parser = new Parser();
  let failed = false;
  for (const file of process.argv.slice(2)) {
    const { document, diagnostics } = await parser.parse(fs.readFileSync(file, 'utf8'));
    const errors = diagnostics.filter((d) => d.severity === 0);
    for (const d of diagnostics) {
      console.log(`${file}: severity ${d.severity} ${d.code}: ${d.message} at /${d.path.join('/')}`);
    }
    console.log(`${file}: ${errors.length} errors, ${diagnostics.length - errors.length} other diagnostics${document ? '' : ', no document'}`);
    if (errors.length > 0 || !document) failed = true;
  }
  process.exit(failed ? 1 : 0);
}

main().catch((err) => { console.error(err); process.exit(2); });
