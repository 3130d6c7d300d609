import 'nestjs-redis-sessions';

// Declaration merging types the sample's session keys (see the library README, "Typing the session").
declare module 'nestjs-redis-sessions' {
  interface SessionData {
    /**
     * Set at login, last (after `sessionService.login`, which binds the session to the user id):
     * its presence is what "logged in" means. Which browser, when and from where is metadata the
     * library keeps with the binding (`userSessions`), not a key of ours.
     */
    user?: { name: string; bio?: string; loggedInAt: string };
    /** Home page visits (and GET /api/counter calls) in this session. */
    visits?: number;
  }
}
