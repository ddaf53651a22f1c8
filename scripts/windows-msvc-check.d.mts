/** What the MSVC check's scan finds in one line of source: each name MSVC lacks or rejects, and why. */
export function msvcFindings(sourceLine: string): { name: string; why: string }[];
