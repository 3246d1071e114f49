// SIGTERM (RELIABILITY row 31): every client gets a close frame with 1001,
// and the relay exits 0 within 5 s. lws alone would give them 1006.
//
// Runs against --relay; when --asan PATH is given (the puente-asan target),
// the same check runs against that binary too, so leaks and use-after-free
// on the shutdown path fail the test.

import { existsSync } from 'node:fs';

import {
  check,
  checkNoSanitizerReport,
  listener,
  need,
  options,
  run,
  startRelay,
  waitFor,
  withTimeout,
} from './relay.mjs';

const CLIENTS = 3;
const EXIT_WITHIN_MS = 5000;

async function shutdownOnce(WebSocket, relayPath, webRoot) {
  const relay = await startRelay({ relay: relayPath, webRoot, args: ['--tone'] });
  const clients = [];
  for (let i = 0; i < CLIENTS; i++) clients.push(await listener(WebSocket, relay.ws, 'floor'));
  await waitFor(() => clients.every((c) => c.tally.packets >= 5), 5000, 'audio on every client');

  const t0 = Date.now();
  relay.proc.kill('SIGTERM');
  const exit = await withTimeout(relay.exited, EXIT_WITHIN_MS, 'relay exit after SIGTERM');
  const exitMs = Date.now() - t0;
  const closes = await withTimeout(Promise.all(clients.map((c) => c.closed)), 2000, 'client close events');

  console.log(
    `${relayPath}: exit ${JSON.stringify(exit)} after ${exitMs} ms; client closes ` +
      closes.map((c) => `${c.code} "${c.reason}"`).join(', '),
  );
  closes.forEach((c, i) => check(c.code === 1001, `client ${i} close code ${c.code}, expected 1001`));
  checkNoSanitizerReport(relay);
  check(exit.code === 0 && exit.signal === null, `relay exit ${JSON.stringify(exit)}, expected code 0`);
}

run('shutdown', 60000, async () => {
  const argv = process.argv.slice(2);
  const i = argv.indexOf('--asan');
  const asan = i >= 0 ? argv.splice(i, 2)[1] : null;
  check(asan === null || (asan && existsSync(asan)), `--asan needs an existing binary (got ${asan})`);
  const opt = options(argv);
  const { WebSocket } = await need('ws');
  await shutdownOnce(WebSocket, opt.relay, opt.webRoot);
  if (asan) await shutdownOnce(WebSocket, asan, opt.webRoot);
});
