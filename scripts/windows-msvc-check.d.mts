/** What the MSVC check's scan finds in one line of source: each name MSVC lacks or rejects, and why. */
export function msvcFindings(sourceLine: string): { name: string; why: string }[];
/** The class keys one line of source declares or defines a type with, as spelled. */
export function classKeys(sourceLine: string): { key: 'class' | 'struct'; name: string }[];
