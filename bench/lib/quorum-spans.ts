/**
 * When a stretch run's quorum needed both clusters (pure): replays its membership steps (promote
 * adds a voter to the target side, remove-member takes one from the source side) and returns the
 * intervals in which neither side alone held a majority of the voters. A write in such a state
 * waits for at least one cross-cluster round trip. A change counts from when etcd applied it where
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

export function bothSidesSpans(sourceVoters: number, steps: MembershipStep[], endedAt: number): Span[] {
  let source = sourceVoters;
  let target = 0;
  const needsBoth = () => Math.max(source, target) < Math.floor((source + target) / 2) + 1;
  const spans: Span[] = [];
  let openedAt: number | undefined;
  const changes = steps
    .filter((s) => (s.kind === 'promote' || s.kind === 'remove-member') && s.endedAt)
    .map((s) => ({ kind: s.kind, at: Date.parse(s.appliedAt ?? s.endedAt!) }))
    .sort((a, b) => a.at - b.at);
  for (const { kind, at } of changes) {
    if (kind === 'promote') target++;
    else source--;
    if (needsBoth() && openedAt === undefined) openedAt = at;
    if (!needsBoth() && openedAt !== undefined) {
      spans.push({ from: openedAt, to: at });
      openedAt = undefined;
    }
  }
  if (openedAt !== undefined) spans.push({ from: openedAt, to: endedAt });
  return spans;
}

/**
 * When a write had to cross the link: the leader's cluster did not hold a majority of the voters,
 * so the leader needed an acknowledgement from the other cluster. The leader starts in the source
 * and `move-leader` (phase leader) takes it to the target; the both-sides states are inside these
 * spans. Clients still on the old side cross once more, to reach the leader.
 */
export function crossingSpans(sourceVoters: number, steps: MembershipStep[], endedAt: number): Span[] {
  let source = sourceVoters;
  let target = 0;
  let leaderOnTarget = false;
  const crosses = () => {
    const majority = Math.floor((source + target) / 2) + 1;
    return (leaderOnTarget ? target : source) < majority;
  };
  const spans: Span[] = [];
  let openedAt: number | undefined;
  const changes = steps
    .filter((s) => ['promote', 'remove-member', 'move-leader'].includes(s.kind) && s.endedAt)
    .map((s) => ({ kind: s.kind, at: Date.parse(s.appliedAt ?? s.endedAt!) }))
    .sort((a, b) => a.at - b.at);
  for (const { kind, at } of changes) {
    if (kind === 'promote') target++;
    else if (kind === 'remove-member') source--;
    else leaderOnTarget = true;
    if (crosses() && openedAt === undefined) openedAt = at;
    if (!crosses() && openedAt !== undefined) {
      spans.push({ from: openedAt, to: at });
      openedAt = undefined;
    }
  }
  if (openedAt !== undefined) spans.push({ from: openedAt, to: endedAt });
  return spans;
}

export const spanMs = (spans: Span[]): number => spans.reduce((sum, s) => sum + s.to - s.from, 0);
