// The requests active on one connection, by id.

/**
 * Web servers send one request at a time on a connection (multiplexing is
 * rare), so that one lives in a field and a Map exists only for the others:
 * a Map that gains and loses a key with every request rehashes every few
 * requests (it showed in allocation profiles).
 */
export class RequestTable<T extends { readonly id: number }> {
  private first: T | undefined = undefined;
  private others: Map<number, T> | undefined = undefined;
  size = 0;

  get(id: number): T | undefined {
    const first = this.first;
    if (first !== undefined && first.id === id) return first;
    return this.others?.get(id);
  }

  has(id: number): boolean {
    return this.get(id) !== undefined;
  }

  /** Adds a request whose id is not in the table. */
  add(req: T): void {
    if (this.first === undefined) this.first = req;
    else (this.others ??= new Map()).set(req.id, req);
    this.size++;
  }

  delete(id: number): void {
    if (this.first !== undefined && this.first.id === id) this.first = undefined;
    else if (this.others === undefined || !this.others.delete(id)) return;
    this.size--;
  }

  /** A copy: the caller may end requests while it walks the list. */
  list(): T[] {
    const out: T[] = this.first === undefined ? [] : [this.first];
    if (this.others !== undefined) for (const req of this.others.values()) out.push(req);
    return out;
  }
}
