import type { ConformanceCase } from '../case.js';

export const workerCases: ConformanceCase[] = [];
