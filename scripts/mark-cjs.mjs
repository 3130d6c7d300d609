// The package is "type": "module", so the CommonJS build needs its own package.json
// that tells Node (and jest in a CommonJS app) to read its .js files as CommonJS.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

writeFileSync(join(process.argv[2], 'package.json'), '{ "type": "commonjs" }\n');
