import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Whether this is Windows as Wine provides it (scripts/windows-test.sh runs the suite there with
 * the real Windows build of Node.js). Wine puts its own programs in system32, where Windows has
 * none: wineboot.exe there says Wine.
 *
 * A case that Wine itself breaks is skipped with a reason that starts with "Wine", naming the
 * difference from Windows, so the harness can count those skips; the case still runs on Windows.
 */
export const underWine =
  process.platform === 'win32' &&
  existsSync(join(process.env.SystemRoot ?? 'C:\\windows', 'system32', 'wineboot.exe'));

/**
 * How much longer a case's time bounds are here: 3 under Wine, else 1. Under Wine every system
 * call goes through wineserver and a child node.exe takes seconds to start: at load average ~20
 * on 2 cores, the children of the lifecycle and worker cases outran their 10 s limit on aio-node
 * (the same cases pass there at lower load). Applied to each case's timeout and to the limit of
 * the child processes cases run.
 */
export const timeScale = underWine ? 3 : 1;
