import type { ConformanceCase } from '../case.js';

export const argumentCases: ConformanceCase[] = [];
