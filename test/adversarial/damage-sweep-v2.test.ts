/** The damage sweep over a format 2 snapshot (damage-suite.ts). */
import { damageSweep } from './damage-suite.js';

damageSweep(2);
