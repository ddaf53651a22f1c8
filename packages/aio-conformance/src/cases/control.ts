import type { ConformanceCase } from '../case.js';

export const controlCases: ConformanceCase[] = [];
