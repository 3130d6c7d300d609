// Cross-platform `rm -rf` for the build output, so the build needs no extra dependency.
import { rmSync } from 'node:fs';

for (const dir of process.argv.slice(2)) rmSync(dir, { recursive: true, force: true });
