import type { ConformanceCase } from '../case.js';

export const directoryEntryCases: ConformanceCase[] = [];
