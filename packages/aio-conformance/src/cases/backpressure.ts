import type { ConformanceCase } from '../case.js';

export const backpressureCases: ConformanceCase[] = [];
