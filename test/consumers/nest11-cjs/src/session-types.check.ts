// Compiled only by `tsc --noEmit`: each @ts-expect-error fails the check if the line compiles,
// so the augmentation must really have merged into the library's SessionData.
import type { SessionData } from 'nestjs-redis-sessions';
import './session-data';

export function typedAccess(session: SessionData): number | undefined {
  session.userId = 1;
  // @ts-expect-error userId is declared a number
  session.userId = 'one';
  // @ts-expect-error keys nobody declared are unknown, not any
  const name: string = session.name;
  void name;
  return session.userId;
}
