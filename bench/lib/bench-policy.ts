// The policy the benchmarks run the sidecar with.
// Everything stock calls need, nothing that needs market data (one call = one broker token),
// and no rate-limit rule: the bench measures the proxy, not the policy's throttle.
export const BENCH_POLICY = `version: 1
name: bench-open
rules:
  - id: least-privilege
    type: allow-apis
    kinds: [query, account, order, modify, cancel]
  - id: plain-order-types
    type: trade-types
    allow: [limit, market, best]
  - id: order-size
    type: order-size
    maxQuantity: 100000
    maxNotional: 1000000000
`;
