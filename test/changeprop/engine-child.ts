// Child process for the SIGKILL test: runs the engine on a SQLite log until killed.
// argv: <log path> <rules yaml> <allowed host>
import { openEventLog } from '../../src/events/log/index.ts';
import { ChangePropEngine } from '../../src/changeprop/engine.ts';
import { rulesFromYaml } from '../../src/changeprop/rule.ts';

const [path, yaml, host] = process.argv.slice(2);
const log = await openEventLog({ backend: 'sqlite', path, synchronous: 'normal' });
const engine = new ChangePropEngine({ log, rules: rulesFromYaml(yaml), datacenter: 'dc1', domains: ['example.wiki'], signingKey: 'engine-child-signing-key-0123456789', allowedHosts: [host] });
await engine.start();
process.send?.('started');
process.on('SIGTERM', () => {
  void engine.stop().then(() => log.close()).then(() => process.exit(0));
});
