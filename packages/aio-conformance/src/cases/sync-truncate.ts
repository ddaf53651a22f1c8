import type { ConformanceCase } from '../case.js';

export const syncTruncateCases: ConformanceCase[] = [];
