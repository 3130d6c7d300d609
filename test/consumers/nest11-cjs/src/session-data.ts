// Declaration merging as the library documents it: from here on `session.userId` is a number
// everywhere in the app. The import makes this file a module, so the block below augments the
// library's interface instead of declaring a new ambient module that would shadow it.
import 'nestjs-redis-sessions';

declare module 'nestjs-redis-sessions' {
  interface SessionData {
    userId?: number;
  }
}
