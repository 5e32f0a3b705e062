/** The crash-recovery suite against the local adapter. */
import { describeCrashRecovery, localCrashTarget } from '../helpers/crash-recovery.js';

describeCrashRecovery('a local target', async (root) => localCrashTarget(root));
