import { Injectable } from '@nestjs/common';

/**
 * Lets a spec hold a request between its load and its commit, so races are played out in a
 * chosen order instead of hoped for with timers.
 */
@Injectable()
export class Latches {
  private readonly gates = new Map<
    string,
    { opened: Promise<void>; open: () => void; reached: Promise<void>; arrive: () => void }
  >();

  private gate(name: string) {
    let gate = this.gates.get(name);
    if (!gate) {
      let open!: () => void;
      let arrive!: () => void;
      const opened = new Promise<void>((resolve) => (open = resolve));
      const reached = new Promise<void>((resolve) => (arrive = resolve));
      gate = { opened, open, reached, arrive };
      this.gates.set(name, gate);
    }
    return gate;
  }

  /** Called by a handler: says it got here, then waits until the spec opens the gate. */
  async wait(name: string): Promise<void> {
    const gate = this.gate(name);
    gate.arrive();
    await gate.opened;
  }

  /** Resolves once a handler is waiting at the gate. */
  reached(name: string): Promise<void> {
    return this.gate(name).reached;
  }

  /** Lets the waiting handler go on; the name can then be used again. */
  open(name: string): void {
    this.gate(name).open();
    this.gates.delete(name);
  }
}
