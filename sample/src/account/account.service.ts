import { BadRequestException, Injectable } from '@nestjs/common';
import { SessionService, type SessionData } from 'nestjs-redis-sessions';

/** Longest name and bio the sample accepts, so a session stays small. */
export const MAX_NAME = 60;
export const MAX_BIO = 500;

/**
 * The session life cycle shared by the HTML pages and the JSON API: count a visit, log in, save
 * the bio, log out. Input problems are thrown as 400s with a message fit to show a person.
 */
@Injectable()
export class AccountService {
  constructor(private readonly sessions: SessionService) {}

  countVisit(session: SessionData): number {
    session.visits = (session.visits ?? 0) + 1;
    return session.visits;
  }

  /** The trimmed name from a form or JSON body; any non-empty name logs in (no password here). */
  nameFrom(body: unknown): string {
    const raw = (body as { name?: unknown } | undefined)?.name;
    const name = typeof raw === 'string' ? raw.trim() : '';
    if (name === '') throw new BadRequestException('Please enter a name to log in.');
    if (name.length > MAX_NAME)
      throw new BadRequestException(`Names are limited to ${MAX_NAME} characters.`);
    return name;
  }

  bioFrom(body: unknown): string {
    const raw = (body as { bio?: unknown } | undefined)?.bio;
    const bio = typeof raw === 'string' ? raw.trim() : '';
    if (bio.length > MAX_BIO)
      throw new BadRequestException(`Your bio is limited to ${MAX_BIO} characters.`);
    return bio;
  }

  logIn(session: SessionData, name: string, userAgent: string | undefined): void {
    // A new id (and CSRF token) first, so that an id planted before login (fixation) is worth
    // nothing after it; the user is assigned last, once everything else about the login is set.
    this.sessions.regenerate(session);
    const now = new Date().toISOString();
    session.device = { userAgent: (userAgent ?? 'unknown browser').slice(0, 300), signedInAt: now };
    this.sessions.flash(session, `Welcome, ${name}`);
    session.user = { name, loggedInAt: now };
  }

  /** Deletes the session (key and cookie); nothing of the user survives it. */
  logOut(session: SessionData): void {
    this.sessions.invalidate(session);
  }
}
