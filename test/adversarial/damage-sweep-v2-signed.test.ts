/** The damage sweep over a format 2 snapshot sealed for public-key recipients and signed (damage-suite.ts). */
import { damageSweep } from './damage-suite.js';

damageSweep(2, 'recipients-signed');
