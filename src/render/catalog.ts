// The models this server offers, whichever renderer serves them: the local registry's folders and
// the Midjourney upstreams' model ids (which hide a local folder of the same name), as the wire's
// ModelObjects and as the ids /ready lists.
import type { ModelObject } from '../api/models.ts';
import { errors } from '../errors.ts';
import { describeModel } from '../models/describe.ts';
import type { ModelRegistry } from '../models/registry.ts';
import { type RelayConfig, upstreamForModel } from '../relay/midjourney/config.ts';
import { describeRelayModel } from './midjourney.ts';

export interface ModelCatalog {
  /** Every model, local ones first (a relayed id hides a local folder of that name). */
  list(): ModelObject[];
  /** One model by id or alias (404 unknown). */
  get(id: string): ModelObject;
  /** The ids of the models that can run now. */
  usable(): string[];
}

export function createModelCatalog(models: ModelRegistry, relay: RelayConfig | undefined): ModelCatalog {
  const startedAt = Math.floor(Date.now() / 1000);
  const relayed = (id: string) => (relay ? upstreamForModel(relay, id) : undefined);
  return {
    list: () => [
      ...models
        .list()
        .filter((m) => !relayed(m.id))
        .map((m) => describeModel(m, models.state(m.id), models.reason?.(m.id) ?? m.reason)),
      ...(relay?.upstreams ?? []).flatMap((u) => u.models.map((id) => describeRelayModel(u, id, startedAt))),
    ],
    get(id) {
      const upstream = relayed(id);
      if (upstream) return describeRelayModel(upstream, id, startedAt);
      const entry = models.get(id);
      if (!entry) throw errors.modelNotFound(id);
      return describeModel(entry, models.state(entry.id), models.reason?.(entry.id) ?? entry.reason);
    },
    usable: () => [
      ...models
        .list()
        .filter((m) => m.info !== null)
        .map((m) => m.id),
      ...(relay?.upstreams.flatMap((u) => u.models) ?? []),
    ],
  };
}
