/** The damage sweep over a format 1 snapshot sealed for public-key recipients and signed (damage-suite.ts). */
import { damageSweep } from './damage-suite.js';

damageSweep(1, 'recipients-signed');
