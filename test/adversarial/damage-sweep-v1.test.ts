/** The damage sweep over a format 1 snapshot (damage-suite.ts). */
import { damageSweep } from './damage-suite.js';

damageSweep(1);
