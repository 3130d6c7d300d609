import type { IncomingMessage } from 'node:http';
import {
  MessageBody,
  SubscribeMessage,
  WebSocketGateway,
  type OnGatewayConnection,
} from '@nestjs/websockets';
import { Session, SessionService, type SessionData } from '../../src/index.js';
import { Latches } from './latches.js';

/**
 * A gateway whose message handlers take `@Session()`, on socket.io or ws (whichever adapter the
 * app installs). Every handler answers `{ event, data }`, mostly with the session as it saw it,
 * so the spec can follow what each message read.
 */
@WebSocketGateway({ path: '/ws' })
export class SessionTestGateway implements OnGatewayConnection {
  /** Messages `write-held-same` received so far: each writes a key of its own. */
  private arrivals = 0;

  constructor(
    private readonly sessions: SessionService,
    private readonly latches: Latches,
  ) {}

  /** ws hands the upgrade request to this hook only: link it (socket.io keeps `client.request`). */
  handleConnection(client: object, request?: IncomingMessage) {
    if (request !== undefined) this.sessions.bindSocket(client, request);
  }

  @SubscribeMessage('ping')
  ping() {
    return { event: 'ping', data: 'pong' };
  }

  @SubscribeMessage('read')
  read(@Session() session: SessionData) {
    return { event: 'read', data: this.view(session) };
  }

  @SubscribeMessage('read-key')
  readKey(@Session('user') user: unknown) {
    return { event: 'read-key', data: { user: user ?? null } };
  }

  @SubscribeMessage('write')
  write(@Session() session: SessionData) {
    session.counter = ((session.counter as number | undefined) ?? 0) + 1;
    session.wrote = 'socket';
    return { event: 'write', data: this.view(session) };
  }

  /** Writes, then throws: the write is kept (cookie_on_exception) and the client told of the error. */
  @SubscribeMessage('throw-after-write')
  throwAfterWrite(@Session() session: SessionData) {
    session.thrown = ((session.thrown as number | undefined) ?? 0) + 1;
    throw new Error('handler failed after writing');
  }

  /** A login over a socket, which no cookie can follow: regenerate() throws. */
  @SubscribeMessage('login')
  login(@Session() session: SessionData) {
    this.sessions.login(session, 'mallory');
    session.loggedIn = true;
    return { event: 'login', data: this.view(session) };
  }

  /** Two `@Session` parameters in one handler: one session. */
  @SubscribeMessage('both')
  both(@Session() session: SessionData, @Session('user') user: unknown) {
    session.copied = user;
    return { event: 'both', data: this.view(session) };
  }

  /** Writes `key`, then waits at `gate`: the spec keeps several messages in flight at once. */
  @SubscribeMessage('write-held')
  async writeHeld(
    @Session() session: SessionData,
    @MessageBody() body: { key: string; gate: string },
  ) {
    session[body.key] = true;
    await this.latches.wait(body.gate);
    return { event: 'write-held', data: this.view(session) };
  }

  /**
   * The same arguments every time (a string payload, no ack), so only the order of arrival tells
   * the messages apart: the n-th writes `same<n>`, then waits at `<gate>:<n>`.
   */
  @SubscribeMessage('write-held-same')
  async writeHeldSame(@Session() session: SessionData, @MessageBody() gate: string) {
    const n = ++this.arrivals;
    session[`same${n}`] = true;
    await this.latches.wait(`${gate}:${n}`);
    return { event: 'write-held-same', data: this.view(session) };
  }

  private view(session: SessionData) {
    return {
      id: this.sessions.getId(session),
      isNew: this.sessions.isNew(session),
      data: { ...session },
    };
  }
}
