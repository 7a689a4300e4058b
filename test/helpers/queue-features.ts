import type express from 'express';
import type { FeatureComposition, RelayContext } from '../../cloud/feature.js';
import { throwbackSource } from '../../cloud/history/history-feature.js';
import { HistoryQueries } from '../../cloud/history/queries.js';
import { QueueFeature, type QueueFeatureOptions } from '../../cloud/queue/queue-feature.js';
import { CrewPagesFeature, type CrewPagesOptions } from '../../cloud/web/crew-pages-feature.js';

export interface QueueWithCrewPagesOptions extends QueueFeatureOptions, Pick<CrewPagesOptions, 'spotifyApp'> {
  /** Routes behind the member link (/crew/api), built with the relay's context. */
  readonly memberApi?: (context: RelayContext) => express.Router;
}

/**
 * The queue feature and the crew pages on it, wired as cloud/compose.ts wires them but without
 * the other features: throwback reads the crew's shares through history's queries (unless the
 * test passes its own), and the pages share the queue's clock.
 */
export function buildQueueWithCrewPages(context: RelayContext, options: QueueWithCrewPagesOptions = {}): { queue: QueueFeature; crewPages: CrewPagesFeature } {
  const { memberApi, spotifyApp, ...queueOptions } = options;
  const queue = new QueueFeature(context, { throwback: throwbackSource(new HistoryQueries(context.store)), ...queueOptions });
  return { queue, crewPages: new CrewPagesFeature(context, { queue, now: options.now, memberApi: memberApi?.(context), spotifyApp }) };
}

/** buildQueueWithCrewPages as a relay's features (startInProcessRelay's `features`). */
export function queueWithCrewPages(options: QueueWithCrewPagesOptions = {}): FeatureComposition {
  return (context) => {
    const { queue, crewPages } = buildQueueWithCrewPages(context, options);
    return [queue, crewPages];
  };
}
