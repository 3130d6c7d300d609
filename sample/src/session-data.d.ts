import 'nestjs-redis-sessions';

// Declaration merging types the sample's session keys (see the library README, "Typing the session").
declare module 'nestjs-redis-sessions' {
  interface SessionData {
    user?: { name: string; bio?: string; loggedInAt: string };
    visits?: number;
  }
}
