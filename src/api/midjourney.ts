// Wire contract of POST /v1/images/midjourney/{task_id}/actions: a follow-up on a finished
// Midjourney grid (upscale U1–U4, variation V1–V4, reroll) and the output fields a generation
// takes, and the fields a Midjourney model's generation accepts. The relay (relay/midjourney/) runs
// these; their names are defined here.
import { z } from 'zod';
import { generationSchema } from './generation.ts';
import { parseBody } from './issues.ts';

/** Request fields a Midjourney model takes (listed in /v1/models; the rest are refused by name). */
export const MJ_ACCEPTED_FIELDS = [
  'model',
  'prompt',
  'n',
  'size',
  'stream',
  'partial_images',
  'response_format',
  'output_format',
  'output_compression',
  'user',
] as const;

export const MJ_FOLLOW_UPS = ['U1', 'U2', 'U3', 'U4', 'V1', 'V2', 'V3', 'V4', 'reroll'] as const;
export type MjFollowUp = (typeof MJ_FOLLOW_UPS)[number];

const out = generationSchema.shape;
const followUpSchema = z.strictObject(
  {
    action: z.enum(MJ_FOLLOW_UPS, { error: `action must be one of ${MJ_FOLLOW_UPS.join(', ')}` }),
    // The output fields keep a generation's rules and messages.
    stream: out.stream,
    response_format: out.response_format,
    output_format: out.output_format,
    output_compression: out.output_compression,
    partial_images: out.partial_images,
    user: out.user,
  },
  { error: 'The request body must be a JSON object.' },
);

export const FOLLOW_UP_FIELDS = Object.keys(followUpSchema.shape);
export type FollowUpRequest = z.output<typeof followUpSchema>;

/** A follow-up's body, or a 400 naming its first bad field. */
export function checkFollowUpRequest(body: unknown): FollowUpRequest {
  return parseBody(followUpSchema, body, FOLLOW_UP_FIELDS);
}
