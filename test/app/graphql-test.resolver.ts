import { ForbiddenException, UseGuards, type CanActivate } from '@nestjs/common';
import { Args, Context, Mutation, Query, ResolveField, Resolver } from '@nestjs/graphql';
import { CsrfGuard, Session, SessionService, type SessionData } from '../../src/index.js';

/** Schema-first, so the app boots with no schema file written anywhere. */
export const GRAPHQL_TEST_TYPE_DEFS = /* GraphQL */ `
  type SessionView {
    id: String!
    isNew: Boolean!
    n: Int
    "From a field resolver, which Nest runs without interceptors or guards."
    seenByField: Int
  }

  type Query {
    counter: Int
    view: SessionView!
    csrfToken: String!
    loadedCounter: Int
    whoami: String
  }

  type Mutation {
    increment: Int!
    setA(value: String!): String!
    setB(value: String!): String!
    guardedIncrement: Int!
    loadIncrement: Int!
    login(user: String!): String!
    guardedLogin(user: String!): String!
    refused: Int
  }
`;

/** An application's own guard that refuses, as an authorization check would. */
class RefuseGuard implements CanActivate {
  canActivate(): boolean {
    throw new ForbiddenException('refused by the app');
  }
}

/** What both GraphQL drivers put in the context: Apollo `{ req }`, Mercurius `{ req, reply, app }`. */
export interface GraphqlTestContext {
  req: object;
}

/** Resolvers the GraphQL spec drives, each doing what an application resolver would. */
@Resolver()
export class GraphqlTestResolver {
  constructor(private readonly sessions: SessionService) {}

  @Query('counter')
  counter(@Session() session: SessionData) {
    return (session.n as number | undefined) ?? null;
  }

  @Query('view')
  view(@Session() session: SessionData) {
    return {
      id: this.sessions.getId(session),
      isNew: this.sessions.isNew(session),
      n: (session.n as number | undefined) ?? null,
    };
  }

  @Query('csrfToken')
  csrfToken(@Session() session: SessionData) {
    return this.sessions.getCsrfToken(session);
  }

  /** No `@Session()`: the resolver loads the session itself from the context's request. */
  @Query('loadedCounter')
  async loadedCounter(@Context() context: GraphqlTestContext) {
    const session = await this.sessions.load(context.req);
    return (session.n as number | undefined) ?? null;
  }

  @Mutation('increment')
  increment(@Session() session: SessionData) {
    session.n = ((session.n as number | undefined) ?? 0) + 1;
    return session.n;
  }

  @Mutation('setA')
  setA(@Session() session: SessionData, @Args('value') value: string) {
    session.a = value;
    return value;
  }

  @Mutation('setB')
  setB(@Session() session: SessionData, @Args('value') value: string) {
    session.b = value;
    return value;
  }

  @Mutation('guardedIncrement')
  @UseGuards(CsrfGuard)
  guardedIncrement(@Session() session: SessionData) {
    session.n = ((session.n as number | undefined) ?? 0) + 1;
    return session.n;
  }

  @Query('whoami')
  whoami(@Session() session: SessionData) {
    const user = this.sessions.getUser(session);
    return user === undefined ? null : String(user);
  }

  @Mutation('login')
  login(@Session() session: SessionData, @Args('user') user: string) {
    this.sessions.login(session, user);
    return user;
  }

  @Mutation('guardedLogin')
  @UseGuards(CsrfGuard)
  guardedLogin(@Session() session: SessionData, @Args('user') user: string) {
    this.sessions.login(session, user);
    return user;
  }

  @Mutation('refused')
  @UseGuards(RefuseGuard)
  refused(@Session() session: SessionData) {
    session.n = -1;
    return -1;
  }

  @Mutation('loadIncrement')
  async loadIncrement(@Context() context: GraphqlTestContext) {
    const session = await this.sessions.load(context.req);
    session.n = ((session.n as number | undefined) ?? 0) + 1;
    return session.n;
  }
}

/** A field resolver taking `@Session()`: Nest runs field resolvers without interceptors. */
@Resolver('SessionView')
export class SessionViewResolver {
  @ResolveField('seenByField')
  seenByField(@Session() session: SessionData) {
    return (session.n as number | undefined) ?? null;
  }
}
