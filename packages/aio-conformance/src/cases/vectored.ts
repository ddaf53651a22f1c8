import type { ConformanceCase } from '../case.js';

export const vectoredCases: ConformanceCase[] = [];
