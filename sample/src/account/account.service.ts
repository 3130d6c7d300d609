import { BadRequestException, Injectable } from '@nestjs/common';
import { SessionService, type SessionData } from 'nestjs-redis-sessions';

/** Longest name and bio the sample accepts, so a session stays small. */
export const MAX_NAME = 60;
export const MAX_BIO = 500;

/**
 * The session life cycle shared by the HTML pages and the JSON API: count a visit, log in (with
 * the library's `login`, which binds the session to the user), save the bio, log out. Input
 * problems are thrown as 400s with a message fit to show a person.
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

  /**
   * The account a name logs in to: the name, ignoring case, so "Jane" on a phone and "jane" on a
   * laptop are one user with two sessions (what "Your devices" lists). No password here: anyone
   * who types a name is that user.
   */
  userIdOf(name: string): string {
    return name.normalize('NFC').toLowerCase();
  }

  /** The user the session is logged in as, or `undefined` for a visitor. */
  loggedInUserId(session: SessionData): string | undefined {
    const userId = this.sessions.getUser(session);
    return session.user && userId !== undefined ? String(userId) : undefined;
  }

  logIn(session: SessionData, name: string): void {
    // One call: a new id (so an id planted before login, fixation, is worth nothing after it),
    // the binding to the user (the per-user index behind "Your devices", with this browser's
    // User-Agent and IP) and a new CSRF token; all of it is dropped if the request fails. Plain
    // keys may not be (a new session keeps them): `user` is what makes the pages say "logged
    // in", so it is assigned last, once nothing of the login can throw any more.
    this.sessions.login(session, this.userIdOf(name));
    this.sessions.flash(session, `Welcome, ${name}`);
    session.user = { name, loggedInAt: new Date().toISOString() };
  }

  /** Deletes the session (key and cookie); nothing of the user survives it. */
  logOut(session: SessionData): void {
    this.sessions.invalidate(session);
  }
}
