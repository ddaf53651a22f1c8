import type { ConformanceCase } from '../case.js';

export const lifecycleCases: ConformanceCase[] = [];
