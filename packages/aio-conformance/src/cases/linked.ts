import type { ConformanceCase } from '../case.js';

export const linkedCases: ConformanceCase[] = [];
