import { createHmac, type KeyObject } from 'node:crypto';
import type { SessionStore, SessionTouch } from './session-store.interface.js';

/** Marks a store id (a keyed hash); `~` never occurs in a session id, so the two cannot mix. */
const HASHED = '~';

/**
 * Hashed keys: the store sees a keyed hash of each session id instead of the id, so a key listing
 * (`SCAN`, a dump, `MONITOR`, a replica) reveals no usable session id (Rails' fix for
 * CVE-2019-16782). Wraps any store; ids that are already hashed (from `ids()` or the per-user
 * index) pass through unchanged, so administration works with what the store lists.
 * @internal
 */
export class HashedKeyStore implements SessionStore {
  constructor(
    readonly inner: SessionStore,
    private readonly key: KeyObject,
  ) {}

  /** The id the store keeps for a session id. */
  storeIdOf(id: string): string {
    if (id.startsWith(HASHED)) return id;
    return HASHED + createHmac('sha256', this.key).update(`key:${id}`).digest('base64url');
  }

  load(id: string, defaultTimeoutMs: number, touch?: SessionTouch) {
    return this.inner.load(this.storeIdOf(id), defaultTimeoutMs, touch);
  }

  create(
    id: string,
    fields: string[],
    defaultTimeoutMs: number,
    absoluteTimeoutMs?: number,
    slackMs?: number,
  ) {
    return this.inner.create(
      this.storeIdOf(id),
      fields,
      defaultTimeoutMs,
      absoluteTimeoutMs,
      slackMs,
    );
  }

  update(
    id: string,
    set: string[],
    remove: string[],
    defaultTimeoutMs: number,
    slackMs?: number,
    keepTtl?: boolean,
  ) {
    return this.inner.update(this.storeIdOf(id), set, remove, defaultTimeoutMs, slackMs, keepTtl);
  }

  destroy(id: string) {
    return this.inner.destroy(this.storeIdOf(id));
  }

  exists(id: string) {
    return this.inner.exists(this.storeIdOf(id));
  }

  ids() {
    return this.inner.ids();
  }

  get retire() {
    const { inner } = this;
    if (inner.retire === undefined) return undefined;
    // The forward marker names the successor's store id: the id itself is never written.
    return (id: string, successor: string, graceMs: number) =>
      inner.retire!(this.storeIdOf(id), this.storeIdOf(successor), graceMs);
  }

  get indexAdd() {
    const { inner } = this;
    if (inner.indexAdd === undefined) return undefined;
    return (user: string, id: string, expiresAt: number) =>
      inner.indexAdd!(user, this.storeIdOf(id), expiresAt);
  }

  get indexRemove() {
    const { inner } = this;
    if (inner.indexRemove === undefined) return undefined;
    return (user: string, ids: string[]) =>
      inner.indexRemove!(
        user,
        ids.map((id) => this.storeIdOf(id)),
      );
  }

  get indexList() {
    return this.inner.indexList?.bind(this.inner);
  }

  get ping() {
    return this.inner.ping?.bind(this.inner);
  }

  close(): Promise<void> {
    return this.inner.close?.() ?? Promise.resolve();
  }
}
