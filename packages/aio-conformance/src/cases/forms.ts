import type { ConformanceCase } from '../case.js';

export const formCases: ConformanceCase[] = [];
