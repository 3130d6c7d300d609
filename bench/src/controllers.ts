import {
  Controller,
  Get,
  Inject,
  Injectable,
  Param,
  Req,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import type { Redis } from 'ioredis';
import { Session } from 'nestjs-redis-sessions';

type Bag = Record<string, unknown>;

/** 208 bytes of JSON, the same user object the peers' baseline stored. */
export const USER = {
  id: 'usr_01HZX3K9Q7W2M4N6P8R0T2V4X6',
  email: 'jane.doe@example.com',
  name: 'Jane Doe',
  roles: ['admin', 'editor', 'viewer'],
  tenant: 'tenant_acme_eu_west_1',
  locale: 'en-GB',
  flags: { mfa: true, beta: false },
};

// One body per route, shared by every variant, so only the session layer differs.
const read = (s: Bag) => ({ counter: (s.counter as number | undefined) ?? 0 });
const write = (s: Bag) => {
  s.counter = ((s.counter as number | undefined) ?? 0) + 1;
  return { counter: s.counter };
};
const login = (s: Bag) => {
  s.user = USER;
  return { ok: true };
};
// Each concurrent writer owns one key: what a hash with per-key deltas should never lose.
const writeKey = (s: Bag, n: string) => {
  const key = `k${n}`;
  s[key] = ((s[key] as number | undefined) ?? 0) + 1;
  return { ok: true };
};

@Controller()
export class BareController {
  @Get('none') none() {
    return { ok: true };
  }
  @Get('read') read() {
    return read({});
  }
  @Get('write') write() {
    return write({});
  }
  @Get('login') login() {
    return login({});
  }
  @Get('write/:n') writeKey(@Param('n') n: string) {
    return writeKey({}, n);
  }
}

/** express-session and @fastify/session both hang the session on the request. */
@Controller()
export class PeerController {
  @Get('none') none() {
    return { ok: true };
  }
  @Get('read') read(@Req() req: { session: Bag }) {
    return read(req.session);
  }
  @Get('write') write(@Req() req: { session: Bag }) {
    return write(req.session);
  }
  @Get('login') login(@Req() req: { session: Bag }) {
    return login(req.session);
  }
  @Get('write/:n') writeKey(@Param('n') n: string, @Req() req: { session: Bag }) {
    return writeKey(req.session, n);
  }
}

@Controller()
export class LibController {
  @Get('none') none() {
    return { ok: true };
  }
  @Get('read') read(@Session() s: Bag) {
    return read(s);
  }
  @Get('write') write(@Session() s: Bag) {
    return write(s);
  }
  @Get('login') login(@Session() s: Bag) {
    return login(s);
  }
  @Get('write/:n') writeKey(@Param('n') n: string, @Session() s: Bag) {
    return writeKey(s, n);
  }
}

/** Injection token of the floor variant's client. */
export const FLOOR_REDIS = 'FLOOR_REDIS';

/**
 * The round trips of a session alone, as plain ioredis commands and no session code: /read is
 * one HGETALL, /write an HGETALL then an HSET, /login one HSET. With a no-op global interceptor
 * in front (the `floor-*` variants) it is the least any design with a global interceptor costs.
 * /seed stores what a logged-in session holds (a creation time and the user), so /read and
 * /write move the same bytes as the session variants; the driver calls it where they log in.
 */
@Controller()
export class FloorController {
  constructor(@Inject(FLOOR_REDIS) private readonly redis: Redis) {}

  @Get('none') none() {
    return { ok: true };
  }
  @Get('read') async read() {
    const fields = await this.redis.hgetall('floor');
    return read({ counter: fields.counter === undefined ? undefined : Number(fields.counter) });
  }
  @Get('write') async write() {
    const fields = await this.redis.hgetall('floor');
    const s: Bag = { counter: fields.counter === undefined ? undefined : Number(fields.counter) };
    const body = write(s);
    await this.redis.hset('floor', 'counter', String(s.counter));
    return body;
  }
  @Get('seed') async seed() {
    await this.redis.hset('floor', '$c', String(Date.now()), 'user', JSON.stringify(USER));
    return { ok: true };
  }
  @Get('login') async login() {
    const s: Bag = {};
    const body = login(s);
    await this.redis.hset(`floor:${Math.random()}`, 'user', JSON.stringify(s.user));
    return body;
  }
}

/** A global interceptor that does nothing: what Nest's interceptor pipeline costs by itself. */
@Injectable()
export class NoopInterceptor implements NestInterceptor {
  intercept(_context: ExecutionContext, next: CallHandler) {
    return next.handle();
  }
}
