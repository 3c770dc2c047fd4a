import type { MasterStore } from '../master/store.js';
import type { OutboxSource } from './publisher.js';

/**
 * The publisher's view of the master DB (master/store.ts). MasterStore
 * already answers in deltas with a dense-or-throw read (commit order is
 * sequence order there: the outbox counter row is locked until commit), so
 * this is a rename, kept as its own file so the publisher never depends on
 * more of the master than these two queries.
 *
 * A MASTER_ERR_OUTBOX_GAP or a connection error from the store reaches the
 * publisher as an ordinary failure: reported through onError, retried with
 * backoff, nothing skipped.
 */
export type MasterOutbox = Pick<MasterStore, 'readOutbox' | 'maxOutboxSeq'>;

export function masterOutboxSource(store: MasterOutbox): OutboxSource {
  return {
    readOutbox: (afterSeq, limit) => store.readOutbox(afterSeq, limit),
    maxSeq: () => store.maxOutboxSeq(),
  };
}
