import type { ConformanceCase } from '../case.js';

export const statCases: ConformanceCase[] = [];
