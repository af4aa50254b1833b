// The start-up message on a terminal: where Cascade listens, where its docs and dashboard
// are, and pages to try. Not a TTY (systemd, containers, pipes): the JSON log lines instead.
import type { CascadeConfig } from '../config/index.ts';

export interface StartupInfo {
  url: string;
  version: string;
  config: CascadeConfig;
  rules: string[];
  /** Page titles (db keys) of the default domain to suggest. */
  examples: string[];
  wikiUrl?: string;
}

export function startupMessage(i: StartupInfo): string {
  const { url, config } = i;
  const d = config.default_domain;
  const pad = (k: string) => `  ${k.padEnd(13)}`;
  const lines = [
    '',
    `Cascade ${i.version} is running`,
    '',
    `${pad('listening')}${url}`,
    `${pad('home')}${url}/`,
    ...Object.keys(config.domains).map((name) => `${pad(name === Object.keys(config.domains)[0] ? 'API docs' : '')}${url}/${name}/v1/`),
    `${pad('dashboard')}${url}/_dashboard`,
    `${pad('metrics')}${url}/metrics`,
  ];
  if (i.wikiUrl) lines.push(`${pad('example wiki')}${i.wikiUrl}  (edit its pages; Cascade re-renders them)`);
  lines.push(`${pad('storage')}${config.storage.backend}, event log ${(config.events.log as { backend: string }).backend}, data in ${config.data_dir}`);
  lines.push(`${pad('rules')}${i.rules.length ? i.rules.join(', ') : 'change propagation off'}`);
  if (i.examples.length) {
    lines.push('', '  Try:');
    const t = (k: string) => encodeURIComponent(k.replace(/ /g, '_'));
    const [first, ...rest] = i.examples;
    lines.push(`    curl ${url}/${d}/v1/page/html/${t(first)}`);
    lines.push(`    curl ${url}/${d}/v1/page/summary/${t(rest[0] ?? first)}`);
    for (const k of rest.slice(1, 3)) lines.push(`    ${url}/${d}/v1/page/html/${t(k)}`);
  }
  lines.push('', '  Ctrl-C stops Cascade.', '');
  return lines.join('\n');
}
