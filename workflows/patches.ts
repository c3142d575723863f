/**
 * Named patches (`patched()`): changes to the order of awaited steps, kept so that runs started
 * before each change replay. Each name says what changed; never reuse or rename one.
 */

/**
 * A failed join (learner crashing, load balancer broken, catch-up deadline) is undone on its own
 * and the run pauses for the operator (resume retries the join, abort rolls back), where it used
 * to roll the whole migration back.
 */
export const RETRY_FAILED_JOIN_PATCH = 'retry-failed-join';

/**
 * A join's undo is registered before the learner is added, so an abort or a failure while the
 * add is in flight (it may land in etcd all the same) still removes the learner.
 */
export const REGISTER_JOIN_UNDO_FIRST_PATCH = 'register-join-undo-first';

/**
 * An abort waits for the activity in flight: the activities that change things are scheduled
 * with `WAIT_CANCELLATION_COMPLETED`, so the rollback starts only after the cancelled activity
 * ended (completed, failed or acknowledged the cancellation), where it used to start at once
 * while, say, an add-learner could still land. Decided once per set of proxies
 * (`activitiesFor`); an abort also stays an abort when the activity it waited for failed.
 */
export const WAIT_FOR_IN_FLIGHT_PATCH = 'wait-for-in-flight';

/**
 * An abort that arrives with an approval (in the same workflow task) wins at the gate: the run
 * rolls back (or, after the client switch, stops before the gate), where the approval used to
 * win and the run went on, past the switch-clients gate even.
 */
export const ABORT_WINS_AT_GATE_PATCH = 'abort-wins-at-gate';

/**
 * The move-back of the move-leader step is registered before the move (to the leader of the
 * last evidence), so a move whose answer was lost and that was retried is still undone.
 */
export const REGISTER_MOVE_BACK_FIRST_PATCH = 'register-move-back-first';

/**
 * The move-leader step takes its evidence (member list, health, hashKV) from the moveLeader
 * activity's result instead of an observe activity after it: one step fewer.
 */
export const MOVE_LEADER_EVIDENCE_PATCH = 'move-leader-evidence';

/**
 * The join's full undo (remove the member, then stop its pod) is registered before the target
 * is scaled, so a scale that an abort cancels after it created the pod is still undone.
 */
export const REGISTER_SCALE_UNDO_FIRST_PATCH = 'register-scale-undo-first';

/**
 * After configuring a cluster's DNS the run waits until that cluster answers the member names
 * (awaitDnsResolution), where it used to go on at once; only where the worker resolves through
 * that cluster's DNS (core/dns-confirmation.ts).
 */
export const CONFIRM_DNS_PATCH = 'confirm-dns';

/**
 * Per-cluster mode: the verify-consistency step reads hashKV on each side by that side's worker
 * (the side etcd calls go through first, then the other at the same revision) and combines the
 * readings in the workflow, where one worker used to hash every member (verifyConsistency), the
 * other side's through their load balancers. Single mode is unchanged.
 */
export const HASH_ON_EACH_SIDE_PATCH = 'hash-on-each-side';

/**
 * The rollback goes past an undo whose Kubernetes deletes cannot run (the target's API server
 * is gone, say): it records the failure and what stays in that cluster, tries that cluster's
 * later calls once each when it did not answer, and runs the rest, where it used to stop at the
 * first failed undo and leave the source with the lost new members as voters. A failed
 * membership undo still stops it.
 */
export const ROLLBACK_PAST_FAILED_UNDOS_PATCH = 'rollback-past-failed-undos';

/**
 * The run keeps the `EtcdMigrationState` and `EtcdMigrationWaitingGate` search attributes up to
 * date (upserts when its state or waiting gate changes), so the Web UI lists runs by state and
 * by the gate they wait at. Decided once, when the run starts.
 */
export const STATE_SEARCH_ATTRIBUTES_PATCH = 'state-search-attributes';

/**
 * A reverse migration started before the migration that made its source finished (that
 * migration's old members still vote) runs that migration again first, resuming it as a child
 * run, then checks and plans anew (workflows/finish-forward.ts).
 */
export const FINISH_FORWARD_FIRST_PATCH = 'finish-forward-first';

/**
 * A resumed run registers the undo of every step it adopts before the client switch (what the
 * step's executor registers after it ran), so its rollback returns the cluster to where the
 * migration started instead of leaving the earlier run's members and objects behind.
 */
export const UNDO_ADOPTED_STEPS_PATCH = 'undo-adopted-steps';

/**
 * The way back's first preflight, when it finds the forward migration unfinished, is asked again
 * while a source pod not being Ready is its only refusal, as the preflight after the finishing
 * run already was: the new member that run promoted last is not Ready until its readiness probe
 * next passes (a learner fails etcd's health check), seconds after a stop at the switch.
 */
export const SETTLE_UNFINISHED_FORWARD_PATCH = 'settle-unfinished-forward';

/**
 * Steps the plan marks `together` (each cluster's Services, load-balancer waits, DNS changes and
 * their cleanup) run at the same time, where they ran one after the other. Their undos are still
 * registered in plan order.
 */
export const RUN_SIDES_TOGETHER_PATCH = 'run-sides-together';
