import type { ConformanceCase } from '../case.js';

export const readWriteCases: ConformanceCase[] = [];
