/**
 * Quadrature decoding for a rotary encoder by state table: each valid Gray-code step
 * of the two pins (A, B) counts +1 or -1, impossible jumps and bounce back and forth
 * count nothing net. A detent is `stepsPerDetent` steps (4 on the common detented
 * encoders, which rest with both pins high); at rest the count resynchronises.
 */
// Indexed by (previous state << 2) | new state, a state being (A << 1) | B.
const STEP = [0, 1, -1, 0, -1, 0, 0, 1, 1, 0, 0, -1, 0, -1, 1, 0] as const;
const REST = 0b11;

export class RotaryDecoder {
  private state: number;
  private count = 0;

  constructor(
    initialA: 0 | 1,
    initialB: 0 | 1,
    private readonly stepsPerDetent: 1 | 2 | 4 = 4,
  ) {
    this.state = (initialA << 1) | initialB;
  }

  /** Feeds the pins' current levels; returns the detents turned (+1 clockwise, -1 anticlockwise, 0 none). */
  update(a: 0 | 1, b: 0 | 1): -1 | 0 | 1 {
    const next = (a << 1) | b;
    this.count += STEP[(this.state << 2) | next]!;
    this.state = next;
    let detent: -1 | 0 | 1 = 0;
    if (Math.abs(this.count) >= this.stepsPerDetent) {
      detent = this.count > 0 ? 1 : -1;
      this.count -= detent * this.stepsPerDetent;
    }
    if (this.stepsPerDetent === 4 && next === REST) this.count = 0;
    return detent;
  }
}
