/**
 * Fault run 8 at the gates before the join finished (test/helpers/abort-at-gate-suite.ts): shrink,
 * expose, dns and join. The leader gate runs in the test command.
 */
import { describeAbortAtGates } from '../helpers/abort-at-gate-suite.js';

describeAbortAtGates(['shrink', 'expose', 'dns', 'join']);
