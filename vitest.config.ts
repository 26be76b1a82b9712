import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // The browser tests run last and alone: a viewer rendering in software competes for the two cores.
    projects: [
      { extends: true, test: { name: 'archive', include: ['test/**/*.test.ts'], exclude: ['test/clients/**'], sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: 'clients', include: ['test/clients/**/*.test.ts'], sequence: { groupOrder: 1 } } },
    ],
  },
});
