import { touchSlackMs } from './session-meta.js';

/** Most sessions the tracker remembers; past it the oldest entry goes (it just slides once more). */
const MAX_ENTRIES = 100_000;

interface Slide {
  /** `performance.now()` until which reads may skip the slide. */
  until: number;
  /** The idle timeout (ms) the window was computed for. */
  timeoutMs: number;
}

/**
 * `touch_interval`: which sessions this process slid recently, so that their next reads can be
 * a plain HGETALL. Each slide adds the same interval to the TTL in Redis (the scripts cap it the
 * same way), so a read that skips the slide still finds at least `timeout` ahead of it. Windows
 * run on the monotonic clock and start when the sliding command was sent, never when its answer
 * came back. Per process: another process slides on its own first read.
 * @internal
 */
export class TouchTracker {
  private readonly slides = new Map<string, Slide>();

  constructor(private readonly intervalMs: number) {}

  /** Whether this process slid the session's TTL within its window. */
  recent(id: string): boolean {
    if (this.intervalMs === 0) return false;
    const slide = this.slides.get(id);
    if (slide === undefined) return false;
    if (performance.now() < slide.until) return true;
    this.slides.delete(id);
    return false;
  }

  /** A slide of the session's TTL, sent at `sentAt`, for a session with this idle timeout. */
  slid(id: string, sentAt: number, timeoutMs: number): void {
    const slack = touchSlackMs(this.intervalMs, timeoutMs);
    if (slack <= 0) return;
    // Re-inserted, so the Map's order stays oldest first.
    if (!this.slides.delete(id) && this.slides.size >= MAX_ENTRIES) {
      this.slides.delete(this.slides.keys().next().value as string);
    }
    this.slides.set(id, { until: sentAt + slack, timeoutMs });
  }

  /**
   * Whether the window still holds for a session read without a slide: not if its timeout
   * changed since (`adjustTimeout` in another process), since the slack in Redis is then not
   * the one the window was computed for.
   */
  holds(id: string, timeoutMs: number): boolean {
    return this.slides.get(id)?.timeoutMs === timeoutMs;
  }

  forget(id: string): void {
    this.slides.delete(id);
  }
}
