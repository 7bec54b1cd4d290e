// Before the bot has the answer to an order, modify or cancel the broker
// accepted, the policy learns its order number (daily caps charge a later
// modify against the order it names: policy/orders.ts). It is done here, not
// in an after-stage, because a bot may name the order in its next call as soon
// as it has the answer: an after-stage (behind the outcome's fsync) would lose
// that race and the modify would be charged as one of an order never seen.
// A failure only loses the record (the modify is then charged in full); the
// order went out, so the bot gets its answer either way.
import { returnedOk } from '../../kiwoom/protocol/index.js';
import type { RequestContext } from '../context.js';
import type { PipelineDeps } from './deps.js';
import type { Judged } from './need.js';
import { policyCall } from './policy.js';
import { answerOf, SMALL_ANSWER_BYTES } from './after/outcome.js';

const BOOK_KINDS = new Set(['order', 'modify', 'cancel']);

/** The order number of an order, modify or cancel the broker accepted (its answer read once), else undefined. */
export function acceptedOrderNo(j: Judged): string | undefined {
  const up = j.upstream;
  if (!BOOK_KINDS.has(j.entry.kind) || up?.status !== 200 || up.body.length >= SMALL_ANSWER_BYTES) return undefined;
  try {
    const a = answerOf(j as RequestContext);
    return returnedOk(a.return_code) && typeof a.ord_no === 'string' && /^[0-9]{1,10}$/.test(a.ord_no) ? a.ord_no : undefined;
  } catch {
    return undefined;
  }
}

/** Records the order `orderNo` (acceptedOrderNo: the broker accepted it) when the policy judges modifies by their orders. */
export async function recordOrder(deps: Pick<PipelineDeps, 'policy' | 'logger'>, j: Judged, orderNo: string | undefined): Promise<void> {
  if (orderNo === undefined || !deps.policy.recordsOrders() || j.decision.outcome === 'deny') return;
  await deps.policy
    .recordOrder(policyCall(j), j.decision, orderNo)
    .catch((err) => deps.logger.warn({ err: String(err), requestId: j.id }, 'order record failed'));
}
