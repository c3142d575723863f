/**
 * Secure by default (issue #7), in the sandbox with real components: a source etcd with peer and
 * client TLS, client-certificate authentication and etcd auth moves to the target cluster under a
 * live TLS + password load client; the new members' certificates are issued by the migration from
 * a CA Secret. Then: a client certificate from another CA is refused, a peer connection to a
 * member load balancer from outside its allowed ranges is refused, and the whole workflow history
 * holds none of the secret values the run used.
 *
 * TLS set-ups that etcd accepts (issue #16, item 10): the old members' peer
 * SAN-check setting written as a bare flag in args (etcd 3.5, the README's security section as a
 * new user follows it), on a line of an `sh -c` script (etcd 3.4) and as an `ETCD_*` variable
 * (etcd 3.6); the new members get it once, where and as the source writes it (etcd refuses a
 * variable beside a flag). The 3.5 and 3.6 runs give the old members certificates for `*.etcd` only, which
 * etcd accepts for `etcd-0.etcd` and so must the worker.
 */
import { TLS_RUNS, describeTlsMigrations } from '../helpers/tls-migration-suite.js';

// The 3.5 run by args in the test command; the 3.4 script and 3.6 env runs are in npm run faults
// (test/faults/tls-source-styles.test.ts).
describeTlsMigrations(TLS_RUNS.filter((r) => r.source.version === '3.5'));
