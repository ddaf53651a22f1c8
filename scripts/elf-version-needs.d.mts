/** DT_NEEDED libraries and, per library, the symbol versions an ELF shared object requires. */
export function readVersionNeeds(path: string): { needed: string[]; versions: Record<string, string[]> };
/** The newest GLIBC_x.y among the needs (e.g. "2.28"): the oldest glibc the object loads on. */
export function lowestGlibc(needs: { versions: Record<string, string[]> }): string | undefined;
