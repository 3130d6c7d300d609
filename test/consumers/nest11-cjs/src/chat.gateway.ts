import type { IncomingMessage } from 'node:http';
import { OnGatewayConnection, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { Session, SessionService, type SessionData } from 'nestjs-redis-sessions';

/** The README's WebSocket recipe on the ws adapter: no @UseSession(), the interceptor is global. */
@WebSocketGateway()
export class ChatGateway implements OnGatewayConnection {
  constructor(private readonly sessions: SessionService) {}

  handleConnection(client: object, request: IncomingMessage) {
    this.sessions.bindSocket(client, request);
  }

  @SubscribeMessage('count')
  count(@Session() session: SessionData) {
    const bag = session as Record<string, unknown>;
    bag.count = ((bag.count as number | undefined) ?? 0) + 1;
    return { event: 'count', data: { count: bag.count, userId: session.userId ?? null } };
  }
}
