// Build step (`npm run build`, after tsc): writes the config and policy schema
// validators as precompiled code to dist/proxy/validators, so no process pays
// ajv's compilation at start (see common/validators.ts).
import { CONFIG_VALIDATOR } from '../common/config-schema.js';
import { writeValidators } from '../common/validators.js';
import { CASES_VALIDATOR, EXPLAIN_VALIDATOR } from '../policy/cases.js';
import { POLICY_VALIDATOR } from '../policy/load.js';

writeValidators([CONFIG_VALIDATOR, POLICY_VALIDATOR, CASES_VALIDATOR, EXPLAIN_VALIDATOR]);
