import 'nestjs-redis-sessions';

// Declaration merging types the sample's session keys (see the library README, "Typing the session").
declare module 'nestjs-redis-sessions' {
  interface SessionData {
    /** Set at login, last (after regenerate): its presence is what "logged in" means. */
    user?: { name: string; bio?: string; loggedInAt: string };
    /** The browser this session was signed in from, for the "Your devices" page. */
    device?: { userAgent: string; signedInAt: string };
    /** Home page visits (and GET /api/counter calls) in this session. */
    visits?: number;
  }
}
