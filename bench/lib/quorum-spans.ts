/**
 * When a stretch run's writes needed both clusters (pure): replays its membership steps (promote
 * adds a voter to the target side, remove-member takes one from the source side, move-leader takes
 * the leadership to the target) and returns the intervals in which neither side alone held a
 * majority of the voters, or the leader's side did not. A write in such a state waits for at least
 * one cross-cluster round trip. A change counts from when etcd applied it where
 * the step's result says so, else from the step's end (which comes later, after the evidence reads).
 */
export interface MembershipStep {
  kind: string;
  startedAt?: string | null;
  endedAt?: string | null;
  appliedAt?: string | null;
}

export interface Span {
  from: number;
  to: number;
}

interface Voters {
  source: number;
  target: number;
  leaderOnTarget: boolean;
}

const majorityOf = (v: Voters) => Math.floor((v.source + v.target) / 2) + 1;

/** Replays the changes (by when etcd applied them) and returns the intervals `holds` was true. */
function spansWhile(
  sourceVoters: number,
  steps: MembershipStep[],
  endedAt: number,
  holds: (v: Voters) => boolean,
): Span[] {
  const v: Voters = { source: sourceVoters, target: 0, leaderOnTarget: false };
  const spans: Span[] = [];
  let openedAt: number | undefined;
  const changes = steps
    .filter((s) => ['promote', 'remove-member', 'move-leader'].includes(s.kind) && s.endedAt)
    .map((s) => ({ kind: s.kind, at: Date.parse(s.appliedAt ?? s.endedAt!) }))
    .sort((a, b) => a.at - b.at);
  for (const { kind, at } of changes) {
    if (kind === 'promote') v.target++;
    else if (kind === 'remove-member') v.source--;
    else v.leaderOnTarget = true; // phase leader moves it to the first new member
    if (holds(v) && openedAt === undefined) openedAt = at;
    if (!holds(v) && openedAt !== undefined) {
      spans.push({ from: openedAt, to: at });
      openedAt = undefined;
    }
  }
  if (openedAt !== undefined) spans.push({ from: openedAt, to: endedAt });
  return spans;
}

/** While neither cluster alone held a majority of the voters. */
export function bothSidesSpans(sourceVoters: number, steps: MembershipStep[], endedAt: number): Span[] {
  return spansWhile(sourceVoters, steps, endedAt, (v) => Math.max(v.source, v.target) < majorityOf(v));
}

/**
 * When a write had to cross the link: the leader's cluster did not hold a majority of the voters,
 * so the leader needed an acknowledgement from the other cluster. The leader starts in the source
 * and `move-leader` (phase leader) takes it to the target; the both-sides states are inside these
 * spans. Clients still on the old side cross once more, to reach the leader.
 */
export function crossingSpans(sourceVoters: number, steps: MembershipStep[], endedAt: number): Span[] {
  return spansWhile(
    sourceVoters,
    steps,
    endedAt,
    (v) => (v.leaderOnTarget ? v.target : v.source) < majorityOf(v),
  );
}

export const spanMs = (spans: Span[]): number => spans.reduce((sum, s) => sum + s.to - s.from, 0);
