// Child process for the poison-event test: change propagation as `cascade serve` starts it
// (from a cascade.yaml), on the config's log, until killed.
// argv: <cascade.yaml> <Cascade's own URL (relative exec URIs)>
import { readFileSync } from 'node:fs';
import { configFromYaml } from '../../src/config/index.ts';
import { openEventLog } from '../../src/events/log/index.ts';
import { startChangeprop } from '../../src/changeprop/service.ts';
import { changepropShared } from '../../src/config/shared.ts';

const [file, selfUrl] = process.argv.slice(2);
const config = configFromYaml(readFileSync(file, 'utf8'), file);
const log = await openEventLog(config.events.log, { baseDir: config.data_dir });
const cp = await startChangeprop(config.changeprop, changepropShared(config), { log, selfUrl });
process.send?.('started');
process.on('SIGTERM', () => {
  void cp.close().then(() => log.close()).then(() => process.exit(0));
});
