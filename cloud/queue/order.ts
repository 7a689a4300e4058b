/**
 * The crew queue's fair order (docs/REFERENCE.md, "Queue order"):
 *
 * 1. Every track gets a round when it is added: one after the adder's last track
 *    (still waiting, or played in the current round), but not before the round now
 *    playing. Lower rounds play first: your n-th track plays before anyone's (n+1)-th,
 *    and a member who just joined takes a turn in the current round.
 * 2. Within a round, a higher score plays first: score = up votes − down votes + jams.
 * 3. Equal scores keep add order (add time, then the relay's add counter).
 * 4. Throwback tracks are filler: they come after every member's track, in add order.
 */

export interface OrderedEntry {
  readonly id: string;
  /** null for throwback tracks. */
  readonly addedBy: string | null;
  readonly addedAt: number;
  /** The relay's add counter: breaks ties between tracks added in the same millisecond. */
  readonly addIndex: number;
  /** Fixed when added (roundForNewTrack); 0 for throwback tracks. */
  readonly round: number;
  readonly votes: Readonly<Record<string, 1 | -1>>;
  readonly jams: readonly string[];
  readonly throwback: boolean;
}

export function scoreOf(entry: Pick<OrderedEntry, 'votes' | 'jams'>): number {
  let score = entry.jams.length;
  for (const vote of Object.values(entry.votes)) score += vote;
  return score;
}

function byAddOrder(a: OrderedEntry, b: OrderedEntry): number {
  return a.addedAt - b.addedAt || a.addIndex - b.addIndex;
}

/**
 * The round a member's new track goes into: after the member's last track (played in
 * the current round or still waiting), and never before the round now playing, so a
 * newcomer joins the current round and nobody can take two turns in one.
 */
export function roundForNewTrack(pending: readonly OrderedEntry[], adder: string, lastPlayedRound: number, currentRound: number): number {
  let last = lastPlayedRound;
  for (const entry of pending) if (entry.addedBy === adder) last = Math.max(last, entry.round);
  return Math.max(last + 1, currentRound, 1);
}

/** The pending entries in the order they will play. Pure: returns a new array. */
export function fairOrder<E extends OrderedEntry>(entries: readonly E[]): E[] {
  const filler = (e: E) => (e.throwback || e.addedBy === null ? 1 : 0);
  return [...entries].sort((a, b) => filler(a) - filler(b) || a.round - b.round || scoreOf(b) - scoreOf(a) || byAddOrder(a, b));
}
