/**
 * Fault run 8 in the test command: an abort at the leader gate, after the three new members
 * joined, undoes every step before the client switch (test/helpers/abort-at-gate-suite.ts). The
 * earlier gates run in npm run faults (test/faults/abort-at-early-gates.test.ts).
 */
import { describeAbortAtGates } from '../../helpers/abort-at-gate-suite.js';

describeAbortAtGates(['leader']);
