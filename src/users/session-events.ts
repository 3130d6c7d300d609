import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';

/** The events a session goes through. @publicApi */
export type SessionEventType =
  'session.created' | 'session.regenerated' | 'session.destroyed' | 'session.expired';

/**
 * The event names, for `@OnEvent(SESSION_EVENTS.destroyed)` and `event.type` checks without
 * spelling the strings out.
 * @publicApi
 */
export const SESSION_EVENTS = {
  created: 'session.created',
  regenerated: 'session.regenerated',
  destroyed: 'session.destroyed',
  expired: 'session.expired',
} as const satisfies Record<string, SessionEventType>;

/**
 * What a listener receives: the event, the session's handle (safe to log or show, never the id)
 * and the user it was bound to, if any.
 * @publicApi
 */
export interface SessionEvent {
  type: SessionEventType;
  /** The session's handle, as `userSessions` lists it (after a regenerate: the new one). */
  handle: string;
  userId?: string | number;
  /** `session.regenerated` only: the handle the session had before, now ended. */
  previousHandle?: string;
}

/**
 * A function `SessionService.onEvent` calls for every event. What it returns is ignored, except
 * that a promise which rejects is logged (so `(e) => list.push(e)` and async listeners both fit).
 * @publicApi
 */
export type SessionEventListener = (event: SessionEvent) => unknown;

type Emitter = { emit(event: string, payload: unknown): unknown };

/**
 * Delivers session events to `onEvent` listeners and, when the application has
 * @nestjs/event-emitter (an optional peer), through its EventEmitter2 too. A listener that
 * throws (or rejects) is logged and never breaks the request.
 * @internal
 */
@Injectable()
export class SessionEvents implements OnModuleInit {
  private readonly logger = new Logger('RedisSession');
  private readonly listeners = new Set<SessionEventListener>();
  private emitter: Emitter | undefined;

  constructor(private readonly moduleRef: ModuleRef) {}

  async onModuleInit(): Promise<void> {
    try {
      const { EventEmitter2 } = (await import('@nestjs/event-emitter')) as {
        EventEmitter2: abstract new (...args: never[]) => Emitter;
      };
      this.emitter = this.moduleRef.get(EventEmitter2, { strict: false });
    } catch {
      // The app does not use @nestjs/event-emitter: listeners of onEvent still hear everything.
      this.emitter = undefined;
    }
  }

  /** Registers a listener; returns the function that removes it. */
  on(listener: SessionEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Whether anyone listens: events are not even built otherwise. */
  get wanted(): boolean {
    return this.listeners.size > 0 || this.emitter !== undefined;
  }

  emit(event: SessionEvent): void {
    for (const listener of this.listeners) {
      try {
        const result = listener(event) as Promise<unknown> | undefined;
        if (result && typeof result.catch === 'function')
          result.catch((error: unknown) => this.failed(event, error));
      } catch (error) {
        this.failed(event, error);
      }
    }
    try {
      this.emitter?.emit(event.type, event);
    } catch (error) {
      this.failed(event, error);
    }
  }

  private failed(event: SessionEvent, error: unknown): void {
    this.logger.error(
      `A ${event.type} listener failed: ${(error as Error)?.message ?? String(error)}`,
    );
  }
}
