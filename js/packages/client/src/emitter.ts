/** A tiny typed event emitter: `on` returns the function that unsubscribes. */

/** Event name -> the arguments its listeners receive. */
export type EventMap = { [event: string]: unknown[] };

export type Listener<Args extends unknown[]> = (...args: Args) => void;

export class Emitter<Events extends EventMap> {
  // listeners of every event, stored untyped: `on` and `emit` keep each event's own types
  private readonly _listeners = new Map<keyof Events, Set<unknown>>();

  /** Subscribe to `event`; returns a function that unsubscribes. */
  on<E extends keyof Events>(event: E, listener: Listener<Events[E]>): () => void {
    let set = this._listeners.get(event);
    if (!set) this._listeners.set(event, (set = new Set()));
    set.add(listener);
    return () => this.off(event, listener);
  }

  off<E extends keyof Events>(event: E, listener: Listener<Events[E]>): void {
    const set = this._listeners.get(event);
    if (set) set.delete(listener);
  }

  emit<E extends keyof Events>(event: E, ...args: Events[E]): void {
    const set = this._listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as Listener<Events[E]>)(...args);
      } catch (err) {
        // a broken listener must not break the client; surface it asynchronously
        setTimeout(() => {
          throw err;
        });
      }
    }
  }
}
