// GET /admin/v1/posture (viewer): every bot's security posture, 0-100, with
// each check's verdict, its explanation in Korean and English, and the
// recommendations ranked by impact; ?bot=ID for one bot (404 when unknown).
import type { AdminRoute } from '../common/admin-route.js';
import { GuardError } from '../common/errors.js';
import { postureReport, type PostureSources } from './posture-gather.js';

export const POSTURE_PATH = '/admin/v1/posture';

export function postureRoutes(src: PostureSources): AdminRoute[] {
  return [
    {
      method: 'GET',
      path: POSTURE_PATH,
      role: 'viewer',
      handler: async ({ query }) => {
        const bot = query.get('bot');
        if (bot !== null && !/^[A-Za-z0-9_.:-]{1,128}$/.test(bot)) throw new GuardError('KG3016', 'bot must be a bot id');
        return { body: await postureReport(src, bot ?? undefined) };
      },
    },
  ];
}
