/** How the native package in `packageDir` builds on `platform` (default: this one). */
export function nativeBuildPlan(
  packageDir: string,
  platform?: string,
): { build: true; cmakeArgs: string[] } | { build: false; reason: string };
