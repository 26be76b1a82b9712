// A few values kept by key, the least recently used dropped first: index records that take long to parse
// (a whole-slide image's frame layout) are parsed once for the many tile requests that follow.
export class RecentlyUsed<V> {
  private readonly values = new Map<string, V>();

  constructor(private readonly capacity: number) {}

  async get(key: string, load: () => V | Promise<V>): Promise<V> {
    let value = this.values.get(key);
    if (value !== undefined) this.values.delete(key);
    else value = await load();
    this.values.set(key, value); // most recently used last
    if (this.values.size > this.capacity) this.values.delete(this.values.keys().next().value!);
    return value;
  }
}
