import { z } from 'zod';

/**
 * The bricks of the device config schema (device/config.ts): every property is a zod schema
 * with its default (`.default`) and its documentation (`.meta`), so the type, the validator,
 * the defaults and device/device.schema.json all come from one definition.
 */

/** A documented setting: title, description and examples go into device.schema.json. */
export function setting<T extends z.ZodType>(schema: T, title: string, description: string, examples: readonly unknown[]): T {
  return schema.meta({ title, description, examples: [...examples] });
}

/**
 * A block of settings (a strict object: an unknown key is refused, not ignored). Absent, it
 * is every inner default, computed from the inner schema rather than written a second time.
 */
export function section<S extends z.core.$ZodLooseShape>(
  title: string,
  description: string,
  shape: S,
  refine?: (block: z.output<z.ZodObject<S, z.core.$strict>>, ctx: z.core.$RefinementCtx<z.output<z.ZodObject<S, z.core.$strict>>>) => void,
) {
  const strict = z.strictObject(shape);
  const block = refine ? strict.superRefine(refine) : strict;
  const defaults = () => block.parse({});
  // The default is the output type, which the generic shape cannot prove of `parse`; it is what `parse({})` gives.
  return setting(block.default(defaults as never), title, description, [defaults()]);
}
