// npm's install step (package.json "install"): native/cmake/install-addon.mjs, which
// scripts/prebuild.mjs ships in the package's native/. In the repository there is no native/
// here, and `pnpm build` builds the addon instead.
import { existsSync } from 'node:fs';

const installer = new URL('../native/cmake/install-addon.mjs', import.meta.url);
if (existsSync(installer)) await import(installer.href);
