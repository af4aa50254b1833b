// What each capability takes besides its own section of cascade.yaml: the values shared between
// capabilities, named once here. app.ts, the CLI, ops and tests open capabilities with these
// (e.g. `openStore(config.storage, storeShared(config))`). Not re-exported by ./index.ts, which
// the capabilities themselves import.
import type { CascadeConfig } from './schema.ts';
import { bucketsOf } from '../storage/config.ts';
import type { StoreShared } from '../storage/index.ts';
import type { EventBusShared } from '../events/index.ts';
import type { InternalStreams } from '../events/producers.ts';
import { changepropStreams } from '../changeprop/config.ts';
import type { ChangepropShared } from '../changeprop/service.ts';
import { deriveAllRules } from '../resources/rules.ts';
import type { Clock } from '../util/clock.ts';

/** Streams the content API and declared resources produce themselves. */
const CONTENT_STREAMS = ['resource_change'];

/** The store: the data directory and every domain's buckets (declared resources' included). */
export function storeShared(config: Pick<CascadeConfig, 'data_dir' | 'domains'>, clock?: Clock): StoreShared {
  return { dataDir: config.data_dir, buckets: bucketsOf(config.domains), ...(clock ? { clock } : {}) };
}

/** Streams no HTTP producer may write without an `internal` rule: those the capabilities produce themselves. */
export function ownStreams(config: Pick<CascadeConfig, 'changeprop'>): InternalStreams {
  const cp = changepropStreams(config.changeprop);
  return { names: [...CONTENT_STREAMS, ...cp.names], prefixes: cp.prefixes };
}

/** The event bus: datacenter, data directory and the streams other capabilities own. */
export function eventBusShared(config: Pick<CascadeConfig, 'datacenter' | 'data_dir' | 'changeprop'>): EventBusShared {
  return { datacenter: config.datacenter, dataDir: config.data_dir, internal: ownStreams(config) };
}

/** Change propagation: datacenter, data directory, the domains' origins, the event streams and the rules derived from the declared resources. */
export function changepropShared(config: CascadeConfig): ChangepropShared {
  return {
    datacenter: config.datacenter,
    dataDir: config.data_dir,
    domains: config.domains,
    originTimeoutMs: config.content.origin.timeout_ms,
    eventStreams: Object.keys(config.events.streams),
    derived: deriveAllRules(config),
  };
}

