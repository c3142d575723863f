/**
 * Pure quorum math for a cluster stretched over two Kubernetes clusters. Only voters count:
 * learners neither vote nor count towards the quorum.
 */

export type MemberGroup = 'old' | 'new';
export type MajoritySide = MemberGroup | 'neither';

function checkVoters(voters: number): void {
  if (!Number.isInteger(voters) || voters < 1)
    throw new RangeError(`a cluster needs at least one voter, got ${voters}`);
}

/** Votes needed to commit or to elect a leader: floor(v / 2) + 1. */
export function quorumSize(voters: number): number {
  checkVoters(voters);
  return Math.floor(voters / 2) + 1;
}

/** How many voters may fail while the cluster still has a quorum: floor((v - 1) / 2). */
export function faultTolerance(voters: number): number {
  checkVoters(voters);
  return Math.floor((voters - 1) / 2);
}

/** Smallest number of voters that tolerates `failures` failures. */
export function votersFor(failures: number): number {
  return 2 * failures + 1;
}

/**
 * Which side still has a quorum on its own if the link between the two Kubernetes clusters
 * breaks. With two sides this is 'neither' exactly when the voters are split evenly.
 */
export function majoritySideOnPartition(oldVoters: number, newVoters: number): MajoritySide {
  const total = oldVoters + newVoters;
  checkVoters(total);
  const quorum = quorumSize(total);
  if (oldVoters >= quorum) return 'old';
  if (newVoters >= quorum) return 'new';
  return 'neither';
}
