/**
 * The mixer kinds, by name: each kind's file registers its factory once (`registerMixer`), so a new
 * kind is a new file and no shared list changes. Families use the factory they import; the registry
 * names the kinds (errors, docs) and refuses two kinds of one name.
 */
import type { MixerFactory } from "./mixer.js";

const KINDS = new Map<string, MixerFactory<never>>();

export function registerMixer<D>(factory: MixerFactory<D>): MixerFactory<D> {
  if (KINDS.has(factory.kind)) throw new Error(`mixer kind '${factory.kind}' is registered twice`);
  KINDS.set(factory.kind, factory as MixerFactory<never>);
  return factory;
}

/** The registered kinds' names (those whose files were imported). */
export function mixerKinds(): string[] {
  return [...KINDS.keys()];
}
