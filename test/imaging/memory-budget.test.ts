// The budget that keeps concurrent transcodes of large instances from adding up past the server's memory.
import { describe, expect, it } from 'vitest';
import { MemoryBudget } from '../../lambdas/imaging/memory-budget.js';

/** Work that records how many bytes were running beside it, and ends when told to. */
function tracker(budget: MemoryBudget) {
  let running = 0;
  let highest = 0;
  const started: string[] = [];
  const finish = new Map<string, () => void>();
  const run = (name: string, bytes: number) =>
    budget.run(bytes, async () => {
      running += Math.min(bytes, budget.totalBytes);
      highest = Math.max(highest, running);
      started.push(name);
      await new Promise<void>((r) => finish.set(name, r));
      running -= Math.min(bytes, budget.totalBytes);
      return name;
    });
  return { run, started, finish: (name: string) => finish.get(name)!(), highest: () => highest };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('MemoryBudget', () => {
  it('runs work side by side while it fits, then in arrival order as bytes come back', async () => {
    const t = tracker(new MemoryBudget(100));
    const done = [t.run('a', 60), t.run('b', 30), t.run('c', 50), t.run('d', 10)];
    await tick();
    // d would fit, but c came first: nothing overtakes waiting work.
    expect(t.started).toEqual(['a', 'b']);
    t.finish('a');
    await tick();
    expect(t.started).toEqual(['a', 'b', 'c', 'd']);
    t.finish('b');
    t.finish('c');
    t.finish('d');
    expect(await Promise.all(done)).toEqual(['a', 'b', 'c', 'd']);
    expect(t.highest()).toBeLessThanOrEqual(100);
  });

  it('runs work larger than the whole budget alone, and gives its bytes back when it fails', async () => {
    const budget = new MemoryBudget(100);
    const t = tracker(budget);
    const huge = t.run('huge', 500);
    const small = t.run('small', 1);
    await tick();
    expect(t.started).toEqual(['huge']);
    t.finish('huge');
    await huge;
    await tick();
    expect(t.started).toEqual(['huge', 'small']);
    t.finish('small');
    await small;
    await expect(budget.run(100, async () => Promise.reject(new Error('codec failed')))).rejects.toThrow('codec failed');
    expect(await budget.run(100, async () => 'fits again')).toBe('fits again');
  });
});
