// Child process of migrate.test.ts: opens the file, prints "ready", waits for a line on stdin,
// then migrates and prints the result as JSON.
import { once } from 'node:events';
import { openSqlite, migrate } from '../../src/sqlite/index.ts';
import { concurrencySteps } from './migrate-steps.ts';

const [path, who] = process.argv.slice(2);
const db = openSqlite(path);
process.stdout.write('ready\n');
await once(process.stdin, 'data');
const r = migrate(db, concurrencySteps(who), { table: 'cascade_migrations' });
db.close();
process.stdout.write(JSON.stringify(r) + '\n');
process.exit(0);
