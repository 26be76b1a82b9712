// Runs inside a private network namespace (started by `unshare -n`): brings up its loopback, starts
// the given command (an emulator that listens on all addresses), and relays a Unix socket, which the
// test process outside can reach through the file system, to the emulator's TCP port. Nothing outside
// the namespace can reach the emulator over the network. Ends with its parent (stdin closes).
import { execFileSync, spawn } from 'node:child_process';
import net from 'node:net';

const [socketPath, port, ...command] = process.argv.slice(2).filter((a, i) => !(i === 2 && a === '--'));
execFileSync('ip', ['link', 'set', 'lo', 'up']);
const child = spawn(command[0], command.slice(1), { stdio: ['ignore', 'inherit', 'inherit'] });
child.on('exit', (code) => {
  console.error(`emulator exited with ${code}`);
  process.exit(1);
});

net
  .createServer((client) => {
    const upstream = net.connect(Number(port), '127.0.0.1');
    client.pipe(upstream).pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close);
    upstream.on('error', close);
  })
  .listen(socketPath, () => {
    const probe = () =>
      net
        .connect(Number(port), '127.0.0.1')
        .on('connect', function () {
          this.destroy();
          process.stdout.write('ready\n');
        })
        .on('error', () => setTimeout(probe, 100));
    probe();
  });

const stop = () => {
  child.kill('SIGKILL');
  process.exit(0);
};
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
