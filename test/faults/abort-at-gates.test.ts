/**
 * Fault run 8 at every gate before the client switch (test/helpers/abort-at-gate-suite.ts): shrink,
 * expose, dns, join and leader (after the three new members joined: every undo the forward path
 * can need). The abort at the switch-clients gate runs in the test command
 * (test/e2e/acceptance.test.ts).
 */
import { describeAbortAtGates } from '../helpers/abort-at-gate-suite.js';

describeAbortAtGates(['shrink', 'expose', 'dns', 'join', 'leader']);
